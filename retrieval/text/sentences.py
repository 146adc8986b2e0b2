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


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.")


def _ends_with_abbreviation(text: str, dot: int) -> bool:
    """Whether the word before text[dot] (letters and dots, from its first ASCII letter) is
    an abbreviation or one letter. Scans back from `dot`: a regular expression anchored at the
    end of text[:dot] searched from every position, which made splitting a long page
    quadratic."""
    if dot > 0 and text[dot - 1] == "\n":
        dot -= 1  # (as `$` matched before a last line break)
    start = dot
    while start > 0 and text[start - 1] in _WORD_CHARS:
        start -= 1
    while start < dot and text[start] == ".":
        start += 1  # the word begins with a letter
    if start == dot:
        return False
    token = text[start:dot].lower().rstrip(".")
    return token in _ABBREVIATIONS or len(token) == 1


def _next_visible(text: str, position: int, end: int) -> str:
    """The first character of text[position:end] that is not white space ("" if none)."""
    while position < end and text[position].isspace():
        position += 1
    return text[position] if position < end else ""


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans (start, end) of the sentences in text[start:end], trimmed of white space."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        stop = match.end()
        if not match.group().startswith("\n"):
            following = _next_visible(text, stop, end)
            if following and following.islower():
                continue  # "e.g. the", "U.S. officials said" — not a boundary
            if match.group().startswith(".") and _ends_with_abbreviation(text, match.start()):
                continue
            if (
                following.isdigit()
                and text[max(0, match.start() - 2) : match.start()].lower() == "no"
            ):
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
