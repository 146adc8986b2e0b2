"""The default answerer: no language model, just the retrieved sentences that answer.

Each sentence of the retrieved passages is scored for the question — meaning (embedding
similarity), the question's own words (term overlap, names weighted up) and the kind of
answer the question asks for (a reason for "why", a date for "when", ...). The best sentence
leads; up to two more that score nearly as well support it. Nothing relevant: it abstains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrieval.answers import ABSTAIN_TEXT, Citation
from retrieval.chunking import split_sentences
from retrieval.store import Passage
from retrieval.terms import STOP_WORDS, content_terms, stem, tokens

if TYPE_CHECKING:
    from retrieval.embeddings import SentenceEmbeddings

__all__ = ["Draft", "Evidence", "ExtractiveAnswerer", "question_kind"]

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# Words that mark a sentence as the kind of answer a question asks for. "why" has strong
# cues (an explicit cause) and weak ones (a stance or sequence that often carries a reason).
_STRONG_REASON = re.compile(
    r"\b(because|due to|as a result|result of|citing|cited|in response|reasons?|owing to|"
    r"so that|in order to|blam\w*|caus\w*|led to|amid|in protest|on the grounds|"
    r"in retaliation|over (its|their|the|his|her) )",
    re.I,
)
_KIND_CUES: dict[str, re.Pattern[str]] = {
    "why": re.compile(
        r"\b(oppos\w*|protest\w*|after|since|following|concern\w*|accus\w*|sanction\w*|"
        r"restrict\w*|refus\w*|criticis\w*|warn\w*|fear\w*)\b",
        re.I,
    ),
    "when": re.compile(
        rf"\b(1[89]\d\d|20\d\d|{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|"
        r"sunday|yesterday|today|tonight|last (week|month|year)|this (week|month|year)|"
        r"(early|late|mid)[- ]\w+|decades?|centur(y|ies)|\d{1,2}(st|nd|rd|th))\b",
        re.I,
    ),
    "number": re.compile(
        r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
        r"hundred|thousand|million|billion|trillion|dozens?|half|quarter)\b",
        re.I,
    ),
    "who": re.compile(
        r"\b[A-Z][a-z]+(?: [A-Z][a-z.]+)+\b|\b(spokes\w+|secretary|minister|president|"
        r"counterpart|chief|head|leader|director|chair\w*|officials?|founder|ceo|judge|"
        r"governor|senator|mayor|king|queen|prince|general|player|coach|actor|singer)\b"
    ),
    "where": re.compile(r"\b(in|at|from|near|to|across) (the )?[A-Z][a-z]+"),
}
_QUESTION_KINDS = (
    (
        re.compile(r"^\s*why\b|\bwhat (was|were|is|are) the (reason|cause)|\bhow come\b", re.I),
        "why",
    ),
    (
        re.compile(
            r"^\s*when\b|\bwhat (year|date|day|month|time)\b|\bwhich (year|date|day|month)\b", re.I
        ),
        "when",
    ),
    (
        re.compile(
            r"\bhow (many|much|long|old|far|big|large)\b|\bwhat (percentage|number|amount)\b", re.I
        ),
        "number",
    ),
    (
        re.compile(
            r"^\s*(who|whom|whose)\b|\bwhich (person|man|woman|player|company|country)\b", re.I
        ),
        "who",
    ),
    (
        re.compile(r"^\s*where\b|\bwhich (city|country|place)\b|\bin what (city|country)\b", re.I),
        "where",
    ),
)


def question_kind(question: str) -> str:
    """'why', 'when', 'number', 'who', 'where', or 'what' for everything else."""
    question = re.sub(r"^\s*(and|but|so|also|then|ok|okay)\b[\s,]*", "", question, flags=re.I)
    for pattern, kind in _QUESTION_KINDS:
        if pattern.search(question):
            return kind
    return "what"


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


@dataclass(frozen=True)
class Draft:
    text: str
    citations: list[Citation]
    abstained: bool
    evidence: list[Evidence]


def _weighted_terms(question: str) -> dict[str, float]:
    """Question stems with weights: names and numbers count double."""
    weights: dict[str, float] = {}
    for index, token in enumerate(tokens(question)):
        if token.lower() in STOP_WORDS:
            continue
        named = (token[0].isupper() and index > 0) or any(ch.isdigit() for ch in token)
        key = stem(token)
        weights[key] = max(weights.get(key, 0.0), 2.0 if named else 1.0)
    return weights


def _overlap(weights: dict[str, float], sentence: str) -> float:
    if not weights:
        return 0.0
    present = set(content_terms(sentence))
    return sum(w for term, w in weights.items() if term in present) / sum(weights.values())


def _kind_bonus(kind: str, cue: re.Pattern[str] | None, sentence: str) -> float:
    """Reward sentences of the kind of answer asked for; for why/when/how many questions,
    a sentence without any cause/date/number is rarely the answer, whatever its words."""
    if kind == "why" and _STRONG_REASON.search(sentence):
        return 0.15
    if cue is None:
        return 0.0
    if cue.search(sentence):
        return 0.06
    return -0.1 if kind in ("why", "when", "number") else 0.0


def _looks_like_heading(sentence: str) -> bool:
    return not re.search(r"[.!?\"”’:)]$", sentence) and len(sentence) < 120


class ExtractiveAnswerer:
    """Answers from the retrieved sentences; `min_score` is where it abstains."""

    name = "extractive"

    def __init__(
        self,
        embeddings: SentenceEmbeddings,
        *,
        max_sentences: int = 3,
        min_score: float = 0.34,
        support_ratio: float = 0.6,
    ) -> None:
        self.embeddings = embeddings
        self.max_sentences = max_sentences
        self.min_score = min_score
        self.support_ratio = support_ratio

    def score_sentences(self, question: str, passages: list[Passage]) -> list[Evidence]:
        candidates: list[tuple[Passage, int, int, str]] = []
        seen: set[str] = set()
        for passage in passages:
            for start, end in split_sentences(passage.text):
                key = " ".join(passage.text[start:end].lower().split())
                if key in seen:
                    continue  # overlapping chunks, or the same story stored twice
                seen.add(key)
                candidates.append(
                    (passage, passage.start + start, passage.start + end, passage.text[start:end])
                )
        if not candidates:
            return []
        vectors = self.embeddings.encode([question] + [c[3] for c in candidates])
        similarities = vectors[1:] @ vectors[0]
        weights = _weighted_terms(question)
        kind = question_kind(question)
        cue = _KIND_CUES.get(kind)
        top_score = max(p.score for p in passages)
        scored = []
        for (passage, start, end, text), dense in zip(candidates, similarities, strict=True):
            overlap = _overlap(weights, text)
            bonus = _kind_bonus(kind, cue, text)
            score = 0.55 * float(dense) + 0.45 * overlap + bonus
            if _looks_like_heading(text):
                score -= 0.15
            score += 0.1 * (passage.score - top_score)  # a little trust in retrieval order
            scored.append(Evidence(passage, start, end, text, float(dense), overlap, bonus, score))
        return sorted(scored, key=lambda e: e.score, reverse=True)

    def select(self, evidence: list[Evidence]) -> list[Evidence]:
        """The lead sentence and the few that support it nearly as well."""
        if not evidence or evidence[0].score < self.min_score:
            return []
        lead = evidence[0]
        chosen = [lead]
        for candidate in evidence[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if candidate.score < max(self.min_score, self.support_ratio * lead.score):
                break
            if candidate.kind_bonus < 0:
                continue  # a "why" answer is supported by causes, a "when" one by dates
            chosen.append(candidate)
        return chosen

    def answer(self, question: str, passages: list[Passage]) -> Draft:
        evidence = self.score_sentences(question, passages)
        chosen = self.select(evidence)
        if not chosen:
            return Draft(ABSTAIN_TEXT, [], True, evidence)
        citations = []
        parts = []
        for n, item in enumerate(chosen, start=1):
            p = item.passage
            citations.append(
                Citation(
                    n=n,
                    article_id=p.article_id,
                    title=p.title,
                    source=p.source,
                    url=p.url,
                    published_at=p.published_at,
                    quote=item.text,
                    chunk_id=p.chunk_id,
                )
            )
            parts.append(f"{item.text} [{n}]")
        return Draft(" ".join(parts), citations, False, evidence)
