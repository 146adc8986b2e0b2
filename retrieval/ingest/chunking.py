"""Sentence-aware chunking that keeps character offsets, so every quote is verbatim."""

from __future__ import annotations

from retrieval.index.identity import chunk_id
from retrieval.text.sentences import split_sentences
from retrieval.types import Article, Chunk

__all__ = ["Chunk", "embedding_text", "split_article", "split_sentences"]


# Words whose trailing period does not end a sentence.
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


def split_article(
    article: Article, size: int = 600, overlap: int = 120, *, version: str | None = None
) -> list[Chunk]:
    """Pack whole sentences into chunks of about `size` characters; the last sentences of a
    chunk (up to `overlap` characters) open the next one, so no answer is cut in two. The
    chunks of an updated text carry its `version` in their ids (`index.identity.chunk_id`)."""
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
                id=chunk_id(article.id, index, version),
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
