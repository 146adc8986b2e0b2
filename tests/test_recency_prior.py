"""The recency prior: a question with no time words, asked on a known day, prefers the
articles of the 60 days up to that day among its first candidates (news/step.py `recent_first`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest
from fakes import FakeEmbeddings

from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.ingest.articles import make_article
from retrieval.news.step import RECENT_HEAD, RECENT_MARGIN, recent_first
from retrieval.news.timeframe import read_question
from retrieval.service import NewsService
from retrieval.types import Published

ASKED = date(2024, 10, 4)
QUESTION = "How old did Jimmy Carter turn on his birthday?"

# The 2020 report shares more of the question's words: without the prior it comes first.
OLD = make_article(
    id="carter-2020",
    title="Jimmy Carter turns 96 on his birthday",
    text="Former President Jimmy Carter turned 96 on his birthday, an old milestone for Carter.",
    published_at="2020-10-01",
)
# The 2024 report is about as close in meaning (cosine 0.59 against 0.65 with the fake
# embeddings: within RECENT_MARGIN), as a report of the same story is.
NEW = make_article(
    id="carter-2024",
    title="Jimmy Carter turns 100 on his birthday",
    text="Jimmy Carter turned 100 on his birthday.",
    published_at="2024-10-01",
)


@pytest.fixture
def carter(tmp_path: Path) -> Iterator[NewsService]:
    """The two reports in a store on the fake embedder; the day of asking comes from each
    question (the clock knows none)."""
    service = build_service(
        Settings(data_dir=tmp_path / "store"), embeddings=FakeEmbeddings(), clock=lambda: None
    )
    service.add_many([OLD, NEW])
    yield service
    service.close()


def _dated(days: dict[str, str]) -> tuple[list[list[str]], Published]:
    """A `published` lookup over fixed dates that records what it was asked."""
    asked: list[list[str]] = []

    def published(chunk_ids: Sequence[str]) -> dict[str, str | None]:
        asked.append(list(chunk_ids))
        return {c: days.get(c) for c in chunk_ids}

    return asked, published


def test_a_recent_article_comes_before_an_older_one(carter: NewsService) -> None:
    undated = carter.ask(QUESTION)
    assert undated.passages[0].article_id == "carter-2020"
    asked = carter.ask(QUESTION, today=ASKED)
    assert [p.article_id for p in asked.passages] == ["carter-2024", "carter-2020"]


def test_nothing_moves_without_the_day_asked(carter: NewsService) -> None:
    assert recent_first(read_question(QUESTION, None)) is None
    answer = carter.ask(QUESTION)
    assert [p.chunk_id for p in answer.passages] == [p.chunk_id for p in carter.retrieve(QUESTION)]


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest on Jimmy Carter?",
        "How old did Jimmy Carter turn last week?",
        "What did Jimmy Carter do in October?",
        "How did the Jimmy Carter story develop?",
        "What has Jimmy Carter done since the election?",
    ],
)
def test_nothing_moves_when_the_question_names_a_time(question: str) -> None:
    assert recent_first(read_question(question, ASKED)) is None


def test_only_the_first_candidates_are_weighed() -> None:
    fused = [(f"c{n}", 1.0 - n / 100) for n in range(RECENT_HEAD + 3)]
    last = fused[-1][0]  # this week's, but too far down to be relevant enough
    asked, published = _dated({"c3": "2024-10-02", last: "2024-10-03"})
    reorder = recent_first(read_question(QUESTION, ASKED))
    assert reorder is not None
    ranked = reorder(fused, published, dict.fromkeys([c for c, _ in fused], 0.5))
    assert asked == [[c for c, _ in fused[:RECENT_HEAD]]]  # one look-up, of the head only
    assert [c for c, _ in ranked] == ["c3", "c0", "c1", "c2", *[c for c, _ in fused[4:]]]
    assert ranked[-1] == fused[-1]


@pytest.mark.parametrize(
    ("published_at", "boosted"),
    [
        ("2024-10-04", True),  # the day asked
        ("2024-08-06", True),  # the 60th day up to it
        ("2024-08-05", False),  # the 61st
        ("2024-10-05", False),  # after the day asked: not news on that day
        (None, False),
    ],
)
def test_the_window_is_the_60_days_up_to_the_day_asked(
    published_at: str | None, boosted: bool
) -> None:
    fused = [("first", 0.20), ("dated", 0.15)]
    _, published = _dated({"dated": published_at} if published_at else {})
    reorder = recent_first(read_question(QUESTION, ASKED))
    assert reorder is not None
    ranked = reorder(fused, published, {"first": 0.5, "dated": 0.5})
    assert [c for c, _ in ranked] == (["dated", "first"] if boosted else ["first", "dated"])


@pytest.mark.parametrize(
    ("closeness", "moves"),
    [
        ({"first": 0.6, "dated": 0.6 - RECENT_MARGIN}, True),  # as close, give or take
        ({"first": 0.6, "dated": 0.6 - 2 * RECENT_MARGIN}, False),  # another subject
        ({"first": 0.6}, False),  # found by its words only
    ],
)
def test_a_recent_article_rises_only_when_it_is_about_as_close_as_the_closest(
    closeness: dict[str, float], moves: bool
) -> None:
    # (in a small store every article is among the first candidates: a recent one on another
    # subject must not rise over the report that answers)
    fused = [("first", 0.20), ("dated", 0.15)]
    _, published = _dated({"dated": "2024-10-01", "first": "2020-10-01"})
    reorder = recent_first(read_question(QUESTION, ASKED))
    assert reorder is not None
    ranked = reorder(fused, published, closeness)
    assert [c for c, _ in ranked] == (["dated", "first"] if moves else ["first", "dated"])
