"""Sentence-aware chunking that keeps character offsets, so every quote is verbatim."""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.articles import Article

__all__ = ["Chunk", "embedding_text", "split_article", "split_sentences"]

# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof gen brig col lt maj capt sgt adm gov sen rep rev st jr sr co corp inc
    ltd vs etc fig jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k e.g i.e a.m
    p.m approx dept est""".split()
)
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+|$)|\n\s*")


@dataclass(frozen=True)
class Chunk:
    """A slice of an article: `text == article.text[start:end]`."""

    id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str


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


def _split_long(text: str, span: tuple[int, int], size: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than `size` at white space (or hard, if it has none)."""
    start, end = span
    pieces = []
    while end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = cut if cut > start else start + size
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces


def split_article(article: Article, size: int = 600, overlap: int = 120) -> list[Chunk]:
    """Pack whole sentences into chunks of about `size` characters; the last sentences of a
    chunk (up to `overlap` characters) open the next one, so no answer is cut in two."""
    text = article.text
    sentences = [piece for span in split_sentences(text) for piece in _split_long(text, span, size)]
    groups: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for sentence in sentences:
        if current and sentence[1] - current[0][0] > size:
            groups.append(current)
            carried: list[tuple[int, int]] = []
            for previous in reversed(current):
                if sentence[1] - previous[0] > size or previous[1] - previous[0] > overlap:
                    break
                if current[-1][1] - previous[0] > overlap:
                    break
                carried.insert(0, previous)
            current = carried
        current.append(sentence)
    if current:
        groups.append(current)
    chunks = []
    for index, group in enumerate(groups):
        start, end = group[0][0], group[-1][1]
        chunks.append(
            Chunk(
                id=f"{article.id}:{index}",
                article_id=article.id,
                index=index,
                start=start,
                end=end,
                text=text[start:end],
            )
        )
    return chunks


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What is embedded for a chunk: the passage with its headline and date as context."""
    header = (
        article.title if not article.published_at else f"{article.title} ({article.published_at})"
    )
    return f"{header}\n{chunk.text}"
