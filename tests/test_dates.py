"""Dates in article text and in questions, as pure functions: no model, no store."""

from __future__ import annotations

from datetime import date

import pytest

from retrieval.news.timeframe import TimeFrame, read_question, recency_note
from retrieval.text.dates import date_notes, event_date, read_date


@pytest.mark.parametrize(
    ("quote", "published", "phrase", "means"),
    [
        ("Pelosi visited Taiwan in August of last year.", "2023-05-29", "August of last year",
         "August 2022"),
        ("A spy balloon flew over the US in February.", "2023-05-29", "in February",
         "February 2023"),
        ("The bridge collapsed on Sunday evening.", "2024-03-04", "on Sunday", "3 March 2024"),
        ("The council approved the design last month.", "2024-04-02", "last month", "March 2024"),
        ("Divers finished searching the river yesterday.", "2024-03-05", "yesterday",
         "4 March 2024"),
        ("The council will meet on Thursday.", "2024-03-04", "on Thursday", "7 March 2024"),
        ("It will cost £52 million, the firm said on Wednesday.", "2024-04-03", "on Wednesday",
         "3 April 2024"),
        ("Prices rose two weeks ago.", "2023-05-29", "two weeks ago", "the week of 15 May 2023"),
    ],
)  # fmt: skip
def test_relative_dates_resolve_against_the_publication_date(
    quote: str, published: str, phrase: str, means: str
) -> None:
    notes = date_notes(quote, published)
    assert [(n.phrase, n.means) for n in notes] == [(phrase, means)]


def test_without_a_publication_date_nothing_is_guessed() -> None:
    assert date_notes("It opened last year, on Sunday, in August of last year.", None) == []
    assert event_date("It collapsed on Sunday.", None) is None


def test_explicit_dates_need_no_note() -> None:
    assert (
        date_notes("The ferry starts on 18 March and the bridge opens in 2026.", "2024-03-13") == []
    )


def test_an_event_is_dated_by_the_day_it_reports_else_by_publication() -> None:
    assert event_date("The bridge collapsed on Sunday evening.", "2024-03-04") == date(2024, 3, 3)
    assert event_date("The bridge was built in 1962.", "2024-03-04") == date(2024, 3, 4)
    assert event_date("The ferry will start on 25 March.", "2024-03-14") == date(2024, 3, 14)


@pytest.mark.parametrize(
    ("question", "today", "start", "end"),
    [
        ("What did the council decide last week?", date(2024, 3, 12), date(2024, 3, 4),
         date(2024, 3, 10)),
        ("Who won this week?", date(2024, 4, 5), date(2024, 3, 30), date(2024, 4, 5)),
        ("What happened in May?", date(2024, 4, 5), date(2023, 5, 1), date(2023, 5, 31)),
        ("What happened in May 2024?", date(2024, 6, 9), date(2024, 5, 1), date(2024, 5, 31)),
        ("What has changed since March?", date(2024, 4, 5), date(2024, 3, 1), date(2024, 4, 5)),
        ("Any news today?", date(2024, 4, 5), date(2024, 4, 5), date(2024, 4, 5)),
    ],
)  # fmt: skip
def test_time_words_in_questions_resolve_against_today(
    question: str, today: date, start: date, end: date
) -> None:
    frame = read_question(question, today)
    assert (frame.start, frame.end) == (start, end)


def test_without_today_time_words_resolve_to_nothing() -> None:
    frame = read_question("What is the latest this week?", None)
    assert not frame.windowed and not frame.wants_current


@pytest.mark.parametrize(
    ("question", "timeline", "after"),
    [
        ("How did the Harlow Bridge story develop?", True, None),
        ("Timeline of the Harlow Bridge collapse", True, None),
        ("What happened after the bridge collapsed?", True, "the bridge collapsed"),
        ("What has happened since the summit?", True, "the summit"),
        ("Why did shares fall after the results?", False, None),
        ("Who leads the inquiry?", False, None),
    ],
)
def test_timeline_questions(question: str, timeline: bool, after: str | None) -> None:
    frame = read_question(question, date(2024, 4, 5))
    assert (frame.timeline, frame.after) == (timeline, after)


def test_the_recency_note() -> None:
    today = date(2024, 6, 1)
    old = recency_note(TimeFrame(today=today, wants_current=True), ["2023-11-20", None])
    assert old.startswith("Newest source: 20 November 2023.")
    assert "6 months before today (1 June 2024)" in old
    fresh = recency_note(TimeFrame(today=today, wants_current=True), ["2024-05-30"])
    assert fresh == "Newest source: 30 May 2024."
    assert recency_note(TimeFrame(), [None]) == "The sources carry no publication date."


@pytest.mark.parametrize(
    ("written", "day"),
    [
        ("2024-09-06", date(2024, 9, 6)),
        ("2024/09/06", date(2024, 9, 6)),
        ("Fri, 06 Sep 2024 10:00:00 GMT", date(2024, 9, 6)),  # RFC 2822, as feeds write it
        ("Fri, 06 Sep 2024 23:30:00 -0500", date(2024, 9, 6)),  # the day as written
        ("September 6, 2024", date(2024, 9, 6)),
        ("6 September 2024", date(2024, 9, 6)),
        ("2024-09-06T23:30:00-05:00", date(2024, 9, 6)),
        ("2024-09-06T10:00:00Z", date(2024, 9, 6)),
        ("2024-09-06 10:00", date(2024, 9, 6)),
    ],
)
def test_publication_dates_are_read_in_any_common_form(written: str, day: date) -> None:
    assert read_date(written) == day


@pytest.mark.parametrize(
    "written",
    ["yesterday", "September 2024", "2024", "06/09/2024", "2024-13-01", "", "Sep 31 2024"],
)
def test_a_date_that_is_not_a_whole_unambiguous_day_is_not_guessed(written: str) -> None:
    assert read_date(written) is None
