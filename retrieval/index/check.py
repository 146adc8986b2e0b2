"""Whether a knowledge base's four parts agree — its article records, passage vectors (Chroma),
BM25 rows and sentence vectors — and mending what can be mended without the embedding model.

The records are the truth: each owns the passages of its version (`StoredVersion.chunk_ids`),
and holds the article's full text. So a passage vector no record owns is an orphan (deleted),
a BM25 row or sentence vector of no owned passage is stale (deleted), an owned passage without
its BM25 row gets one from the passage's stored text; only a record whose passages are missing
(a gap) needs the model, to embed its text again (`Ingester.restore`, through the service).

Everything here runs under the store's write lock (the caller's), so no write is half-way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from retrieval.index.identity import chunk_id
from retrieval.index.lexical import LexicalIndex, lexical_text
from retrieval.index.sentence_vectors import SentenceVectors
from retrieval.types import KnowledgeBaseCheck

__all__ = ["Inspection", "KnowledgeBaseParts", "counts_agree", "inspect", "mend"]

PAGE = 5000  # records per Chroma call (its limit is 5461)


@dataclass(frozen=True)
class KnowledgeBaseParts:
    """One knowledge base's records and chunks collections, and the two SQLite indexes."""

    kb: str
    articles: Any
    chunks: Any
    lexical: LexicalIndex
    sentences: SentenceVectors


@dataclass
class Inspection:
    """What a knowledge base holds, and its `report`."""

    report: KnowledgeBaseCheck
    owned: dict[str, set[str]]  # article id → the chunk ids its record's version owns
    owner: dict[str, str]  # owned chunk id → its article id
    lexical_rows: dict[str, list[str]]  # article id (as the rows say) → its rows' chunk ids
    sentence_chunks: dict[str, set[str]]  # article id (as the rows say) → chunks with rows


def _pages(collection: Any, include: list[str]) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        got = collection.get(include=include, limit=PAGE, offset=offset)
        if not got["ids"]:
            return
        yield got
        offset += len(got["ids"])


def _records(articles: Any) -> tuple[dict[str, set[str]], list[str], dict[str, str]]:
    """Each record's owned chunk ids; the records marked as half-way through an update; and
    the records that do not say how many passages they own (their metadata damaged), each
    with the prefix of its version's chunk ids (`ID:` or `ID~VERSION:`)."""
    owned: dict[str, set[str]] = {}
    marked: list[str] = []
    uncounted: dict[str, str] = {}
    for got in _pages(articles, ["metadatas"]):
        for stored_id, meta in zip(got["ids"], got["metadatas"], strict=True):
            version = meta.get("version") or None
            if meta.get("chunks") is None:
                uncounted[stored_id] = chunk_id(stored_id, 0, version)[:-1]
            count = int(meta.get("chunks") or 0)
            owned[stored_id] = {chunk_id(stored_id, i, version) for i in range(count)}
            if meta.get("leftovers"):
                marked.append(stored_id)
    return owned, marked, uncounted


def counts_agree(parts: KnowledgeBaseParts) -> bool:
    """The cheap check after an interrupted write: the records' passage counts add up to the
    passages in Chroma and to the BM25 rows, and no record is marked half-way through an
    update. (Reads the records' metadata, and counts.)"""
    owned, marked, uncounted = _records(parts.articles)
    total = sum(len(ids) for ids in owned.values())
    return (
        not marked
        and not uncounted
        and total == parts.chunks.count() == parts.lexical.count(parts.kb)
    )


