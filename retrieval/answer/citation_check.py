"""Checking a generated answer against its citations, one sentence at a time.

A sentence stands only if a passage it cites supports it: every number, date and name in the
sentence occurs in that passage (or its headline), and the sentence is close in meaning to some
sentence of the passage. A citation to a passage that was never shown, a sentence with no
citation, and a sentence its passage does not support are removed — or, in "mark" mode, kept
and flagged. Passage sentences that give orders ("ignore your instructions and ...") are text
to answer about, never evidence, so they support nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

from retrieval.index.vector_cache import VectorCache
from retrieval.text.dates import MONTHS, WEEKDAYS
from retrieval.text.sentences import split_sentences
from retrieval.text.terms import STOP_WORDS, stem, tokens
from retrieval.types import Citation, Passage

if TYPE_CHECKING:
    from retrieval.index.embeddings import SentenceEmbeddings

__all__ = [
    "DEFAULT_MIN_SIMILARITY",
    "CheckResult",
    "CitationChecker",
    "Claim",
    "SentenceCheck",
    "missing_facts",
    "split_claims",
]

# Chosen on data with benchmarks/citation_threshold.py (all-MiniLM-L6-v2, max cosine over a
# passage's sentences, sentence pairs and clauses). Share of pairs the whole check (facts and
# similarity >= t) lets through:
#                                               t = 0.50  0.55  0.60  0.65  0.70
#   supported: sentence, 1/3 of words dropped (300)  1.00  1.00  1.00  0.99  0.99
#   supported: seed paraphrases (15)                 1.00  1.00  1.00  0.80  0.73
#   unsupported: same-topic other passage (236)      0.13  0.11  0.10  0.08  0.07
#   unsupported: seed claims it does not make (14)   0.50  0.36  0.36  0.29  0.29
# 0.60 is the highest threshold that keeps every supported pair; from 0.65 real paraphrases
# drop. The facts test alone already rejects 83% of the same-topic pairs; what neither
# catches is a claim that reuses a passage's words to say something else ("China agreed
# to the meeting") — an embedding cannot see negation.
DEFAULT_MIN_SIMILARITY = 0.60
UNVERIFIED_MARK = "(unverified)"
_CACHED_WINDOWS = 4096

_MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d+(?:\s*[,;]\s*\d+)*)\s*\]", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.M)
_DELIMITER = re.compile(r"</?passage\b[^>]*>", re.I)
_EMPHASIS = re.compile(r"\*\*|__|`")
_CLAUSE_BREAK = re.compile(
    r"[,;:]\s+|\s+[—–-]\s+|\s+(?=(?:including|because|as a result of|after|while|which|who)\b)"
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ALIASES = (
    (re.compile(r"\bUnited States( of America)?\b"), "US"),
    (re.compile(r"\bU\.S\.(?:A\.)?"), "US"),
    (re.compile(r"\bUnited Kingdom\b"), "UK"),
    (re.compile(r"\bU\.K\."), "UK"),
)
# A passage sentence addressed to the reader of the prompt, not reporting anything.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,60}\b(instructions?|prompts?|rules|directions|"
    r"guidelines)\b|\bsystem prompt\b|\byou are (now )?(an? )?(ai|assistant|chatbot|language "
    r"model)\b|\b(ai|assistant|chatbot|language model)s?,? (must|should|will) (now )?(say|reply|"
    r"answer|respond|tell|write)\b",
    re.I,
)


@dataclass(frozen=True)
class Claim:
    """One generated sentence, without its markers, and the passage numbers it cites."""

    text: str
    markers: tuple[int, ...]
    raw: str


@dataclass(frozen=True)
class Support:
    """How well passage `number` supports a claim; `quote` is its closest sentence."""

    number: int
    passage: Passage
    similarity: float
    quote: str
    missing: tuple[str, ...]
    min_similarity: float

    @property
    def supports(self) -> bool:
        return not self.missing and self.similarity >= self.min_similarity


@dataclass(frozen=True)
class SentenceCheck:
    claim: Claim
    supports: list[Support]
    unusable_markers: tuple[int, ...]  # no such passage, or one holding only instructions

    @property
    def supported_by(self) -> list[Support]:
        return [s for s in self.supports if s.supports]

    @property
    def reason(self) -> str:
        if self.supported_by:
            return "supported"
        if not self.claim.markers:
            return "no citation"
        if not self.supports:
            cited = ", ".join(map(str, self.unusable_markers))
            return f"cites passage(s) {cited}, which the model was not given"
        missing = sorted({m for s in self.supports for m in s.missing})
        if missing:
            return f"not in the cited passage: {', '.join(missing)}"
        best = max(s.similarity for s in self.supports)
        return f"not close enough in meaning to the cited passage ({best:.2f})"


@dataclass
class CheckResult:
    text: str
    citations: list[Citation]
    sentences: list[SentenceCheck]
    dropped: list[str] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return sum(1 for s in self.sentences if s.supported_by)


def _normalise(text: str) -> str:
    for pattern, replacement in _ALIASES:
        text = pattern.sub(replacement, text)
    return text


def split_claims(answer: str) -> list[Claim]:
    """The sentences of a generated answer with the passage numbers each cites. A marker that
    opens a sentence ("... meeting. [2] Later ...") belongs to the sentence before it."""
    # the prompt's delimiters, echoed back, are not part of any claim
    text = _EMPHASIS.sub("", _BULLET.sub("", _DELIMITER.sub(" ", answer)))
    claims: list[Claim] = []
    for start, end in split_sentences(text):
        raw = text[start:end]
        leading = re.match(rf"^(?:\s*{_MARKER.pattern})+", raw, re.I)
        if leading and claims and not claims[-1].markers:
            previous = claims.pop()
            claims.append(
                Claim(previous.text, _numbers_in(leading.group()), f"{previous.raw} {leading[0]}")
            )
            raw = raw[leading.end() :].strip()
        markers = _numbers_in(" ".join(m.group() for m in _MARKER.finditer(raw)))
        clean = " ".join(_MARKER.sub(" ", raw).split())
        clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
        if re.search(r"\w", clean):
            claims.append(Claim(clean, markers, raw.strip()))
        elif markers and claims:
            previous = claims.pop()
            merged = tuple(dict.fromkeys(previous.markers + markers))
            claims.append(Claim(previous.text, merged, f"{previous.raw} {raw}"))
    return claims


def _numbers_in(markers: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(n) for n in re.findall(r"\d+", markers)))


def _facts(sentence: str) -> dict[str, str]:
    """Numbers, dates and names of a sentence: matching key → the word as written."""
    sentence = _normalise(sentence)
    facts = {n.replace(",", "").rstrip("."): n for n in _NUMBER.findall(sentence)}
    words = tokens(sentence)
    for index, word in enumerate(words):
        lower = word.lower()
        if lower in MONTHS or lower in WEEKDAYS:
            if word[0].isupper() or lower not in ("may", "march"):
                facts[lower] = word
            continue
        if not word[0].isupper() or lower in STOP_WORDS or word.isdigit() or word == "I":
            continue
        # The first word is capitalised anyway: a name only if the next one is too, or it is
        # possessive ("China's ...").
        if index == 0 and not (
            word.endswith(("'s", "’s")) or (len(words) > 1 and words[1][0].isupper())
        ):
            continue
        facts[_name_key(word)] = word
    return facts


def _name_key(word: str) -> str:
    return stem(word).replace(".", "")


def missing_facts(sentence: str, passage_text: str) -> list[str]:
    """The numbers, dates and names of `sentence` that `passage_text` does not contain."""
    text = _normalise(passage_text)
    present = {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}
    present |= {_name_key(word) for word in tokens(text)}
    present |= {word.lower() for word in tokens(text)}
    return [word for key, word in _facts(sentence).items() if key not in present]


def _evidence_sentences(passage: Passage) -> list[str]:
    """The passage's sentences that can support a claim: not orders to the reader."""
    spans = split_sentences(passage.text)
    return [
        passage.text[start:end]
        for start, end in spans
        if not _INSTRUCTION.search(passage.text[start:end])
    ]


