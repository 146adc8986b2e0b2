"""Outcomes that cannot both be true of one thing: approved / rejected, won / lost, guilty /
acquitted. Two sentences stating one and the other are a disagreement (`news/disagreement.py`),
never one fact told twice (`text/same_fact.py`)."""

from __future__ import annotations

import re

__all__ = ["OPPOSITE_OUTCOMES", "opposite_outcome"]

OPPOSITE_OUTCOMES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (re.compile(p, re.I), re.compile(q, re.I))
    for p, q in (
        (r"\bapprov\w*", r"\b(reject\w*|postpon\w*|delay\w*|block\w*|refus\w*)"),
        (r"\b(won|wins|win)\b", r"\b(lost|loses|lose|defeated by)\b"),
        (r"\b(guilty|convicted)\b", r"\b(acquitted|not guilty|cleared)\b"),
        (r"\bconfirm\w*", r"\bden(y|ied|ies)\b"),
        (r"\bupheld\b", r"\b(overturned|quashed)\b"),
        (r"\bpass(ed|es)\b", r"\b(fail(ed|s)|defeated)\b"),
        (r"\baccept\w*", r"\b(reject\w*|declin\w*)"),
        (r"\b(rose|increased|up)\b", r"\b(fell|decreased|down)\b"),
    )
]


def opposite_outcome(a: str, b: str) -> tuple[str, str] | None:
    """The outcome each sentence states, when one states what the other rules out."""
    for yes, no in OPPOSITE_OUTCOMES:
        for left, right, flip in ((a, b, False), (b, a, True)):
            said_yes, said_no = yes.search(left), no.search(right)
            if said_yes and said_no and not no.search(left) and not yes.search(right):
                pair = (said_yes.group(), said_no.group())
                return (pair[1], pair[0]) if flip else pair
    return None
