"""News-aware answers over a small dated corpus (evals/news_aware_corpus.jsonl), with the real
model and real Chroma: dates beside every source, relative dates resolved, time words in
questions, timelines, disagreement between articles — and the report over 22 questions."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.ingest.articles import load_path
from retrieval.service import NewsService
from retrieval.types import Article

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.news_aware import CORPUS, load_questions, measure  # noqa: E402

ASKED = date(2024, 4, 5)  # a Friday, two days after the last article of the story


@pytest.fixture(scope="module")
def corpus() -> list[Article]:
    return list(load_path(CORPUS))


@pytest.fixture(scope="module")
def news(
    embeddings: SentenceEmbeddings,
    tmp_path_factory: pytest.TempPathFactory,
    corpus: list[Article],
) -> Iterator[NewsService]:
    """One store of the dated corpus for the module; "today" is 5 April 2024 unless a
    question passes its own."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("news"))
    service = build_service(settings, embeddings=embeddings, clock=lambda: ASKED)
    service.add_many(corpus)
    yield service
    service.close()


def test_every_citation_shows_its_articles_publication_date(
    news: NewsService, corpus: list[Article]
) -> None:
    published = {a.id: a.published_at for a in corpus}
    answer = news.ask("Who will lead the inquiry into the Harlow Bridge collapse?")
    assert answer.citations
    for citation in answer.citations:
        assert citation.published_at == published[citation.article_id]
    assert answer.to_json()["citations"][0]["published_at"] == answer.citations[0].published_at


def test_a_relative_date_in_a_quote_is_resolved_beside_it(news: NewsService) -> None:
    answer = news.ask("When was the Harlow Bridge last inspected?")
    notes = {(n.phrase, n.means) for c in answer.citations for n in c.date_notes}
    assert ("August of last year", "August 2023") in notes  # article of 4 March 2024
    quote = next(c for c in answer.citations if c.date_notes).quote
    assert "August of last year" in quote  # the quote stays verbatim; the note is beside it


def test_an_undated_articles_relative_dates_are_left_alone(news: NewsService) -> None:
    answer = news.ask("When did Crumb & Co win the national sourdough award?")
    [citation] = [c for c in answer.citations if c.article_id == "bakery-1"]
    assert "last year" in citation.quote
    assert citation.published_at is None and citation.date_notes == []


def test_every_answer_says_how_current_it_is(news: NewsService) -> None:
    answer = news.ask("How many vehicles a day did the Harlow Bridge carry?")
    newest = max(c.published_at for c in answer.citations if c.published_at)
    assert answer.newest_source == newest
    assert answer.time_note is not None and answer.time_note.startswith("Newest source: ")


def test_latest_from_old_sources_says_so_plainly(news: NewsService) -> None:
    answer = news.ask("What is the latest news on the Marden tram line?", today=date(2024, 6, 1))
    assert answer.newest_source == "2023-11-20"
    assert answer.time_note is not None
    assert "20 November 2023" in answer.time_note and "6 months before today" in answer.time_note
    recent = news.ask("What is the latest on the Harlow Bridge?")
    assert recent.newest_source == "2024-04-03"
    assert "before today" not in (recent.time_note or "")


def test_last_week_keeps_the_sources_of_last_week(news: NewsService) -> None:
    answer = news.ask("What did Marden council decide last week?", today=date(2024, 3, 12))
    days = {p.published_at for p in answer.passages}
    assert days and all("2024-03-04" <= d <= "2024-03-10" for d in days if d)
    assert not answer.abstained


def test_a_window_with_no_sources_says_so_and_keeps_the_evidence(news: NewsService) -> None:
    answer = news.ask(
        "How much will the new Harlow Bridge cost this week?", today=date(2025, 1, 10)
    )
    assert answer.passages and not answer.abstained
    assert "No article on this is from this week" in (answer.time_note or "")


def test_without_a_known_today_time_words_filter_nothing(
    embeddings: SentenceEmbeddings, tmp_path: Path, corpus: list[Article]
) -> None:
    service = build_service(
        Settings(data_dir=tmp_path / "s"), embeddings=embeddings, clock=lambda: None
    )
    try:
        service.add_many(corpus)
        question = "What did Marden council decide last week?"
        answer = service.ask(question)
        assert [p.chunk_id for p in answer.passages] == [
            p.chunk_id for p in service.retrieve(question)
        ]
        assert "No article" not in (answer.time_note or "")
    finally:
        service.close()


def test_a_timeline_is_a_dated_list_oldest_first_from_several_articles(news: NewsService) -> None:
    answer = news.ask("How did the Harlow Bridge story develop?")
    days = [entry.date for entry in answer.timeline]
    assert days == sorted(days) and days[0] == "2024-03-03"  # "on Sunday", in the 4 March report
    lines = answer.answer.splitlines()
    assert len(lines) == len(answer.timeline) >= 4
    assert len({c.article_id for c in answer.citations}) == len(lines)
    for line, entry in zip(lines, answer.timeline, strict=True):
        assert line.endswith(f"[{entry.n}]")


def test_what_happened_after_lists_only_later_events(news: NewsService) -> None:
    answer = news.ask("What happened after the Harlow Bridge collapsed?")
    assert len(answer.timeline) >= 3
    assert all(entry.date > "2024-03-03" for entry in answer.timeline)


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        ("How many people died in the Harlow Bridge collapse?", {"harlow-1", "harlow-2"}),
        ("How much will the new Harlow Bridge cost?", {"harlow-6", "harlow-7"}),
        ("When will the ferry across the River Wyn start running?", {"harlow-4", "harlow-5"}),
        (
            "Did the Marden planning committee approve the Northgate stadium plan?",
            {"stadium-1", "stadium-2"},
        ),
    ],
)
def test_sources_that_differ_are_each_cited_not_blended(
    news: NewsService, question: str, sides: set[str]
) -> None:
    answer = news.ask(question)
    assert answer.disagreement is not None
    assert answer.answer.startswith("The sources differ")
    cited = {answer.citations[n - 1].article_id for n in answer.disagreement.citations}
    assert cited == sides
    assert len(set(answer.disagreement.values)) == 2
    for citation in answer.citations:
        assert f"{citation.quote} [{citation.n}]" in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "How many people were injured when the Harlow Bridge collapsed?",  # 30 in both reports
        "Who will lead the inquiry into the Harlow Bridge collapse?",
        "How many passengers an hour will the Harlow ferry carry?",
    ],
)
def test_sources_that_agree_are_not_flagged(news: NewsService, question: str) -> None:
    answer = news.ask(question)
    assert not answer.abstained
    assert answer.disagreement is None


def test_the_report_over_the_time_questions(news: NewsService, corpus: list[Article]) -> None:
    """The figures of benchmarks/news_aware.py, on the same 22 questions."""
    report = measure(news, load_questions(), corpus)
    assert report["questions"] >= 15
    for key in (
        "right_dates",
        "right_order",
        "disagreements_flagged",
        "undisputed_without_false_flag",
        "newest_source_right",
        "stale_warning_right",
    ):
        figure = report[key]
        assert figure["of"] > 0, key
        failed = [r["id"] for r in report["rows"] if not all(r["checks"].values())]
        assert figure["right"] == figure["of"], (key, failed)
