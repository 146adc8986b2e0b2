"""Dates inside article text, resolved against the article's publication date.

News is written for the day it appears: "on Sunday", "last month", "August of last year"
mean nothing to a reader who no longer sees that day. Given the publication date, each such
phrase becomes a calendar date, week, month or year ("August of last year" in an article of
2023-05-29 is August 2022). Without a publication date nothing is resolved: a date is never
guessed. Explicit dates ("18 March", "March 3, 2024") are read too, for ordering events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from retrieval.types import DateNote

__all__ = [
    "MONTHS",
    "MONTH_ABBREVIATIONS",
    "MONTH_ALTERNATION",
    "WEEKDAYS",
    "WEEKDAY_ALTERNATION",
    "DateNote",
    "Resolved",
    "date_notes",
    "describe",
    "event_date",
    "human_date",
    "parse_iso",
    "read_date",
    "resolve_dates",
]

Precision = Literal["day", "week", "month", "year"]

MONTHS = (
    "january february march april may june july august september october november december"
).split()
MONTH_ABBREVIATIONS = "jan feb mar apr jun jul aug sep sept oct nov dec".split()
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
# Regex alternations ("january|february|..."), lower case for case-insensitive patterns; the
# patterns below want the names as written in text, capitalised.
MONTH_ALTERNATION = "|".join(MONTHS)
WEEKDAY_ALTERNATION = "|".join(WEEKDAYS)
_MONTH_ALT = "|".join(m.capitalize() for m in MONTHS)
_WEEKDAY_ALT = "|".join(d.capitalize() for d in WEEKDAYS)
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
# A sentence that speaks of the future: its bare "on Friday" is the Friday to come.
_FUTURE = re.compile(
    r"\b(will|shall|is to|are to|is due|are due|due to|scheduled|plans? to|expected to|"
    r"next|upcoming|later this)\b",
    re.I,
)


@dataclass(frozen=True)
class Resolved:
    """A date phrase found at text[start:end] and what it means."""

    phrase: str
    start: int
    end: int
    when: date  # the day, or the first day of the week, month or year
    precision: Precision
    relative: bool  # "last month" (needs the publication date) rather than "18 March"

    @property
    def label(self) -> str:
        return describe(self.when, self.precision)

    @property
    def iso(self) -> str:
        if self.precision == "year":
            return f"{self.when.year:04d}"
        if self.precision == "month":
            return self.when.isoformat()[:7]
        return self.when.isoformat()


def parse_iso(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


# A day written with numbers only, and not year first: "06/09/2024" is 6 September in London
# and June 9 in New York, so it is refused rather than guessed.
_AMBIGUOUS_NUMERIC = re.compile(r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")


def read_date(value: str) -> date | None:
    """The calendar day of a publication date written in any common form: ISO (with or
    without a time and zone: the day as written, not moved to UTC), `2024/09/06`, RFC 2822
    from feeds (`Fri, 06 Sep 2024 10:00:00 GMT`), `September 6, 2024`, `6 Sep 2024`. None when
    it is not a full date: unreadable, without a day ("September 2024"), or numbers whose
    order is ambiguous ("06/09/2024")."""
    from email.utils import parsedate_to_datetime

    from dateutil import parser

    text = value.strip()
    if not text or _AMBIGUOUS_NUMERIC.match(text):
        return None
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    # Parsed against two different defaults: a part the text lacks shows as a difference.
    try:
        first = parser.parse(text, default=datetime(2000, 1, 1))
        second = parser.parse(text, default=datetime(2001, 2, 2))
    except (ValueError, OverflowError, parser.ParserError):
        return None
    return first.date() if first.date() == second.date() else None


def human_date(day: date) -> str:
    """29 May 2023"""
    return f"{day.day} {MONTHS[day.month - 1].capitalize()} {day.year}"


def describe(when: date, precision: Precision) -> str:
    if precision == "year":
        return str(when.year)
    if precision == "month":
        return f"{MONTHS[when.month - 1].capitalize()} {when.year}"
    if precision == "week":
        return f"the week of {human_date(when)}"
    return human_date(when)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(".", 0, start), text.rfind("\n", 0, start)) + 1
    right = text.find(".", end)
    return text[left : right if right >= 0 else len(text)]


# "said on Friday" is always a day gone by, whatever the sentence says of the future.
_REPORTED = re.compile(
    r"\b(said|says|announced|told|reported|confirmed|showed|added|stated)\s+(on\s+)?$", re.I
)


def _weekday(name: str, modifier: str, published: date, future: bool) -> date:
    target = WEEKDAYS.index(name.lower())
    back = (published.weekday() - target) % 7
    if modifier == "last":
        return published - timedelta(days=back or 7)
    ahead = (target - published.weekday()) % 7
    if modifier == "next" or future:
        return published + timedelta(days=ahead or 7)
    return published - timedelta(days=back)


def _month_without_year(month: int, published: date, future: bool) -> date | None:
    """'in February', read in an article of May 2023: February 2023. A later month is the one
    to come when the sentence speaks of the future, the one before otherwise."""
    if month <= published.month:
        return date(published.year, month, 1)
    return date(published.year if future else published.year - 1, month, 1)


# Ordered: the longer phrase wins where two overlap ("August of last year" over "last year").
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "month_of_year",
        re.compile(rf"\b({_MONTH_ALT})\s+(?:of\s+)?(last|this|next)\s+year\b"),
    ),
    ("modified_month", re.compile(rf"\b(last|this|next)\s+({_MONTH_ALT})\b")),
    (
        "explicit_day",
        re.compile(
            rf"\b(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_ALT})|({_MONTH_ALT})\s+(\d{{1,2}})"
            r"(?:st|nd|rd|th)?\b)(?:,?\s+(\d{4}))?"
        ),
    ),
    ("month_year", re.compile(rf"\b({_MONTH_ALT})\s+(\d{{4}})\b")),
    (
        "ago",
        re.compile(
            r"\b(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
            r"(day|week|month|year)s?\s+ago\b",
            re.I,
        ),
    ),
    (
        "period",
        re.compile(r"\b(?:earlier\s+|later\s+)?(this|last|next)\s+(week|month|year)\b", re.I),
    ),
    (
        "day_word",
        re.compile(
            r"\b(today|tonight|yesterday|tomorrow|this (?:morning|afternoon|evening))\b", re.I
        ),
    ),
    ("weekday", re.compile(rf"\b(?:(last|next|this|on)\s+)?({_WEEKDAY_ALT})\b")),
    (
        "bare_month",
        re.compile(
            rf"\b(?:in|since|by|until|from|during|early|late|mid-)\s*({_MONTH_ALT})\b(?!\s+\d)"
        ),
    ),
]


def _resolve_match(
    kind: str, m: re.Match[str], text: str, published: date | None
) -> Resolved | None:
    def make(when: date, precision: Precision, relative: bool = True) -> Resolved:
        return Resolved(m.group(0), m.start(), m.end(), when, precision, relative)

    if kind == "explicit_day":
        day, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        year = int(m.group(5)) if m.group(5) else (published.year if published else None)
        if year is None:
            return None
        try:
            return make(date(year, MONTHS.index(month.lower()) + 1, int(day)), "day", False)
        except ValueError:
            return None
    if kind == "month_year":
        return make(date(int(m.group(2)), MONTHS.index(m.group(1).lower()) + 1, 1), "month", False)
    if published is None:
        return None  # relative to a day we do not know: left alone
    future = bool(_FUTURE.search(_sentence_around(text, m.start(), m.end())))
    if _REPORTED.search(text[max(0, m.start() - 30) : m.start()]):
        future = False
    if kind == "month_of_year":
        shift = {"last": -1, "this": 0, "next": 1}[m.group(2)]
        return make(date(published.year + shift, MONTHS.index(m.group(1).lower()) + 1, 1), "month")
    if kind == "modified_month":
        month = MONTHS.index(m.group(2).lower()) + 1
        if m.group(1) == "this":
            return make(date(published.year, month, 1), "month")
        if m.group(1) == "last":
            year = published.year if month < published.month else published.year - 1
        else:
            year = published.year if month > published.month else published.year + 1
        return make(date(year, month, 1), "month")
    if kind == "ago":
        count = _NUMBER_WORDS.get(m.group(1).lower()) or int(m.group(1))
        unit = m.group(2).lower()
        if unit == "day":
            return make(published - timedelta(days=count), "day")
        if unit == "week":
            return make(_monday(published - timedelta(weeks=count)), "week")
        if unit == "month":
            return make(_add_months(published, -count), "month")
        return make(date(published.year - count, 1, 1), "year")
    if kind == "period":
        shift = {"last": -1, "this": 0, "next": 1}[m.group(1).lower()]
        unit = m.group(2).lower()
        if unit == "week":
            return make(_monday(published) + timedelta(weeks=shift), "week")
        if unit == "month":
            return make(_add_months(published, shift), "month")
        return make(date(published.year + shift, 1, 1), "year")
    if kind == "day_word":
        word = m.group(1).lower()
        offset = {"yesterday": -1, "tomorrow": 1}.get(word, 0)
        return make(published + timedelta(days=offset), "day")
    if kind == "weekday":
        modifier = (m.group(1) or "").lower()
        return make(_weekday(m.group(2), modifier, published, future), "day")
    if kind == "bare_month":
        when = _month_without_year(MONTHS.index(m.group(1).lower()) + 1, published, future)
        return make(when, "month") if when else None
    return None


def resolve_dates(text: str, published: date | None) -> list[Resolved]:
    """Every date phrase in `text` that can be resolved, in order; relative ones only when
    the publication date is known. Overlapping phrases: the one found first (longest) wins."""
    found: list[Resolved] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            resolved = _resolve_match(kind, m, text, published)
            if resolved is not None:
                found.append(resolved)
                taken.append((m.start(), m.end()))
    return sorted(found, key=lambda r: r.start)


def date_notes(quote: str, published_at: str | None) -> list[DateNote]:
    """Notes for the relative dates of a quote ("last month" = April 2023); none without a
    publication date."""
    published = parse_iso(published_at)
    if published is None:
        return []
    notes: list[DateNote] = []
    for r in resolve_dates(quote, published):
        if r.relative and r.label.lower() != r.phrase.lower():
            notes.append(DateNote(r.phrase.strip(), r.label, r.iso))
    return notes


def event_date(sentence: str, published_at: str | None) -> date | None:
    """When what a sentence reports happened: the first day it names that is not after its
    publication ("collapsed on Sunday" → that Sunday), else the publication date. Months and
    years ("built in 1962") and days to come are background, not the event reported."""
    published = parse_iso(published_at)
    if published is None:
        return None
    for r in resolve_dates(sentence, published):
        if r.precision == "day" and r.when <= published:
            return r.when
    return published
