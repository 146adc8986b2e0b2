"""Sources that disagree: two articles stating different numbers, dates or outcomes for the
same thing ("12 people were killed" / "nine people were killed, not 12 as first reported").

Blending them would give an answer neither source supports, so the answer says the sources
differ and cites each side. "The same thing" is read narrowly, to keep false alarms away:
the two sentences come from different articles, are close in meaning, are both relevant to
the question, and the differing values sit beside the same words — words the question uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retrieval.text.dates import MONTHS, parse_iso, resolve_dates
from retrieval.text.outcomes import opposite_outcome
from retrieval.text.terms import NUMBER_WORDS, STOP_WORDS, stem, tokens

if TYPE_CHECKING:
    from retrieval.types import Evidence

__all__ = ["Disagreement", "find_disagreement", "stated_values"]

# How close in meaning (cosine) two sentences must be to be about the same thing.
MIN_SIMILARITY = 0.5
# Words on either side of a value that say what it counts.
CONTEXT_WORDS = 3

_NUMBER = re.compile(r"^\d[\d,]*(\.\d+)?$")
# Words that name one thing alike: "died" counts what "killed" counts.
_SAME_THING = dict.fromkeys(("died", "dead", "death", "deaths"), stem("killed"))
# A sentence that corrects an earlier report may repeat the figure it corrects.
_CORRECTION = re.compile(
    r"\b(not \S+ as (first|initially|earlier|previously) reported|correct\w*|revised|"
    r"earlier (report|version|figure)|had (earlier|previously|first) (said|reported))\b",
    re.I,
)


@dataclass(frozen=True)
class Disagreement:
    """Two sentences of different articles that cannot both be right; `what` is 'number',
    'date' or 'outcome', `values` what each side states."""

    first: Evidence
    second: Evidence
    what: str
    values: tuple[str, str]


@dataclass(frozen=True)
class _Value:
    value: str
    context: frozenset[str]


def _term(word: str) -> str:
    return _SAME_THING.get(word.lower()) or stem(word)


# Words too general to say two figures count the same thing ("12 people were killed" and
# "30 people were injured" share "people"): terms, as `_term` reads the words.
_GENERIC = frozenset(
    _term(word)
    for word in ("people", "persons", "percent", "times", "years", "days", "number", "total")
)


def terms_of(text: str) -> frozenset[str]:
    return frozenset(_term(w) for w in tokens(text) if w.lower() not in STOP_WORDS)


def _context(words: list[str], index: int, width: int) -> frozenset[str]:
    near = words[max(0, index - width) : index] + words[index + 1 : index + width + 1]
    return frozenset(_term(w) for w in near if w.lower() not in STOP_WORDS and not _NUMBER.match(w))


def stated_values(sentence: str, published_at: str | None, *, dates: bool) -> list[_Value]:
    """The numbers (and, if asked, the dates) a sentence states, each with the words around
    it: "12 people were killed" gives 12 beside {people, kille}."""
    words = tokens(sentence)
    values: list[_Value] = []
    for index, word in enumerate(words):
        number = NUMBER_WORDS.get(word.lower()) or (
            word.replace(",", "") if _NUMBER.match(word) else None
        )
        if number is None:
            continue
        if dates and re.fullmatch(r"\d{1,2}", word) and _is_day_of_month(words, index):
            continue  # "18 March" is read as a date below
        values.append(_Value(number, _context(words, index, CONTEXT_WORDS)))
    if dates:
        for found in resolve_dates(sentence, parse_iso(published_at)):
            if found.precision != "day":
                continue
            before = sentence[: found.start].split()[-2:]
            if any(
                w.lower().strip(",") in ("said", "announced", "told", "reported") for w in before
            ):
                continue  # when something was said, not when it happens
            left = tokens(sentence[: found.start])
            right = tokens(sentence[found.end :])
            near = left[-CONTEXT_WORDS:] + right[:CONTEXT_WORDS]
            context = frozenset(_term(w) for w in near if w.lower() not in STOP_WORDS)
            values.append(_Value(found.iso, context))
    return values


_MONTH_WORDS = frozenset(MONTHS)


def _is_day_of_month(words: list[str], index: int) -> bool:
    neighbours = words[max(0, index - 1) : index] + words[index + 1 : index + 2]
    return any(w.lower() in _MONTH_WORDS for w in neighbours)


def _differing_value(
    a: Evidence, b: Evidence, asked: frozenset[str], *, dates: bool
) -> tuple[str, str] | None:
    """A value of one sentence and a different one of the other, for the same thing."""
    mine = stated_values(a.text, a.passage.published_at, dates=dates)
    theirs = stated_values(b.text, b.passage.published_at, dates=dates)
    corrected = bool(_CORRECTION.search(a.text) or _CORRECTION.search(b.text))
    for x in mine:
        for y in theirs:
            shared = x.context & y.context & asked - _GENERIC
            if x.value == y.value or not shared:
                continue
            restated = any(z.value == x.value and z.context & y.context for z in theirs) or any(
                z.value == y.value and z.context & x.context for z in mine
            )
            if restated and not corrected:
                continue  # both sides state both figures: different things, same numbers
            return x.value, y.value
    return None


def find_disagreement(
    question: str,
    evidence: Sequence[Evidence],
    encode: Callable[[list[str]], Any],
    *,
    floor: float,
    kind: str,
    candidates: int = 6,
) -> Disagreement | None:
    """The lead sentence and the first relevant sentence of another article that states a
    different value for the same thing; None when the sources agree. Only the values the
    question asks for are compared — figures for "how many", dates for "when", outcomes for
    "what"/"who"/"did": two share-price moves in a "why" or "where" answer are two events,
    not a dispute."""
    if kind not in ("number", "when", "what", "who"):
        return None
    relevant = [e for e in evidence[:candidates] if e.score >= floor]
    if len(relevant) < 2 or len({e.passage.article_id for e in relevant}) < 2:
        return None
    asked = terms_of(question)
    # Only the lead against the rest: the answer is about the lead sentence's subject.
    lead, rest = relevant[0], relevant[1:]
    for other in rest:
        if other.passage.article_id == lead.passage.article_id:
            continue
        found: Disagreement | None = None
        if kind in ("number", "when"):
            values = _differing_value(lead, other, asked, dates=kind == "when")
            if values is not None:
                what = "date" if re.match(r"\d{4}-", values[0]) else "number"
                found = Disagreement(lead, other, what, values)
        else:
            outcome = opposite_outcome(lead.text, other.text)
            if outcome and asked & terms_of(lead.text) & terms_of(other.text) - _GENERIC:
                found = Disagreement(lead, other, "outcome", outcome)
        # Meaning is checked last: the model is asked only about a pair that differs.
        if found is not None:
            vectors = encode([lead.text, other.text])
            if float(vectors[0] @ vectors[1]) >= MIN_SIMILARITY:
                return found
    return None