def inspect(parts: KnowledgeBaseParts) -> Inspection:
    """Every record, passage id, BM25 row and sentence row of the knowledge base, compared."""
    owned, marked, uncounted = _records(parts.articles)
    present: set[str] = set()
    for got in _pages(parts.chunks, []):
        present.update(got["ids"])
    for article, prefix in uncounted.items():
        # (it owns the passages of its version that are there: none is taken for an orphan)
        owned[article] = {c for c in present if c.startswith(prefix) and c[len(prefix) :].isdigit()}
    owner = {chunk: article for article, ids in owned.items() for chunk in ids}
    lexical_rows: dict[str, list[str]] = {}
    row_counts: Counter[str] = Counter()
    for chunk, article in parts.lexical.rows(parts.kb):
        lexical_rows.setdefault(article, []).append(chunk)
        row_counts[chunk] += 1
    sentence_chunks: dict[str, set[str]] = {}
    stale_sentences = 0
    for chunk, article, rows in parts.sentences.chunk_rows(parts.kb):
        sentence_chunks.setdefault(article, set()).add(chunk)
        if owner.get(chunk) != article:
            stale_sentences += rows
    gaps = sorted(article for article, ids in owned.items() if not ids <= present)
    # a row of no owned passage is stale, and so is a second row of an owned one
    stale_lexical = sorted(
        chunk
        for chunk, rows in row_counts.items()
        for _ in range(rows if chunk not in owner else rows - 1)
    )
    report = KnowledgeBaseCheck(
        kb=parts.kb,
        articles=len(owned),
        passages=len(present),
        orphan_chunks=tuple(sorted(present - owner.keys())),
        gaps=tuple(gaps),
        missing_chunks=sum(len(owned[article] - present) for article in gaps),
        missing_lexical=tuple(sorted((owner.keys() & present) - row_counts.keys())),
        stale_lexical=tuple(stale_lexical),
        stale_sentences=stale_sentences,
        unfinished=tuple(sorted(marked)),
    )
    return Inspection(report, owned, owner, lexical_rows, sentence_chunks)


def mend(parts: KnowledgeBaseParts, found: Inspection, *, chroma: bool = True) -> None:
    """Mend what the records alone can: delete the orphan passages, then the stale BM25 rows
    (adding the missing ones from the passages' stored text), then the stale sentence rows,
    then clear the marks of unfinished updates — the order of a sweep, so a crash half-way
    leaves what the next check finds and mends. Gaps are left for the model. `chroma=False`:
    only the SQLite rows (this machine's), Chroma's passages and records left as they are."""
    report = found.report
    orphans = list(report.orphan_chunks) if chroma else []
    for offset in range(0, len(orphans), PAGE):
        parts.chunks.delete(ids=orphans[offset : offset + PAGE])
    _mend_lexical(parts, found)
    for article, chunks in found.sentence_chunks.items():
        if article not in found.owned:
            parts.sentences.remove_article(parts.kb, article)
        elif not chunks <= found.owned[article]:
            parts.sentences.keep(parts.kb, article, found.owned[article])
    if report.unfinished and chroma:
        parts.articles.update(
            ids=list(report.unfinished), metadatas=[{"leftovers": None}] * len(report.unfinished)
        )


def _mend_lexical(parts: KnowledgeBaseParts, found: Inspection) -> None:
    """Per article: its rows of no owned passage dropped, and a row (one) for each owned
    passage in Chroma that has none or two; an article without a record loses all its rows."""
    report = found.report
    stale = set(report.stale_lexical)
    # (a passage missing from Chroma too is a gap's: its row comes back when it is restored)
    to_add = set(report.missing_lexical) | (stale & found.owner.keys())
    affected = {found.owner[chunk] for chunk in to_add} | {
        article for article, chunks in found.lexical_rows.items() if stale.intersection(chunks)
    }
    if not affected:
        return
    titles = _titles(parts.articles, sorted(affected & found.owned.keys()))
    documents = _documents(parts.chunks, sorted(to_add))
    for article in sorted(affected):
        if article not in found.owned:
            parts.lexical.remove_article(parts.kb, article)
            continue
        add = [
            (chunk, article, lexical_text(titles.get(article, ""), documents[chunk]))
            for chunk in sorted(to_add)
            if chunk in documents and found.owner[chunk] == article
        ]
        parts.lexical.keep_rows(parts.kb, article, keep=found.owned[article], add=add)


def _titles(articles: Any, ids: list[str]) -> dict[str, str]:
    titles: dict[str, str] = {}
    for offset in range(0, len(ids), PAGE):
        got = articles.get(ids=ids[offset : offset + PAGE], include=["metadatas"])
        for stored_id, meta in zip(got["ids"], got["metadatas"], strict=True):
            titles[stored_id] = str(meta.get("title", ""))
    return titles


def _documents(chunks: Any, ids: list[str]) -> dict[str, str]:
    documents: dict[str, str] = {}
    for offset in range(0, len(ids), PAGE):
        got = chunks.get(ids=ids[offset : offset + PAGE], include=["documents"])
        documents.update(zip(got["ids"], got["documents"], strict=True))
    return documents
