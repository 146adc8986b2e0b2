"""One story, many outlets: a wire story carried by several outlets is one fact, cited once with
the other outlets named beside it, and it takes one place in retrieval; different figures for
one thing stay a disagreement."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from test_cli import assert_ask_json_contract

from bot.cli import Context, main
from bot.discord_bot.messages import source_entry
from bot.render import render_answer
from retrieval.ingest.articles import make_article
from retrieval.service import NewsService
from retrieval.text.same_fact import fact_of, repeated, same_fact
from retrieval.types import Article

WIRE = (
    "A road bridge collapsed into the River Wyn in Marden on Sunday evening. Officials said "
    "nine people were killed and 30 were injured. Rescue teams pulled survivors from cars and "
    "a bus that fell into the water. The bridge, built in 1932, had been due for repairs next "
    "year. Police closed the roads around the site on Monday."
)
GAZETTE = make_article(
    title="Nine dead as Harlow Bridge collapses in Marden",
    text=WIRE,
    url="https://gazette.example/harlow-bridge",
    source="Marden Gazette",
    published_at="2024-03-04",
)
VALLEY = make_article(
    title="Bridge collapse in Marden kills nine",
    text=WIRE.replace("Officials said", "Local officials said").replace(
        "Rescue teams pulled", "Rescue teams from three counties pulled"
    ),
    url="https://wynvalley.example/bridge-collapse",
    source="Wyn Valley News",
    published_at="2024-03-04",
)
COURIER = make_article(
    title="Marden bridge disaster",
    text="MARDEN — "
    + WIRE.replace("Officials said nine", "Nine").replace("injured.", "injured, officials said.")
    + " The council will meet on Wednesday to discuss a replacement crossing.",
    url="https://courier.example/marden-bridge",
    source="The Courier",
    published_at="2024-03-05",
)
OTHERS = [
    make_article(
        title=f"{name} news",
        text=text,
        source="Elsewhere Post",
        published_at="2024-03-04",
    )
    for name, text in [
        (
            "Tram",
            "The Marden tram line to Eastfield opened on Sunday with four new stops. Passenger "
            "numbers rose by a fifth in the first week, the operator said.",
        ),
        (
            "Harbour",
            "A storm damaged the harbour wall in Marden on Saturday. Engineers said repairs to "
            "the wall would cost two million pounds and take until the summer.",
        ),
        (
            "School",
            "A new school opened in Marden on Monday for 400 pupils. The headteacher said "
            "the bridge collapse had delayed the school buses on its first day.",
        ),
    ]
]
STORY = [GAZETTE, VALLEY, COURIER]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (  # a few words added
            "A bridge collapsed in Marden on Sunday, killing nine people, officials said.",
            "A bridge collapsed in Marden on Sunday, killing nine people, local officials said.",
        ),
        (  # the same words in another order, "died" for "killed"
            "A bridge collapsed in Marden on Sunday, killing nine people and injuring 30.",
            "Nine people died and 30 were injured when a bridge collapsed in Marden on Sunday.",
        ),
    ],
)
def test_one_fact_in_two_wordings_is_one_fact(a: str, b: str) -> None:
    assert same_fact(fact_of(a), fact_of(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (  # different figures: a disagreement, not one fact
            "A bridge collapsed in Marden on Sunday, killing nine people, officials said.",
            "A bridge collapsed in Marden on Sunday, killing 12 people, officials said.",
        ),
        (  # another day
            "A bridge collapsed in Marden on Sunday, killing nine people, officials said.",
            "A bridge collapsed in Marden on Monday, killing nine people, officials said.",
        ),
        (  # opposite outcomes
            "The Marden council approved the plan to rebuild the Harlow Bridge on Monday.",
            "The Marden council rejected the plan to rebuild the Harlow Bridge on Monday.",
        ),
        (  # one denies
            "Officials in Marden said the bridge had been inspected for cracks in May.",
            "Officials in Marden said the bridge had not been inspected for cracks in May.",
        ),
        (  # one word changed: another thing
            "Food prices in Britain rose 3 percent in March, the statistics office said.",
            "Energy prices in Britain rose 3 percent in March, the statistics office said.",
        ),
        (  # a common sentence of every story
            "Officials declined to comment.",
            "Officials declined to comment.",
        ),
    ],
)
def test_different_facts_stay_apart(a: str, b: str) -> None:
    assert not same_fact(fact_of(a), fact_of(b))


def test_the_most_complete_wording_stands_for_the_fact() -> None:
    short = "A bridge collapsed in Marden on Sunday, killing nine people, officials said."
    longer = "A bridge collapsed in Marden on Sunday, killing nine people, local officials said."
    items = [("a", fact_of(short)), ("b", fact_of(longer)), ("c", fact_of(short))]
    assert repeated(items) == {0, 2}
    assert repeated([("a", fact_of(short)), ("a", fact_of(longer))]) == set()  # one article


def test_copies_of_one_story_take_one_place_in_retrieval(
    make_fake_service: Callable[..., NewsService],
) -> None:
    service = make_fake_service()
    service.add_many([*STORY, *OTHERS])
    passages = service.retrieve("How many people were killed when the bridge collapsed?", k=4)
    story = [p for p in passages if p.article_id in {a.id for a in STORY}]
    # the Courier tells more (the council's meeting): its passage stays; the other copy
    # tells nothing it does not, and rides along with it
    assert len(story) == 2 and len(passages) == 4
    echoes = [e.article_id for p in story for e in p.echoes]
    assert len(echoes) == 1 and echoes[0] not in {p.article_id for p in story}
    assert {p.article_id for p in passages} - {a.id for a in STORY}  # freed places, others


def test_three_outlets_carrying_one_wire_story_give_one_cited_fact(
    make_service: Callable[..., NewsService],
) -> None:
    service = make_service()
    service.add_many([*STORY, *OTHERS])
    answer = service.ask("How many people were killed when the bridge in Marden collapsed?")
    assert not answer.abstained and answer.disagreement is None
    killed = [c for c in answer.citations if "ine people were killed" in c.quote]
    assert len(killed) == 1, answer.answer  # the fact is cited once
    [citation] = killed
    assert answer.answer.count("ine people were killed") == 1
    others = {o.source for o in citation.also_in}
    assert others == {a.source for a in STORY} - {citation.source}
    texts = {a.id: a.text for a in STORY}
    for other in citation.also_in:
        assert other.quote in texts[other.article_id] and "ine people were" in other.quote

    data = answer.to_json()
    [cited] = [c for c in data["citations"] if c["n"] == citation.n]
    assert {o["source"] for o in cited["also_in"]} == others
    assert {"article_id", "title", "url", "quote", "chunk_id"} <= set(cited["also_in"][0])

    rendered = render_answer(answer)
    assert "Also in: " in rendered and all(name in rendered for name in others)
    entry = source_entry([citation])
    assert "*Also in:* " in entry and all(name in entry for name in others)

    output = CliRunner().invoke(
        main,
        ["ask", "How many people were killed when the bridge in Marden collapsed?", "--json"],
        obj=Context(_service=service),
    )
    printed = json.loads(output.output)
    assert_ask_json_contract(printed, {a.id: a.text for a in [*STORY, *OTHERS]})
    assert any(c["also_in"] for c in printed["citations"])
    assert any(p["also_in"] for p in printed["passages"])


def test_a_different_figure_from_another_outlet_stays_a_disagreement(
    make_service: Callable[..., NewsService],
) -> None:
    service = make_service()
    early = make_article(
        title="Bridge collapse in Marden: 12 feared dead",
        text=WIRE.replace("nine people were killed", "12 people were killed"),
        url="https://early.example/marden",
        source="Early Edition",
        published_at="2024-03-03",
    )
    service.add_many([*STORY, early, *OTHERS])
    answer = service.ask("How many people were killed when the bridge in Marden collapsed?")
    assert answer.disagreement is not None, answer.answer
    assert set(answer.disagreement.values) == {"9", "12"}
    sides = {c.n: c for c in answer.citations}
    twelve = [c for c in sides.values() if "12" in c.quote]
    assert twelve and all(c.source == "Early Edition" for c in twelve)
    assert all(o.source != "Early Edition" for c in sides.values() for o in c.also_in)


def _ids(articles: list[Article]) -> set[str]:
    return {a.id for a in articles}