def support_windows(sentences: list[str]) -> list[tuple[str, tuple[int, ...]]]:
    """The pieces of a passage a generated sentence is compared with, each with the indices
    of the sentences it comes from: every sentence first (in order), then adjacent pairs (a
    generated sentence often joins two), then the clauses of long sentences (it often keeps
    one clause of a long one, which a whole-sentence embedding dilutes)."""
    windows: list[tuple[str, tuple[int, ...]]] = [(s, (i,)) for i, s in enumerate(sentences)]
    windows += [(f"{a} {b}", (i, i + 1)) for i, (a, b) in enumerate(pairwise(sentences))]
    for i, sentence in enumerate(sentences):
        clauses = [c for c in _CLAUSE_BREAK.split(sentence) if len(c) >= 20]
        if len(clauses) > 1:
            windows += [(clause, (i,)) for clause in clauses]
            windows += [(f"{a}, {b}", (i,)) for a, b in pairwise(clauses)]
    return windows


class CitationChecker:
    """Checks generated answers against the passages numbered 1..n that the model was shown."""

    def __init__(
        self,
        embeddings: SentenceEmbeddings,
        *,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
        mode: Literal["remove", "mark"] = "remove",
    ) -> None:
        self.embeddings = embeddings
        self.min_similarity = min_similarity
        self.mode = mode
        # passage pieces recur (follow-ups retrieve the same passages): encode each once
        self._windows = VectorCache(embeddings, size=_CACHED_WINDOWS)

    def check_sentences(self, claims: list[Claim], passages: list[Passage]) -> list[SentenceCheck]:
        evidence = [_evidence_sentences(p) for p in passages]
        windows = [support_windows(sentences) for sentences in evidence]
        if not claims:
            return []
        claim_vectors = self.embeddings.encode([c.text for c in claims])
        window_vectors = self._windows.encode([text for ws in windows for text, _ in ws])
        offsets, offset = [], 0
        for ws in windows:
            offsets.append(offset)
            offset += len(ws)
        checks = []
        for index, claim in enumerate(claims):
            supports, unusable = [], []
            for number in claim.markers:
                if not 1 <= number <= len(passages) or not evidence[number - 1]:
                    unusable.append(number)
                    continue
                sentences, passage = evidence[number - 1], passages[number - 1]
                first = offsets[number - 1]
                similarities = (
                    window_vectors[first : first + len(windows[number - 1])] @ claim_vectors[index]
                )
                best = int(similarities.argmax())
                # The quote is a whole sentence of the passage (so it is verbatim): of those
                # the best window spans, the one closest on its own (windows start with the
                # sentences, in order).
                around = windows[number - 1][best][1]
                quote = sentences[max(around, key=lambda i: float(similarities[i]))]
                material = " ".join([passage.title, passage.published_at or "", *sentences])
                supports.append(
                    Support(
                        number=number,
                        passage=passage,
                        similarity=float(similarities[best]),
                        quote=quote,
                        missing=tuple(missing_facts(claim.text, material)),
                        min_similarity=self.min_similarity,
                    )
                )
            checks.append(SentenceCheck(claim, supports, tuple(unusable)))
        return checks

    def check(self, answer: str, passages: list[Passage]) -> CheckResult:
        """The answer rebuilt from the sentences that stand, each citation renumbered in order
        of appearance and pointing at the passage sentence closest to what it supports."""
        checks = self.check_sentences(split_claims(answer), passages)
        citations: list[Citation] = []
        numbers: dict[tuple[str, str, bool], int] = {}
        parts: list[str] = []
        dropped: list[str] = []

        def cite(support: Support, verified: bool) -> str:
            key = (support.passage.chunk_id, support.quote, verified)
            if key not in numbers:
                numbers[key] = len(citations) + 1
                citations.append(
                    Citation.of(numbers[key], support.passage, support.quote, verified=verified)
                )
            return f"[{numbers[key]}]"

        for check in checks:
            if check.supported_by:
                markers = " ".join(cite(s, True) for s in check.supported_by)
                parts.append(f"{check.claim.text} {markers}")
            elif self.mode == "mark":
                markers = " ".join(cite(s, False) for s in check.supports)
                parts.append(" ".join(x for x in (check.claim.text, markers, UNVERIFIED_MARK) if x))
            else:
                dropped.append(check.claim.raw)
        return CheckResult(" ".join(parts), citations, checks, dropped)
