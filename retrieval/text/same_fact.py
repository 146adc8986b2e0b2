"""One fact in several articles: the same sentence as another outlet wrote it ("A bridge
collapsed in Marden on Sunday, killing nine people" / "Nine people died when a bridge collapsed
in Marden on Sunday, local officials said").

Read narrowly, so a fact is never merged with a different one: two sentences tell the same
fact when they state the same figures and days, both or neither deny, neither states an
outcome the other rules out (`text/outcomes.py`), and one's words are among the other's
(a few added words, "local", "on Sunday evening", are allowed; a changed word is not: "food
prices rose 3%" and "energy prices rose 3%" are two facts). Different figures for one thing are
a disagreement (`news/disagreement.py`), never one fact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.text.dates import MONTHS, WEEKDAYS
from retrieval.text.outcomes import opposite_outcome
from retrieval.text.sentences import split_sentences
from retrieval.text.terms import NUMBER_WORDS, STOP_WORDS, stem, tokens

__all__ = [
    "MIN_SHARE",
    "MIN_TERMS",
    "Fact",
    "adds_nothing",
    "fact_of",
    "facts_of",
    "repeated",
    "repeats",
    "same_fact",
]

# A sentence repeats another when its words are among the other's and make at least this
# share of them (the other may add a few words: "local officials", "on Sunday evening").
MIN_SHARE = 0.7
# Words a sentence needs, besides its figures, to count as a fact that others can carry:
# "Officials declined to comment." is said of every story.
MIN_TERMS = 4

# Here also the words that round a figure ("a dozen", "a million"): two reports of one fact may
# differ by them alone. A disagreement (news/disagreement.py) compares exact figures only.
_NUMBER_WORDS = {
    **NUMBER_WORDS,
    "dozen": "12",
    "thousand": "1000",
    "million": "1000000",
    "billion": "1000000000",
}
_DAY_WORDS = frozenset(
    [*MONTHS, *WEEKDAYS, "today", "yesterday", "tomorrow", "tonight", "last", "next"]
)
_NEGATIONS = frozenset("not no never none nobody nothing neither nor without cannot".split())
# Words that say one thing alike ("killed" / "died").
_SAME_MEANING = dict.fromkeys(("die", "died", "dies", "dead", "death", "deaths"), "kill")
_NUMBER = re.compile(r"^\d[\d,]*(\.\d+)?$")


def _word(token: str) -> str:
    """A word's key: lower case, without its ending ("killing", "killed" → "kill"), then the
    crude stem of `text.terms`."""
    word = token.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if word in _SAME_MEANING:
        return _SAME_MEANING[word]
    for ending in ("ing", "ed", "es", "s"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[: -len(ending)]
            break
    return stem(word)


@dataclass(frozen=True)
class Fact:
    """What a sentence states, as compared with others: its words (keys, stop words left out),
    its figures and days, and whether it denies."""

    text: str
    terms: frozenset[str]
    values: frozenset[str]
    negated: bool


def fact_of(sentence: str) -> Fact:
    terms: set[str] = set()
    values: set[str] = set()
    negated = False
    for token in tokens(sentence):
        lower = token.lower()
        if lower in _NEGATIONS or lower.endswith("n't"):
            negated = True
        elif _NUMBER.match(token):
            values.add(token.replace(",", ""))
        elif lower in _NUMBER_WORDS:
            values.add(_NUMBER_WORDS[lower])
        elif lower in _DAY_WORDS:
            values.add(lower)
        elif lower not in STOP_WORDS:
            terms.add(_word(token))
    return Fact(sentence, frozenset(terms), frozenset(values), negated)


def facts_of(text: str) -> list[Fact]:
    """The facts of a passage, one per sentence."""
    return [fact_of(text[start:end]) for start, end in split_sentences(text)]


def repeats(a: Fact, b: Fact) -> bool:
    """`a` tells what `b` tells and nothing more: the same figures, days and denial, no
    outcome `b` rules out, every word of `a` among `b`'s, and most of `b`'s."""
    if a.values != b.values or a.negated != b.negated or not a.terms <= b.terms:
        return False
    if a.terms != b.terms and len(a.terms) < MIN_SHARE * len(b.terms):
        return False
    if len(a.terms) < MIN_TERMS and a.terms != b.terms:
        return False
    return opposite_outcome(a.text, b.text) is None


def same_fact(a: Fact, b: Fact) -> bool:
    """One fact in two wordings, either of which may add a few words; a fact of at least
    `MIN_TERMS` words (a short common sentence is not a story two outlets share)."""
    if min(len(a.terms), len(b.terms)) < MIN_TERMS:
        return False
    return repeats(a, b) or repeats(b, a)


def repeated(items: Sequence[tuple[str, Fact]]) -> set[int]:
    """The indexes of the (article id, fact) items that repeat an item of another article and
    add nothing to it. Of two that say the same in the same words, the later one; so the
    most complete wording, and of equal ones the first, stands for the fact."""
    gone: set[int] = set()
    for i, (article, fact) in enumerate(items):
        if len(fact.terms) < MIN_TERMS:
            continue
        for j, (other_article, other) in enumerate(items):
            if j == i or other_article == article or not repeats(fact, other):
                continue
            if j < i or not repeats(other, fact):  # (the same words: the later one goes)
                gone.add(i)
                break
    return gone


def adds_nothing(facts: Sequence[Fact], kept: Sequence[Sequence[Fact]]) -> int | None:
    """When every fact of a passage (`facts`, one per sentence) repeats a fact of the passages
    `kept` (of other articles), the index of the kept passage that repeats the most of them:
    the passage is that one's echo. None when it tells something new."""
    if not any(len(fact.terms) >= MIN_TERMS for fact in facts):
        return None
    counts = [0] * len(kept)
    for fact in facts:
        holders = [n for n, known in enumerate(kept) if any(repeats(fact, k) for k in known)]
        if not holders:
            return None
        for n in holders:
            counts[n] += 1
    return max(range(len(kept)), key=lambda n: counts[n]) if kept else None
