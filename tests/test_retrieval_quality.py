"""Hybrid retrieval, sentence-level answers and follow-ups: the behaviours answer quality rests on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from retrieval.answer.condense import condense_question
from retrieval.answer.extractive import question_kind
from retrieval.index.lexical import LexicalIndex, match_query
from retrieval.index.retriever import reciprocal_rank_fusion
from retrieval.ingest.articles import make_article
from retrieval.service import NewsService
from retrieval.types import Turn

# Three short stories in which every question has a distractor sentence nearby.
FLOOD = make_article(
    title="Floods close Valdora bridge",
    text=(
        "The Meridian bridge in Valdora was closed on Tuesday after the river rose two metres "
        "overnight. Engineers said the closure was because floodwater had undermined the "
        "eastern pier. Mayor Ines Carvalho said the bridge would stay shut until 14 March. "
        "About 3,200 commuters use the bridge every day. Local shops reported fewer customers."
    ),
    source="Valdora Courier",
    published_at="2024-03-05",
)
ELECTION = make_article(
    title="Harbour town elects new council",
    text=(
        "Voters in Port Ellery elected a new council on Sunday. Turnout was 61 percent, the "
        "highest since 1998. The new council leader is Tomas Reyes, a former teacher. He "
        "said his first priority would be repairing the sea wall."
    ),
)
LAUNCH = make_article(
    title="Satellite launch delayed",
    text=(
        "The launch of the Kestrel-2 weather satellite was postponed due to high winds at the "
        "Andøya spaceport. The operator said a new date would be announced next week. The "
        "satellite cost 40 million euros to build."
    ),
)


@pytest.fixture
def news(make_service: Callable[..., NewsService]) -> NewsService:
    service = make_service()
    service.add_many([FLOOD, ELECTION, LAUNCH])
    return service


@pytest.mark.parametrize(
    ("question", "lead"),
    [
        ("Why was the Meridian bridge closed?", "after the river rose two metres"),
        ("When will the bridge reopen?", "until 14 March"),
        ("Who is the new council leader in Port Ellery?", "Tomas Reyes"),
        ("How many commuters use the bridge?", "3,200 commuters"),
        ("Why was the satellite launch postponed?", "due to high winds"),
        ("What was the turnout in the Port Ellery election?", "61 percent"),
        ("Where is the Kestrel-2 launch site?", "Andøya spaceport"),
    ],
)
def test_the_answer_leads_with_the_sentence_that_answers(
    news: NewsService, question: str, lead: str
) -> None:
    answer = news.ask(question)
    assert not answer.abstained
    assert lead in answer.citations[0].quote, answer.answer


def test_a_why_answer_adds_the_stated_cause(news: NewsService) -> None:
    answer = news.ask("Why was the Meridian bridge closed?")
    assert "because floodwater had undermined the eastern pier" in answer.answer
    assert "3,200 commuters" not in answer.answer  # no padding with unrelated facts


@pytest.mark.parametrize(
    "question",
    ["Who won the Tour de France?", "What is the boiling point of ethanol?", "Tell me a joke"],
)
def test_questions_the_articles_cannot_answer_are_declined(
    news: NewsService, question: str
) -> None:
    assert news.ask(question).abstained


def test_an_answer_that_covers_only_part_of_the_question_says_so(news: NewsService) -> None:
    full = news.ask("Why was the Meridian bridge closed?")
    assert full.notice is None
    part = news.ask("Why was the Meridian bridge in Valdora closed in 2019?")
    assert not part.abstained and "Meridian bridge" in part.answer
    assert part.notice is not None and "2019" in part.notice
    assert "Valdora" not in part.notice and "Meridian" not in part.notice


def test_a_rare_name_is_found_by_its_letters(news: NewsService) -> None:
    hits = news.store.lexical_search("default", "Kestrel-2", 5)
    assert [chunk_id.split(":")[0] for chunk_id, _ in hits] == [LAUNCH.id]
    assert news.retrieve("Kestrel-2", k=1)[0].article_id == LAUNCH.id


def test_removing_an_article_removes_it_from_the_lexical_index(news: NewsService) -> None:
    news.remove(LAUNCH.id)
    assert news.store.lexical_search("default", "Kestrel satellite", 5) == []


def test_a_lost_lexical_index_is_rebuilt_from_the_store(
    make_service: Callable[..., NewsService], tmp_path: Path
) -> None:
    service = make_service("lost")
    service.add_many([FLOOD, ELECTION])
    service.close()
    (tmp_path / "lost" / "lexical.sqlite3").unlink()
    reopened = make_service("lost")
    assert reopened.store.lexical_search("default", "Tomas Reyes council", 1)[0][0].startswith(
        ELECTION.id
    )


@pytest.mark.parametrize(
    ("question", "query"),
    [
        ("Who is Li Shangfu?", '"li" OR "shangfu"'),
        ('What did "NOT" AND OR mean?', '"mean"'),
        ("the of and", None),
        ("China's S-400 deal", '"china" OR "s-400" OR "deal"'),
    ],
)
def test_match_query_quotes_every_word(question: str, query: str | None) -> None:
    result = match_query(question)
    if query is None:
        assert result is None
    else:
        assert result is not None and set(result.split(" OR ")) == set(query.split(" OR "))


def test_lexical_index_survives_operator_words_and_quotes(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "x.sqlite3")
    index.add_rows("kb", [("a:0", "a", 'He whispered "NOT" OR AND near(1) *')])
    assert index.search("kb", 'NOT OR AND near( * "', 5) == [("a:0", pytest.approx(0, abs=10))]
    assert index.search("kb", "whispered", 5)[0][0] == "a:0"
    assert index.count("kb") == 1
    index.close()


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "b", "d"]], [1.0, 1.0], k=10)
    assert {item for item, _ in fused[:2]} == {"b", "c"}  # both lists have them
    assert {item for item, _ in fused} == {"a", "b", "c", "d"}
    weighted = reciprocal_rank_fusion([["a"], ["d"]], [1.0, 0.5])
    assert [item for item, _ in weighted] == ["a", "d"]


@pytest.mark.parametrize(
    ("previous", "question", "condensed"),
    [
        ("When were the sanctions on Li imposed?", "and who is he?", "and who is he? (Li)"),
        ("Why did China refuse the meeting?", "why?", "why? (China refuse meeting)"),
        ("why did the talks fail?", "when was that?", "when was that? (talks fail)"),
        ("Who is Li Shangfu?", "What weapons did China buy from Russia?", None),
        ("Who is Li Shangfu?", "is Li Shangfu a general?", None),
    ],
)
def test_follow_ups_carry_the_subject(previous: str, question: str, condensed: str | None) -> None:
    assert condense_question(question, [Turn(previous)]) == (condensed or question)


PENTAGON_ANSWER = (
    "The Pentagon in a statement stated that Beijing had turned down an invitation. [1] "
    "“The PRC’s concerning unwillingness ... with the People’s Liberation Army (PLA),” Pentagon "
    "Press Secretary Brig. Gen. Patrick Ryder said in the statement. [2]"
)


@pytest.mark.parametrize(
    ("previous", "answer", "question", "condensed"),
    [
        ("What did the Pentagon say?", PENTAGON_ANSWER, "who is he?", "who is Patrick Ryder?"),
        ("Who is Li Shangfu?", "Li Shangfu is China's defence minister.", "why did he refuse?", "why did he refuse? (Li Shangfu)"),
        # "it" and "why?" point at the event, not a person: the answer's names are not added
        ("What did the Pentagon say?", PENTAGON_ANSWER, "why?", "why? (Pentagon)"),
        ("Who spoke for the embassy?", "Chinese Embassy spokesman Liu Pengyu said so.", "what else did she say?", "what else did Liu Pengyu say?"),
    ],
)  # fmt: skip
def test_pronouns_resolve_to_people_the_previous_answer_named(
    previous: str, answer: str, question: str, condensed: str
) -> None:
    assert condense_question(question, [Turn(previous, answer)]) == condensed


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Why did China refuse?", "why"),
        ("and why?", "why"),
        ("When was it signed?", "when"),
        ("In what year did it start?", "when"),
        ("What was the turnout?", "number"),
        ("What year did it start?", "when"),
        ("How many people died?", "number"),
        ("Who leads the council?", "who"),
        ("Where is the spaceport?", "where"),
        ("What did the mayor say?", "what"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert question_kind(question) == kind
