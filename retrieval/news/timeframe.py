"""The time a question is about: "latest", "this week", "in May", "since the summit", "how did
X develop?" — resolved against the day the question is asked.

"Today" is always passed in (the service's clock, a setting, or an eval row's date), never
read here; with no today, words like "this week" are not resolved at all, so they can never
filter away the evidence. Timeline questions need no today: they only order what is found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from retrieval.text.dates import MONTH_ALTERNATION, MONTHS, human_date, parse_iso

__all__ = ["STALE_DAYS", "TimeFrame", "read_question", "recency_note", "timeline_subject"]

# "Latest" and "now" answers whose newest source is older than this say it may be out of date.
STALE_DAYS = 30

_CURRENT = re.compile(
    r"\b(latest|newest|most recent|recent(ly)?|now|currently|current|today|tonight|"
    r"this (week|month|year)|at the moment|so far|still|any news|up to date|update)\b",
    re.I,
)
_TIMELINE = re.compile(
    r"^\s*timeline\b|\b(timeline of|chronology of|sequence of events|"
    r"how (did|has|have|had) .+ (develop|unfold|evolve|progress|change|play out)\w*|"
    r"what (has |had )?happened (after|since|next|following)|what happened then|"
    r"what (has |had )?happened\b.*\b(since|after|following)\b|"
    r"what (came|comes|followed) (next|after))\b",
    re.I,
)
# What a timeline question asks about, once its framing words are gone.
_TIMELINE_WORDS = re.compile(
    r"\b(give me|show me|what is|what's|the|a|timeline|chronology|sequence of events|history|"
    r"of|how|did|has|have|had|develop(ed)?|unfold(ed)?|evolve(d)?|progress(ed)?|change(d)?|"
    r"play(ed)? out|what|happened|happen|next|then|story|step by step|events?|since|after|"
    r"following|so far)\b|\?",
    re.I,
)
_SINCE = re.compile(r"\b(since|after|following)\s+(.+?)\s*\??$", re.I)


@dataclass(frozen=True)
class TimeFrame:
    """What a question asks of time. `start`/`end` bound the publication dates wanted;
    `after` names an event ("the summit") whose date becomes `start` once it is found."""

    today: date | None = None
    start: date | None = None
    end: date | None = None
    label: str | None = None
    wants_current: bool = False
    timeline: bool = False
    after: str | None = None
    in_window: bool = True  # set after retrieval: some source falls inside the window

    @property
    def windowed(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def names_time(self) -> bool:
        """The question's words ask something of time: a window, "latest", a timeline, or
        "since" an event."""
        return self.windowed or self.wants_current or self.timeline or self.after is not None

    def contains(self, published_at: str | None) -> bool:
        day = parse_iso(published_at)
        if day is None:
            return False
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def since(self, anchor: date, label: str) -> TimeFrame:
        return replace(self, start=anchor, end=self.today, label=f"after {label}")


def _span_label(phrase: str, start: date, end: date) -> str:
    if start == end:
        return f"{phrase} ({human_date(start)})"
    return f"{phrase} ({human_date(start)} to {human_date(end)})"


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def _window(question: str, today: date) -> tuple[date, date, str] | None:
    """The publication dates a time phrase of the question covers, up to today."""
    q = question.lower()
    if re.search(r"\btoday\b|\btonight\b", q):
        return today, today, _span_label("today", today, today)
    if re.search(r"\byesterday\b", q):
        day = today - timedelta(days=1)
        return day, day, _span_label("yesterday", day, day)
    match = re.search(r"\b(?:past|last) (\d+|two|three|four|five|six|seven) (day|week)s\b", q)
    if match:
        words = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
        count = words.get(match.group(1)) or int(match.group(1))
        days = count * (7 if match.group(2) == "week" else 1)
        start = today - timedelta(days=days)
        return start, today, _span_label(match.group(0), start, today)
    if re.search(r"\bthis week\b", q):
        start = today - timedelta(days=6)
        return start, today, _span_label("this week", start, today)
    if re.search(r"\blast week\b", q):
        monday = today - timedelta(days=today.weekday())
        start, end = monday - timedelta(days=7), monday - timedelta(days=1)
        return start, end, _span_label("last week", start, end)
    if re.search(r"\bthis month\b", q):
        start = today.replace(day=1)
        return start, today, _span_label("this month", start, today)
    if re.search(r"\blast month\b", q):
        end = today.replace(day=1) - timedelta(days=1)
        start = end.replace(day=1)
        return start, end, _span_label("last month", start, end)
    if re.search(r"\bthis year\b", q):
        start = date(today.year, 1, 1)
        return start, today, f"this year ({today.year})"
    if re.search(r"\blast year\b", q):
        return (
            date(today.year - 1, 1, 1),
            date(today.year - 1, 12, 31),
            f"last year ({today.year - 1})",
        )
    match = re.search(rf"\b(in|during|since|from) ({MONTH_ALTERNATION})(?: (\d{{4}}))?\b", q)
    if match:
        month = MONTHS.index(match.group(2)) + 1
        if match.group(3):
            year = int(match.group(3))
        else:  # the most recent such month, up to today
            year = today.year if month <= today.month else today.year - 1
        start = date(year, month, 1)
        name = f"{MONTHS[month - 1].capitalize()} {year}"
        if match.group(1) in ("since", "from"):
            return start, today, f"since {name}"
        return start, min(_month_end(year, month), today), name
    match = re.search(r"\b(in|during|since) ((?:19|20)\d\d)\b", q)
    if match:
        year = int(match.group(2))
        if match.group(1) == "since":
            return date(year, 1, 1), today, f"since {year}"
        return date(year, 1, 1), date(year, 12, 31), str(year)
    return None


def read_question(question: str, today: date | None) -> TimeFrame:
    """The time frame of a question asked on `today` (None: the day is not known)."""
    timeline = bool(_TIMELINE.search(question))
    after = None
    since = _SINCE.search(question)
    window = _window(question, today) if today is not None else None
    # "since the summit" dates an event and keeps what came after; a bare "after" is too
    # common ("why did shares fall after the results?") unless it asks what happened.
    if (
        since
        and window is None
        and (since.group(1).lower() == "since" or timeline)
        and not re.search(r"\d|\b(week|month|year)\b", since.group(2))
    ):
        after = since.group(2)
    if today is None:
        # The day of asking is unknown: nothing may filter the evidence, only order it.
        return TimeFrame(timeline=timeline, after=after if timeline else None)
    frame = TimeFrame(
        today=today, wants_current=bool(_CURRENT.search(question)), timeline=timeline, after=after
    )
    if window is not None:
        start, end, label = window
        frame = replace(frame, start=start, end=end, label=label)
    return frame


def timeline_subject(question: str) -> str:
    """'How did the Harlow Bridge story develop?' → 'Harlow Bridge': what to score against."""
    subject = " ".join(_TIMELINE_WORDS.sub(" ", question).split())
    return subject or question


def recency_note(frame: TimeFrame, dates: list[str | None]) -> str:
    """How current an answer is: its newest source, and a plain warning when a question
    about now (or about a window) is answered from older sources."""
    known = sorted(d for d in (parse_iso(x) for x in dates) if d is not None)
    if not known:
        return "The sources carry no publication date."
    newest = known[-1]
    note = f"Newest source: {human_date(newest)}."
    if frame.windowed and not frame.in_window and frame.label:
        note += f" No article on this is from {frame.label}; these are the closest."
    elif frame.today is not None and frame.wants_current:
        age = (frame.today - newest).days
        if age > STALE_DAYS:
            note += (
                f" That is {_age(age)} before today ({human_date(frame.today)}): "
                "there may be newer developments than these articles know."
            )
    return note


def _age(days: int) -> str:
    if days >= 730:
        return f"{days // 365} years"
    if days >= 60:
        return f"{days // 30} months"
    if days >= 14:
        return f"{days // 7} weeks"
    return f"{days} days"
