"""An article added again with another text is an update: its passages, vectors and BM25 rows
are replaced, answers come from the new text only, and nothing of the old one is left."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli import Context, main
from bot.discord_bot.messages import added_message
from retrieval.index.identity import text_version
from retrieval.ingest.articles import make_article
from retrieval.ingest.sources import IngestTally
from retrieval.service import NewsService
from retrieval.text.terms import body_key
from retrieval.types import AddResult, Article

URL = "https://gazette.example/harlow-bridge-collapse"
FIRST = (
    "The Harlow Bridge in Marden collapsed into the River Wyn on Sunday evening, sending cars "
    "and a bus into the water. Officials said 12 people were killed and 30 were injured. "
    "Divers from three counties searched the river through the night."
)
CORRECTED = (
    "The Harlow Bridge in Marden collapsed into the River Wyn on Sunday evening, sending cars "
    "and a bus into the water. Officials said nine people were killed, not 12 as first "
    "reported, and 30 were injured. The council's engineers had inspected the bridge in May."
)


def version(text: str, url: str = URL, **fields: str) -> Article:
    return make_article(
        text=text,
        title="Harlow Bridge collapses in Marden",
        url=url,
        source="Marden Gazette",
        published_at="2024-03-04",
        **fields,
    )


def leftovers(service: NewsService, article: Article) -> tuple[set[str], set[str], set[str]]:
    """The article's chunk ids in Chroma and in the lexical index, and those of its stored
    version (which is this text's)."""
    store = service.store
    chunks = store._collection("default", "chunks").get(
        where={"article_id": article.id}, include=[]
    )
    table = store.lexical._table("default")
    rows = store.lexical._db.execute(
        f"SELECT chunk_id FROM {table} WHERE article_id = ?", (article.id,)
    ).fetchall()
    stored, _ = store.lookup("default", article.id, article.text)
    assert stored is not None and not stored.leftovers
    assert stored.body == body_key(article.text)
    assert stored.chunks == len(service.ingester.chunk(article))
    assert stored.version in (None, text_version(article.text))
    return set(chunks["ids"]), {r[0] for r in rows}, stored.chunk_ids()


def test_a_changed_text_replaces_the_stored_version(fake_service: NewsService) -> None:
    first, corrected = version(FIRST), version(CORRECTED)
    assert first.id == corrected.id
    assert fake_service.add(first).status == "added"
    result = fake_service.add(corrected)
    assert (result.status, result.article_id, result.chunks) == ("updated", first.id, 1)

    [listed] = fake_service.list()
    assert listed.updated_at is not None and listed.chunks == 1
    assert fake_service.get(first.id) == corrected

    in_chroma, in_lexical, expected = leftovers(fake_service, corrected)
    assert in_chroma == in_lexical == expected  # no vector and no BM25 row of the old text
    assert fake_service.store.count_chunks("default") == 1
    assert fake_service.store.lexical.count("default") == 1
    assert fake_service.store.lexical_search("default", "divers counties night", 5) == []
    passages = fake_service.retrieve("Divers searched the river through the night", k=5)
    assert passages and all("Divers" not in p.text for p in passages)
    assert "nine people were killed" in passages[0].text


def test_the_same_text_again_changes_nothing(fake_service: NewsService) -> None:
    fake_service.add(version(FIRST))
    fake_service.add(version(CORRECTED))
    [before] = fake_service.list()
    chunks_before = leftovers(fake_service, version(CORRECTED))
    result = fake_service.add(version(CORRECTED, url=f"{URL}?utm_source=rss"))
    assert result.status == "unchanged"
    assert fake_service.list() == [before]
    assert leftovers(fake_service, version(CORRECTED)) == chunks_before


def test_an_update_can_shrink_grow_and_go_back(
    make_fake_service: Callable[..., NewsService],
) -> None:
    service = make_fake_service(chunk_size=200, chunk_overlap=40)
    long = " ".join(f"Sentence {n} says the bridge was built in {1900 + n}." for n in range(20))
    for text in (FIRST, long, CORRECTED, FIRST):
        article = version(text)
        service.add(article)
        in_chroma, in_lexical, expected = leftovers(service, article)
        assert in_chroma == in_lexical == expected
        assert service.store.count_chunks("default") == len(expected)
        assert service.store.lexical.count("default") == len(expected)
    assert service.get(version(FIRST).id) == version(FIRST)


def test_two_texts_of_one_article_in_one_ingest_keep_the_last(fake_service: NewsService) -> None:
    results = fake_service.add_many([version(FIRST), version(CORRECTED, url=f"{URL}#update")])
    assert [r.status for r in results] == ["added", "updated"]
    stored = fake_service.get(version(FIRST).id)
    assert stored is not None and stored.text == CORRECTED
    assert stored.url == f"{URL}#update"  # the link as given, to click
    in_chroma, in_lexical, expected = leftovers(fake_service, version(CORRECTED))
    assert in_chroma == in_lexical == expected


def test_an_article_with_its_own_id_is_updated_by_that_id(fake_service: NewsService) -> None:
    fake_service.add(version(FIRST, id="harlow-1"))
    result = fake_service.add(version(CORRECTED, url="https://elsewhere.example/x", id="harlow-1"))
    assert (result.status, result.article_id) == ("updated", "harlow-1")
    stored = fake_service.get("harlow-1")
    assert stored is not None and stored.url == "https://elsewhere.example/x"


def test_the_ingest_summary_and_discord_say_updated() -> None:
    tally = IngestTally()
    for result in (AddResult("a", "A", 2, "added"), AddResult("b", "B", 1, "updated")):
        tally.count(result)
    assert tally.summary() == "added 1, updated 1, unchanged 0, failed 0 (3 chunks)"
    assert IngestTally(added=2).summary() == "added 2, unchanged 0, failed 0 (0 chunks)"
    assert added_message([AddResult("b", "Bridge", 1, "updated")]) == (
        "Updated **Bridge** to its new text — 1 passage · id `b`"
    )


def test_the_cli_ingest_says_updated(fake_service: NewsService, tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    record = {"title": "Harlow Bridge collapses", "url": URL, "published_at": "2024-03-04"}
    first.write_text(json.dumps({**record, "text": FIRST}))
    second.write_text(json.dumps({**record, "text": CORRECTED, "url": f"{URL}?fbclid=x"}))
    runner, context = CliRunner(), Context(_service=fake_service)
    added = runner.invoke(main, ["ingest", str(first)], obj=context)
    assert added.output.strip() == "added 1, unchanged 0, failed 0 (1 chunks)"
    updated = runner.invoke(main, ["ingest", str(second)], obj=context)
    assert updated.output.strip() == "added 0, updated 1, unchanged 0, failed 0 (1 chunks)"
    again = runner.invoke(main, ["ingest", str(second)], obj=context)
    assert again.output.strip() == "added 0, unchanged 1, failed 0 (0 chunks)"
    listed = runner.invoke(main, ["articles"], obj=context)
    assert "Harlow Bridge collapses  (updated 20" in listed.output


def test_answers_come_from_the_new_text_only(service: NewsService) -> None:
    service.add(version(FIRST))
    question = "How many people were killed when the Harlow Bridge collapsed?"
    assert "12 people were killed" in service.ask(question).answer
    assert service.add(version(CORRECTED, url=f"{URL}?utm_source=rss")).status == "updated"

    answer = service.ask(question)
    assert "nine people were killed" in answer.answer
    assert answer.disagreement is None  # the old version never disputes the new one
    assert all(c.quote in CORRECTED for c in answer.citations)
    assert all(p.text in CORRECTED for p in answer.passages)
    divers = service.ask("Who searched the river through the night?")
    assert "Divers" not in divers.answer


def test_articles_are_looked_up_together_as_they_are_one_at_a_time(
    fake_service: NewsService, monkeypatch: Any
) -> None:
    """Ingest looks articles up a batch at a time (a metadata filter scans the collection, as
    long for one article as for 50): the answers are those of one lookup each."""
    from chromadb.api.models.Collection import Collection

    store = fake_service.store
    fake_service.add_many([version(FIRST), version(FIRST + " More.", id="own-1")])
    other_headline = make_article(text=FIRST, title="Bridge down", url="https://b.example/1")
    items = [
        (version(FIRST).id, FIRST),  # stored, by its id
        (version(CORRECTED).id, CORRECTED),  # stored, another text
        (other_headline.id, FIRST),  # not stored; its body is
        ("own-1", "whatever"),  # stored under an id its record gave
        *((f"new-{n}", f"text {n}") for n in range(50)),  # not stored at all
    ]
    reads = []
    get = Collection.get
    monkeypatch.setattr(
        Collection, "get", lambda self, *a, **kw: reads.append(1) or get(self, *a, **kw)
    )

    together = store.lookup_many("default", items)

    assert len(reads) == 2  # by id, then one filter for all the rest
    monkeypatch.setattr(Collection, "get", get)
    assert together == [store.lookup("default", *item) for item in items]
    assert [found is not None for found, _ in together[:4]] == [True, True, False, True]
    assert together[2][1] == version(FIRST).id
    assert together[4:] == [(None, None)] * 50


def test_an_ingest_longer_than_a_lookup_batch_sees_its_own_articles(
    fake_service: NewsService, monkeypatch: Any
) -> None:
    """What the ingest stored or queued since its batch was looked up (a repeat, a second
    text, the same body under another headline) is known as it is in one lookup each."""
    monkeypatch.setattr("retrieval.ingest.ingester.LOOKUP_BATCH", 2)
    fake_service.add(make_article(text="Stored before.", title="Old", url="https://o.example"))
    twin = make_article(text=CORRECTED, title="Another headline", url="https://t.example/2")
    results = fake_service.add_many(
        [
            version(FIRST),
            make_article(text="Stored before.", title="Old", url="https://o.example"),
            version(CORRECTED),  # a second text of the first, two batches later
            twin,  # the body just stored under another headline
            version(CORRECTED),  # the same text again
        ]
    )
    # (reported as stored: the unchanged ones first)
    assert sorted((r.title, r.status) for r in results) == [
        ("Another headline", "unchanged"),
        ("Harlow Bridge collapses in Marden", "added"),
        ("Harlow Bridge collapses in Marden", "unchanged"),
        ("Harlow Bridge collapses in Marden", "updated"),
        ("Old", "unchanged"),
    ]
    [duplicate] = [r for r in results if r.title == "Another headline"]
    assert duplicate.duplicate_of == version(FIRST).id
    stored = fake_service.get(version(FIRST).id)
    assert stored is not None and stored.text == CORRECTED
    assert len(fake_service.list()) == 2
