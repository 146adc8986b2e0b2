"""Turning a follow-up ("and who is he?") into a question that stands alone, without a model."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.terms import content_terms

__all__ = ["Turn", "condense_question", "is_follow_up"]

_REFERS_BACK = re.compile(
    r"\b(he|she|it|they|him|her|his|hers|its|their|them|this|that|these|those|there|then|"
    r"the same|why not)\b|^\s*(and|but|so|also|what about|how about|why|how|when|where)\b",
    re.I,
)


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation: the question as it stood alone, and the answer text."""

    question: str
    answer: str = ""


def is_follow_up(question: str) -> bool:
    """Short questions, and ones that point back (pronouns, a leading 'and'), need context."""
    return len(content_terms(question)) <= 2 or bool(_REFERS_BACK.search(question))


def condense_question(question: str, history: Sequence[Turn]) -> str:
    """The question, followed by the previous standalone question when it is a follow-up.

    The new question comes first, so its kind (why/when/who ...) is what the answerer reads;
    the earlier question supplies the names and subject the follow-up leaves out.
    """
    question = question.strip()
    if not history or not is_follow_up(question):
        return question
    previous = history[-1].question.strip()
    return f"{question} ({previous})"
