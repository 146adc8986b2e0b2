"""News-aware answering around the answerer: time frames, timelines, disagreement, dates.

News questions are about time, and news articles contradict and correct one another. This
layer sits between retrieval and the answerer: it keeps the sources a question's time words
ask for ("last week", "latest", "since the inquiry"), turns "how did X develop?" into a dated
list drawn from several articles, says so when two articles state different values for one
thing (rather than blending them), and dates what it shows: every quote's relative dates
resolved against its article's publication date, and a note on how current the answer is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from retrieval.answer.extractive import cite, looks_like_heading, question_kind
from retrieval.news.disagreement import Disagreement, find_disagreement
from retrieval.news.outlets import with_other_outlets
from retrieval.news.timeframe import TimeFrame, recency_note, timeline_subject
from retrieval.text.dates import date_notes, event_date, human_date, parse_iso
from retrieval.types import (
    Answer,
    Citation,
    Draft,
    Passage,
    Published,
    Reorder,
    SourcesDiffer,
    TimelineEntry,
)

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from retrieval.answer.extractive import ExtractiveAnswerer
    from retrieval.types import Evidence

__all__ = [
    "Answerer",
    "NewsStep",
    "Retriever",
    "annotate",
    "recent_first",
    "sources_differ_draft",
    "timeline_draft",
]

# Passages a timeline draws on: enough for several articles to each give an event.
TIMELINE_PASSAGES = 10
TIMELINE_EVENTS = 6
# "Latest" prefers newer sources among those whose best sentence scores this close to the best.
NEAR_BEST = 0.8
# The recency prior of a question with no time words, asked on a known day: among the first
# RECENT_HEAD fused candidates, those whose article is dated in the RECENT_DAYS up to and
# including the day asked have their fused score multiplied by RECENT_BOOST — a recent report
# over a stale one, not this week's over last month's — when one of them is about as close in
# meaning to the question as the closest candidate (cosine within RECENT_MARGIN). Measured on
# the RealTime QA sets, whose ids give the day asked (docs/notes/issue13-analysis.md, section
# 9): answer accuracy on rtqa_2024_full 0.290 → 0.312 (+2 / −0), rtqa_2025_2026 0.685 → 0.688
# (+9 / −6). A week (the first try) broke the pinned news-aware answer na-15: the week's other
# story of the same name pushed out the month-old report that answers; 30 days broke three; 90
# declined one more answerable full-page question. Without the closeness condition a recent
# article on another subject rose over the one report that answers in a two-article store
# (tests/test_shell_beside.py). RGB, seed + BBC carry no dates.
RECENT_DAYS = 60
RECENT_BOOST = 1.5
RECENT_HEAD = 12
RECENT_MARGIN = 0.1


def timeline_draft(
    subject: str,
    passages: Sequence[Passage],
    answerer: ExtractiveAnswerer,
    *,
    after: date | None = None,
) -> Draft | None:
    """A dated list, oldest first, one line per article: each article's sentence that best
    answers the subject, placed at the day it reports (else its publication date). None when
    fewer than two dated events are found: then an ordinary answer is better."""
    evidence = answerer.score_sentences(subject, list(passages))
    if not evidence or evidence[0].score < answerer.min_score:
        return None
    floor = max(answerer.min_score, 0.4 * evidence[0].score)
    events: dict[str, tuple[date, Evidence]] = {}
    for item in evidence:
        if item.score < floor or len(events) == TIMELINE_EVENTS:
            break
        if item.passage.article_id in events or looks_like_heading(item.text):
            continue
        when = event_date(item.text, item.passage.published_at)
        if when is None or (after is not None and when <= after):
            continue  # undated events cannot be placed; the anchor event is not "after"
        events[item.passage.article_id] = (when, item)
    if len(events) < 2:
        return None
    ordered = sorted(events.values(), key=lambda e: (e[0], e[1].passage.published_at or ""))
    citations = cite([item for _, item in ordered])
    lines = [
        f"{human_date(when)}: {item.text} [{c.n}]"
        for (when, item), c in zip(ordered, citations, strict=True)
    ]
    return Draft(
        "\n".join(lines),
        citations,
        False,
        evidence,
        timeline=[
            TimelineEntry(when.isoformat(), c.n)
            for (when, _), c in zip(ordered, citations, strict=True)
        ],
    )


def sources_differ_draft(conflict: Disagreement, evidence: list[Evidence]) -> Draft:
    """Each side of a disagreement on its own line, oldest report first, each cited."""
    sides = sorted(
        (conflict.first, conflict.second), key=lambda e: e.passage.published_at or "9999"
    )
    citations = cite(sides)
    lines = ["The sources differ on this:"]
    for item, citation in zip(sides, citations, strict=True):
        day = parse_iso(item.passage.published_at)
        who = ", ".join(
            x for x in (human_date(day) if day else "undated", item.passage.source) if x
        )
        lines.append(f"- {who}: {item.text} [{citation.n}]")
    first_side = conflict.first is sides[0]
    values = list(conflict.values if first_side else conflict.values[::-1])
    return Draft(
        "\n".join(lines),
        citations,
        False,
        evidence,
        disagreement=SourcesDiffer(conflict.what, values, [c.n for c in citations]),
    )


def recent_first(frame: TimeFrame) -> Reorder | None:
    """The recency prior: for a question asked on a known day that names no time, the
    retriever's first candidates dated in the RECENT_DAYS up to that day rise (their fused
    score × RECENT_BOOST), so this season's report of a story comes before one of years ago
    ("which storm forced evacuations across Florida?": Helene, not Ian). None when
    the day is unknown or the question's own time words decide (`NewsStep.retrieve`).
    Only candidates already near the top move, and only when one of the recent ones is about
    as close in meaning to the question as the closest candidate (cosine within
    RECENT_MARGIN): in a small store every article is among the first candidates, and a
    recent one on another subject must not rise over the report that answers."""
    today = frame.today
    if today is None or frame.names_time:
        return None
    start = today - timedelta(days=RECENT_DAYS - 1)

    def reorder(
        fused: list[tuple[str, float]], published: Published, closeness: Mapping[str, float]
    ) -> list[tuple[str, float]]:
        head = fused[:RECENT_HEAD]
        dates = published([chunk_id for chunk_id, _ in head])
        recent = set()
        for chunk_id, _ in head:
            day = parse_iso(dates.get(chunk_id))
            if day is not None and start <= day <= today:
                recent.add(chunk_id)
        closest = max((closeness.get(chunk_id, -1.0) for chunk_id, _ in head), default=-1.0)
        if not any(closeness.get(c, -1.0) >= closest - RECENT_MARGIN for c in recent):
            return fused
        # (a stable sort: candidates of equal score keep their order)
        head = sorted(
            ((c, s * RECENT_BOOST if c in recent else s) for c, s in head),
            key=lambda pair: pair[1],
            reverse=True,
        )
        return head + fused[RECENT_HEAD:]

    return reorder


def annotate(answer: Answer, frame: TimeFrame) -> Answer:
    """Dates beside every quote, the other outlets that carry each cited fact, and a note on
    how current the answer is."""
    citations: list[Citation] = [
        replace(c, date_notes=date_notes(c.quote, c.published_at))
        for c in with_other_outlets(answer.citations, answer.passages)
    ]
    dates = [c.published_at for c in citations]
    known = sorted(d for d in dates if d and parse_iso(d))
    return replace(
        answer,
        citations=citations,
        newest_source=known[-1] if known else None,
        time_note=None if answer.abstained else recency_note(frame, dates),
    )


class NewsStep:
    """The news-aware parts of the answer pipeline: retrieval within a question's time frame,
    timelines and disagreement around any answerer, and dates on the finished answer.
    Timelines and disagreement use the extractive answerer's sentence scores."""

    def __init__(
        self,
        *,
        retriever: Retriever,
        extractive: ExtractiveAnswerer,
        encode: Callable[[list[str]], Any],
    ) -> None:
        self.retriever = retriever
        self.extractive = extractive
        self._encode = encode

    def date_of(self, event: str, kb: str) -> date | None:
        """The day of an event named in a question ("the inquiry was ordered"): the earliest
        day reported by the sentences that describe it nearly as well as the best one —
        later articles refer back to an event, the first reports it."""
        evidence = self.extractive.score_sentences(event, self.retriever.search(event, kb, 4))
        if not evidence or evidence[0].score < self.extractive.min_score:
            return None
        floor = NEAR_BEST * evidence[0].score
        days = [event_date(e.text, e.passage.published_at) for e in evidence if e.score >= floor]
        known = [d for d in days if d is not None]
        return min(known) if known else None

    def retrieve(
        self, question: str, kb: str, k: int, frame: TimeFrame
    ) -> tuple[list[Passage], TimeFrame]:
        """The passages for a question in its time frame. A window keeps the sources inside
        it when there are any among the relevant candidates (and says so when there are
        none); "latest" keeps the newest of them. A question that names no time, asked on a
        known day, gets the recency prior (`recent_first`)."""
        if frame.after and frame.start is None:
            anchor = self.date_of(frame.after, kb)
            if anchor is not None:
                frame = frame.since(anchor, f"{frame.after} ({human_date(anchor)})")
        if frame.timeline:
            question, k = timeline_subject(question), max(k, TIMELINE_PASSAGES)
        if not frame.windowed and not frame.wants_current:
            return self.retriever.search(question, kb, k, recent_first(frame)), frame
        candidates = self.retriever.search(question, kb, max(3 * k, 12))
        if frame.windowed:
            inside = [p for p in candidates if frame.contains(p.published_at)]
            if inside:
                return inside[:k], frame
            return candidates[:k], replace(frame, in_window=False)
        return self._newest_relevant(question, candidates[: 2 * k], k), frame

    def _newest_relevant(self, question: str, pool: list[Passage], k: int) -> list[Passage]:
        """For "latest": of the passages that answer nearly as well as the best one (by their
        best sentence), the newest first; then the rest in order of relevance. Relevance
        comes first: a newer article about something else is no answer."""
        best: dict[str, float] = {}
        for item in self.extractive.score_sentences(question, pool):
            best.setdefault(item.passage.chunk_id, item.score)
        if not best:
            return pool[:k]
        top = max(best.values())
        close = [p for p in pool if best.get(p.chunk_id, float("-inf")) >= NEAR_BEST * top]
        close.sort(key=lambda p: p.published_at or "", reverse=True)
        return (close + [p for p in pool if p not in close])[:k]

    def compose(
        self,
        question: str,
        passages: list[Passage],
        frame: TimeFrame,
        answerer: Answerer,
        config: RunnableConfig | None = None,
    ) -> Draft:
        """The answerer's draft; a timeline instead when the question asks how something
        developed, and both sides when the sources differ on what was asked."""
        if frame.timeline:
            after = frame.start if frame.after else None
            subject = timeline_subject(question)
            draft = timeline_draft(subject, passages, self.extractive, after=after)
            if draft is not None:
                return draft
        draft = answerer.answer(question, passages, config)
        if draft.abstained or not draft.evidence or draft.answerer:
            return draft  # a generated answer (or its fallback) is left as it is
        lead = draft.evidence[0]
        conflict = find_disagreement(
            question,
            draft.evidence,
            self._encode,
            floor=max(self.extractive.min_score, self.extractive.support_ratio * lead.score),
            kind=question_kind(question),
        )
        if conflict is None:
            return draft
        return sources_differ_draft(conflict, draft.evidence)

    annotate = staticmethod(annotate)


class Retriever(Protocol):
    """What the answer pipeline needs of retrieval (`retrieval.index.retriever`)."""

    def search(
        self, question: str, kb: str, k: int, reorder: Reorder | None = None
    ) -> list[Passage]: ...


class Answerer(Protocol):
    """Composes a draft answer from passages (`retrieval.answer`: extractive, generative)."""

    name: str

    def answer(
        self, question: str, passages: list[Passage], config: RunnableConfig | None = None
    ) -> Draft: ...
