"""Streaming ingest: sources are read lazily and stored a batch of articles at a time, so memory
stays flat whatever the corpus size. Re-running after an interruption skips what is stored:
ids are stable and an article is stored whole or not at all, so nothing is embedded twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from retrieval.errors import ArticleError
from retrieval.ingest.articles import JSON_SUFFIXES, SUPPORTED_SUFFIXES, dated, load_path
from retrieval.types import AddResult, Article

if TYPE_CHECKING:
    from retrieval.ingest.ingester import Ingester

__all__ = [
    "IngestTally",
    "batched",
    "count_articles",
    "ingest_articles",
    "ingest_sources",
    "is_url",
    "load_source",
    "read_sources",
]

T = TypeVar("T")


@dataclass
class IngestTally:
    added: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks: int = 0
    updated: int = 0

    def count(self, result: AddResult) -> None:
        if result.status == "added":
            self.added += 1
        elif result.status == "updated":
            self.updated += 1
        else:
            self.unchanged += 1
        self.chunks += result.chunks

    def summary(self) -> str:
        """`added N, unchanged N, failed N (N chunks)`, with `updated N` after `added` when
        any article was updated (the line stays as it was for scripts that read it)."""
        updated = f"updated {self.updated}, " if self.updated else ""
        return (
            f"added {self.added}, {updated}unchanged {self.unchanged}, failed {self.failed} "
            f"({self.chunks} chunks)"
        )


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to `size` items, in order, drawn lazily."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def load_source(source: str, fetch: Callable[[str], Article]) -> Iterator[Article]:
    """Articles from a path (file or folder), or from an http(s) URL by `fetch`."""
    if is_url(source):
        yield fetch(source)
    else:
        yield from load_path(Path(source).expanduser())


def _count_file(path: Path) -> int:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    if suffix in JSON_SUFFIXES:
        data = json.loads(path.read_bytes())
        return len(data) if isinstance(data, list) else 1
    return 1


def count_articles(source: str) -> int | None:
    """How many articles a source holds, cheaply (a line count for JSONL), for a progress bar;
    None when that is not known without loading it."""
    if is_url(source):
        return 1
    path = Path(source).expanduser()
    try:
        if path.is_dir():
            files = (p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
            return sum(_count_file(p) for p in files if p.is_file())
        return _count_file(path) if path.is_file() else None
    except (OSError, ValueError):
        return None  # unreadable or malformed: loading it reports the problem


def read_sources(
    sources: Sequence[str],
    load: Callable[[str], Iterable[Article]],
    on_error: Callable[[ArticleError], None],
) -> Iterator[Article]:
    """The articles of each source in turn, read as they are needed. A source that fails is
    reported and the rest go on (articles read from it before the failure are kept)."""
    for source in sources:
        try:
            yield from load(source)
        except ArticleError as exc:
            on_error(exc)


def ingest_articles(
    ingester: Ingester,
    articles: Iterable[Article],
    *,
    kb: str,
    batch_articles: int,
    on_result: Callable[[AddResult], None] | None = None,
    on_error: Callable[[ArticleError], None] | None = None,
    tally: IngestTally | None = None,
) -> IngestTally:
    """Add `articles` (any iterable, drawn lazily) `batch_articles` at a time."""
    tally = tally or IngestTally()

    def failed(exc: ArticleError) -> None:
        tally.failed += 1
        if on_error is not None:
            on_error(exc)

    def storable(articles: Iterable[Article]) -> Iterator[Article]:
        # An article the ingester would refuse fails alone here, not the batch it is in.
        for article in articles:
            if (refusal := ingester.refusal(article)) is not None:
                failed(refusal)
            else:
                yield article

    def stored(result: AddResult) -> None:
        tally.count(result)
        if on_result is not None:
            on_result(result)

    for batch in batched(storable(articles), batch_articles):
        try:
            ingester.add_many(batch, kb=kb, on_result=stored)
        except ArticleError as exc:
            failed(exc)
    return tally


def ingest_sources(
    ingester: Ingester,
    sources: Sequence[str],
    load: Callable[[str], Iterable[Article]],
    *,
    kb: str,
    batch_articles: int,
    on_result: Callable[[AddResult], None] | None = None,
    on_error: Callable[[ArticleError], None] | None = None,
    published_at: str | None = None,
) -> IngestTally:
    """Add every article of `sources` (paths or URLs, read by `load`), `batch_articles` at a
    time; those without a publication date of their own get `published_at`, if given."""
    tally = IngestTally()

    def failed(exc: ArticleError) -> None:
        tally.failed += 1
        if on_error is not None:
            on_error(exc)

    return ingest_articles(
        ingester,
        read_sources(sources, lambda source: dated(iter(load(source)), published_at), failed),
        kb=kb,
        batch_articles=batch_articles,
        on_result=on_result,
        on_error=on_error,
        tally=tally,
    )
