"""What an answer is: text with [n] markers, the citations behind them, the passages seen."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from retrieval.store import Passage

if TYPE_CHECKING:
    from retrieval.extractive import Evidence

__all__ = ["ABSTAIN_TEXT", "Answer", "Citation", "Draft"]

ABSTAIN_TEXT = "The articles I have don't answer that."


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
    verified: bool = True  # the cited passage supports the sentence (see citation_check.py)

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

    def to_json(self) -> dict[str, Any]:
        """The `ask --json` contract of DESIGN.md."""
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
                }
                for p in self.passages
            ],
            "answerer": self.answerer,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "dropped": list(self.dropped),
            "notice": self.notice,  # a caveat: partly answered, or a fallback's reason
        }
