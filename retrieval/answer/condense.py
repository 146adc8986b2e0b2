"""Turning a follow-up ("and who is he?") into a question that stands alone, without a model."""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.text.terms import STOP_WORDS, content_terms, tokens
from retrieval.types import Turn

__all__ = ["Turn", "condense_question", "is_follow_up"]

_REFERS_BACK = re.compile(
    r"\b(he|she|it|they|him|her|his|hers|its|their|them|this|that|these|those|there|then|"
    r"the same|why not)\b|^\s*(and|but|so|also|what about|how about|why|how|when|where)\b",
    re.I,
)


def is_follow_up(question: str) -> bool:
    """Short questions, and ones that point back (pronouns, a leading 'and'), need context."""
    return len(content_terms(question)) <= 2 or bool(_REFERS_BACK.search(question))


_SINGULAR = re.compile(r"\b(he|she|him|her|his|hers)\b", re.I)
_PERSONAL = re.compile(r"\b(he|she|him|her|his|hers|they|them|their)\b", re.I)


def subject_of(question: str, *, names_only: bool) -> str:
    """What a question is about: its names (capitalised words after the first, numbers) and,
    unless `names_only`, its other content words. "When were the sanctions on Li imposed?"
    gives "Li", or "Li sanctions imposed"."""
    words = tokens(question)
    names = [
        w
        for i, w in enumerate(words)
        if w.lower() not in STOP_WORDS and ((i > 0 and w[0].isupper()) or w[0].isdigit())
    ]
    if names_only and names:
        return " ".join(dict.fromkeys(names))
    rest = [w for w in words[1:] if w.lower() not in STOP_WORDS and w not in names]
    return " ".join(dict.fromkeys(names + rest))


# A person's name as news writes it: two or three capitalised words in a row ("Patrick Ryder",
# "Li Shangfu"), maybe after a title ("Brig. Gen."), not an institution ("Chinese Embassy").
_NAME_RUN = re.compile(r"[A-Z][a-z]+(?:[-'’][A-Za-z]+)*(?:\s+[A-Z][a-z]+(?:[-'’][A-Za-z]+)*)+")
_NOT_PEOPLE = frozenset(
    "army embassy forum dialogue department ministry council party rights house office agency "
    "bank union court committee commission association company group university news times "
    "post secretary minister president spokesman spokeswoman speaker press general gen brig "
    "liberation states kingdom republic security".split()
)


def people_in(text: str) -> list[str]:
    """Names of people in an answer, in order: the last two words of each run of capitalised
    words that ends in neither an institution nor a title, and does not start a sentence.
    "Pentagon Press Secretary Brig. Gen. Patrick Ryder said" gives "Patrick Ryder"."""
    names: dict[str, None] = {}
    for run in _NAME_RUN.finditer(text):
        words = [w.removesuffix("’s").removesuffix("'s") for w in run.group(0).split()]
        before = text[: run.start()].rstrip()
        abbreviated = re.search(r"\b[A-Z][a-z]{0,3}\.$", before)  # "Gen." "Dr." end no sentence
        if not before or (before[-1] in '.!?“"' and not abbreviated):
            words = words[1:]  # a sentence's first word is capitalised anyway
        if len(words) >= 2 and not {w.lower() for w in words[-2:]} & _NOT_PEOPLE:
            names.setdefault(" ".join(words[-2:]), None)
    return list(names)


def condense_question(question: str, history: Sequence[Turn]) -> str:
    """A follow-up, with the subject of the conversation added: "and who is he? (Li)",
    "why? (China refuse meeting)".

    The new question comes first, so its kind (why/when/who ...) is what the answerer reads;
    the earlier turn supplies what the follow-up leaves out. A "he" or "they" points at a
    name, so only the names are added (the earlier question's other words would pull back
    the earlier answer) -- with the people the earlier answer named, since "who is he?" after
    "What did the Pentagon say?" means the spokesman it quoted; a bare "why?" or "when was
    that?" points at the whole event. The earlier question was itself condensed, so the
    subject carries through a chain.
    """
    question = question.strip()
    if not history or not is_follow_up(question):
        return question
    personal = bool(_PERSONAL.search(question))
    # "who is he?" when the earlier question named nobody and its answer named one person:
    # that person, in the pronoun's place — "who is Patrick Ryder?" is a question the
    # answerer leads with him for, where "who is he? (Pentagon Patrick Ryder)" is not.
    answered = people_in(history[-1].answer)
    if len(answered) == 1 and not people_in(history[-1].question):
        singular = _SINGULAR.search(question)
        if singular:
            name = answered[0]
            said = f"{name}'s" if singular.group(0).lower() in ("his", "hers") else name
            return f"{question[: singular.start()]}{said}{question[singular.end() :]}"
    subject = subject_of(history[-1].question, names_only=personal)
    if personal:  # "who is he?" may mean someone the answer named, not the question
        known = set(tokens(subject))
        for name in people_in(history[-1].answer):
            if not set(name.split()) <= known:
                subject = f"{subject} {name}".strip()
                known |= set(name.split())
    if not subject or subject.lower() in question.lower():
        return question
    return f"{question} ({subject})"
