"""Sentence boundaries that keep character offsets, so every quote is a verbatim slice."""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof gen brig col lt maj capt sgt adm gov sen rep rev st jr sr co corp inc
    ltd vs etc fig jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k e.g i.e a.m
    p.m approx dept est""".split()
)


_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+|$)|\n\s*")


def _ends_with_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([A-Za-z][A-Za-z.]*)$", text[:dot])
    if not word:
        return False
    token = word.group(1).lower().rstrip(".")
    return token in _ABBREVIATIONS or len(token) == 1


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans (start, end) of the sentences in text[start:end], trimmed of white space."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        stop = match.end()
        if not match.group().startswith("\n"):
            following = text[stop:end].lstrip()
            if following and following[0].islower():
                continue  # "e.g. the", "U.S. officials said" — not a boundary
            if match.group().startswith(".") and _ends_with_abbreviation(text, match.start()):
                continue
            if following[:1].isdigit() and text[: match.start()].lower().endswith("no"):
                continue  # "No. 10 Downing Street"
        _add_trimmed(text, cursor, stop, spans)
        cursor = stop
    _add_trimmed(text, cursor, end, spans)
    return spans


def _add_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
