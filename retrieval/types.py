"""The domain: what newsbot reads, stores, finds and answers. Plain data, no behaviour
beyond formatting, and no imports from the rest of newsbot, so every layer can use it.

Article → Chunk (a slice of its text) → Passage (a chunk found for a question, with its
article's title, source and date) → Evidence (a sentence of a passage) → Citation (a quote
shown under [n]; other outlets carrying the same fact: AlsoReported) → Draft (what an
answerer composes) → Answer (what a front end renders).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

__all__ = [
    "ABSTAIN_TEXT",
    "AddResult",
    "AlsoReported",
    "Answer",
    "Article",
    "CheckOutcome",
    "Chunk",
    "Citation",
    "DateNote",
    "Draft",
    "Evidence",
    "Feed",
    "Feedback",
    "KnowledgeBaseCheck",
    "Passage",
    "PollReport",
    "Published",
    "Question",
    "Reorder",
    "ServerSettings",
    "SourcesDiffer",
    "StoredArticle",
    "TimelineEntry",
    "Turn",
]


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    text: str
    url: str | None = None
    source: str | None = None
    published_at: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A slice of an article: `text == article.text[start:end]`."""

    id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class StoredArticle:
    id: str
    title: str
    source: str | None
    url: str | None
    published_at: str | None
    chunks: int
    chars: int
    updated_at: str | None = None  # when its text was last replaced (ISO, UTC); None: never


@dataclass(frozen=True)
class KnowledgeBaseCheck:
    """Whether a knowledge base's article records, passage vectors (Chroma), BM25 rows and
    sentence vectors agree (`newsbot check`). Each record owns the passages of its version
    (`chunks` of them); anything else is damage, listed by id:

    - `orphan_chunks`: passage vectors no record owns (no record, another version, past its
      count) — never returned, but they take places in the vector search;
    - `gaps`: articles whose record owns passages that are missing (`missing_chunks` in all);
      they are mended by embedding the record's text again;
    - `missing_lexical`: stored passages without their BM25 row (a word search misses them);
    - `stale_lexical`: BM25 rows of no stored passage, or a second row of one;
    - `stale_sentences`: sentence vectors of no stored passage;
    - `unfinished`: records still marked as half-way through an update."""

    kb: str
    articles: int
    passages: int
    orphan_chunks: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()
    missing_chunks: int = 0
    missing_lexical: tuple[str, ...] = ()
    stale_lexical: tuple[str, ...] = ()
    stale_sentences: int = 0
    unfinished: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (
            self.orphan_chunks
            or self.gaps
            or self.missing_lexical
            or self.stale_lexical
            or self.stale_sentences
            or self.unfinished
        )

    def damage(self) -> dict[str, int]:
        """Each kind of damage found, and how much of it (only kinds found)."""
        counts = {
            "orphan_chunks": len(self.orphan_chunks),
            "gaps": len(self.gaps),
            "missing_chunks": self.missing_chunks,
            "missing_lexical": len(self.missing_lexical),
            "stale_lexical": len(self.stale_lexical),
            "stale_sentences": self.stale_sentences,
            "unfinished": len(self.unfinished),
        }
        return {kind: count for kind, count in counts.items() if count}

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


