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


def condense_question(question: str, history: Sequence[Turn]) -> str:
    """A follow-up, with the subject of the conversation added: "and who is he? (Li)",
    "why? (China refuse meeting)".

    The new question comes first, so its kind (why/when/who ...) is what the answerer reads;
    the earlier turn supplies what the follow-up leaves out. A "he" or "they" points at a
    name, so only the names are added (the earlier question's other words would pull back
    the earlier answer); a bare "why?" or "when was that?" points at the whole event. The
    earlier question was itself condensed, so the subject carries through a chain.
    """
    question = question.strip()
    if not history or not is_follow_up(question):
        return question
    subject = subject_of(history[-1].question, names_only=bool(_PERSONAL.search(question)))
    if not subject or subject.lower() in question.lower():
        return question
    return f"{question} ({subject})"