@dataclass(frozen=True)
class CheckOutcome:
    """`newsbot check` of one knowledge base: what was `found`; with --repair, the articles
    whose passages were embedded again (`restored`) and the check made after (`after`)."""

    found: KnowledgeBaseCheck
    after: KnowledgeBaseCheck | None = None
    restored: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        """Clean now: as found, or after the repair."""
        return (self.after or self.found).clean

    def to_json(self) -> dict[str, Any]:
        return {
            "kb": self.found.kb,
            "clean": self.clean,
            "found": self.found.to_json(),
            "after": self.after.to_json() if self.after is not None else None,
            "restored": list(self.restored),
        }


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    article_id: str
    text: str
    score: float
    start: int
    end: int
    title: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    # passages of other articles that tell nothing this one does not (another outlet's copy
    # of the same story): folded into it by retrieval, so they take no place of their own
    echoes: tuple[Passage, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """One candidate sentence: `text == article.text[start:end]`."""

    passage: Passage
    start: int
    end: int
    text: str
    dense: float
    overlap: float
    kind_bonus: float
    score: float
    missing_names: float = 0.0  # share of the question's names its passage never mentions


@dataclass(frozen=True)
class DateNote:
    """Shown beside a quote: "August of last year" = August 2022."""

    phrase: str
    means: str
    iso: str


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation: the question as it stood alone, and the answer text."""

    question: str
    answer: str = ""


@dataclass(frozen=True)
class ServerSettings:
    """A Discord server's own settings: the channel where every message is a question, whether
    answers to /ask and mentions open a thread, and the knowledge base each channel uses (by
    name, within the server's own; a channel not listed uses the server's)."""

    ask_channel_id: int | None = None
    threads: bool = False
    channel_kbs: dict[int, str] = field(default_factory=dict)
    announce_channel_id: int | None = None  # where headlines of new feed articles are posted


@dataclass(frozen=True)
class Feedback:
    """A member's 👍 (+1) or 👎 (-1) on an answer: what was asked and answered, where — never
    who voted. `created_at` is an ISO timestamp (set when stored)."""

    guild_id: int
    kb: str
    question: str
    answer: str
    vote: int
    created_at: str = ""


@dataclass(frozen=True)
class Feed:
    """A followed RSS or Atom feed: which knowledge base its articles go to (and, from
    Discord, which server follows it), how often it is polled, and how the last polls went.
    `state` is "paused" after too many failures in a row; `last_error` says the latest;
    `note` says anything else worth knowing (a feed longer than what one poll reads).
    Times are ISO timestamps (UTC), `next_poll_at` seconds since the epoch."""

    id: int
    kb: str
    url: str
    title: str = ""
    guild_id: int | None = None
    interval_s: int = 900
    state: Literal["active", "paused"] = "active"
    failures: int = 0
    last_error: str | None = None
    note: str | None = None
    last_polled_at: str | None = None
    next_poll_at: float = 0.0
    entries_seen: int = 0

    @property
    def name(self) -> str:
        return self.title or self.url


@dataclass(frozen=True)
class PollReport:
    """One poll of one feed. `not_modified`: the server said 304 (nothing read). `added`: the
    articles stored by this poll (newest first); `summaries` of them are the feed's summary
    (the page could not be fetched); `skipped` says why entries were left out; `error` why
    the poll failed (the feed is tried again later, backing off)."""

    feed: Feed
    not_modified: bool = False
    entries: int = 0
    new_entries: int = 0
    added: list[StoredArticle] = field(default_factory=list)
    duplicates: int = 0
    summaries: int = 0
    skipped: list[str] = field(default_factory=list)
    error: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Question:
    """A question as the answer pipeline takes it: the words, the knowledge base, how many
    passages to read, the conversation so far, and the day it is asked (None: unknown, so
    time words filter nothing)."""

    text: str
    kb: str = "default"
    k: int = 4
    history: tuple[Turn, ...] = ()
    today: date | None = None


@dataclass(frozen=True)
class AddResult:
    article_id: str
    title: str
    chunks: int
    # "updated": the article was stored with another text, now replaced by this one
    status: Literal["added", "updated", "unchanged"]
    duplicate_of: str | None = None  # the stored article with the same body, if that is why


ABSTAIN_TEXT = "The articles I have don't answer that."


@dataclass(frozen=True)
class AlsoReported:
    """Another article carrying a cited fact, in its own words: `quote` is its sentence,
    verbatim (one fact told by several outlets is cited once, naming the others)."""

    article_id: str
    title: str
    source: str | None
    url: str | None
    published_at: str | None
    quote: str
    chunk_id: str

    @classmethod
    def of(cls, passage: Passage, quote: str) -> AlsoReported:
        return cls(
            article_id=passage.article_id,
            title=passage.title,
            source=passage.source,
            url=passage.url,
            published_at=passage.published_at,
            quote=quote,
            chunk_id=passage.chunk_id,
        )


@dataclass(frozen=True)
class Citation:
    n: int
    article_id: str
    title: str
    source: str | None
    url: str | None
    published_at: str | None
    quote: str
    chunk_id: str
    verified: bool = True  # the cited passage supports the sentence (answer/citation_check.py)
    # relative dates of the quote resolved against `published_at` ("last year" = 2022)
    date_notes: list[DateNote] = field(default_factory=list)
    # other articles (outlets) that carry the same fact (text/same_fact.py)
    also_in: list[AlsoReported] = field(default_factory=list)

    @classmethod
    def of(cls, n: int, passage: Passage, quote: str, *, verified: bool = True) -> Citation:
        """Citation `n`: `quote`, a verbatim slice of `passage`, with the passage's article."""
        return cls(
            n=n,
            article_id=passage.article_id,
            title=passage.title,
            source=passage.source,
            url=passage.url,
            published_at=passage.published_at,
            quote=quote,
            chunk_id=passage.chunk_id,
            verified=verified,
        )


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a timeline answer: the day of the event and the citation behind it."""

    date: str
    n: int


@dataclass(frozen=True)
class SourcesDiffer:
    """The answer's sources state different values for one thing; `citations` are each side."""

    what: str  # "number", "date" or "outcome"
    values: list[str]
    citations: list[int]


@dataclass(frozen=True)
class Draft:
    """What an answerer composes; the chain turns it into an `Answer`. `answerer` names who
    wrote it when that is not the configured answerer (a fallback); `dropped` holds generated
    sentences the citation check removed."""

    text: str
    citations: list[Citation]
    abstained: bool
    evidence: list[Evidence]
    answerer: str | None = None
    dropped: list[str] = field(default_factory=list)
    notice: str | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    disagreement: SourcesDiffer | None = None


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    passages: list[Passage]
    answerer: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone_question: str | None = None
    notice: str | None = None
    dropped: list[str] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    disagreement: SourcesDiffer | None = None
    time_note: str | None = None  # how current the answer is ("Newest source: 29 May 2023.")
    newest_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The `ask --json` object, every field of which docs/ask-json.md describes (and
        tests/test_docs_contracts.py holds to it): the base fields, `dropped`, `notice`, the
        news fields `newest_source`, `time_note`, `timeline` and `disagreement`, each
        citation's `verified`, `date_notes` and `also_in`, and each passage's `also_in`."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [asdict(c) for c in self.citations],
            "passages": [
                {
                    "chunk_id": p.chunk_id,
                    "article_id": p.article_id,
                    "text": p.text,
                    "score": round(p.score, 6),
                    "also_in": [
                        {"chunk_id": e.chunk_id, "article_id": e.article_id} for e in p.echoes
                    ],
                }
                for p in self.passages
            ],
            "answerer": self.answerer,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "dropped": list(self.dropped),
            "newest_source": self.newest_source,
            "time_note": self.time_note,
            "timeline": [asdict(entry) for entry in self.timeline],
            "disagreement": asdict(self.disagreement) if self.disagreement else None,
            "notice": self.notice,  # a caveat: partly answered, or a fallback's reason
        }


# The publication dates (ISO, or None) of the articles of these chunks, by chunk id.
Published = Callable[[Sequence[str]], dict[str, str | None]]
# A change of order to the retriever's fused ranking, [(chunk_id, score)] best first, made
# before it is cut to k; it may look up the dates of the chunks it weighs, and it is given
# their cosine similarity to the question (chunks the dense search found, by chunk id).
Reorder = Callable[
    [list[tuple[str, float]], Published, Mapping[str, float]], list[tuple[str, float]]
]
