"""Where a crash test's worker kills itself (SIGKILL) inside an update: between one write of
`ArticleStore.replace_article` and the next. Installed in the worker process only.

    before_rows    the record is marked, the new version's chunks are in Chroma; no BM25 rows
    before_swap    ... and its BM25 rows are in; the record still names the old version
    before_sweep   the record names the new version; the old chunks and rows are all there
    mid_sweep      the old chunks are gone from Chroma, their BM25 rows not yet
    before_unmark  all swept; the record still says chunks of another version may be left
"""

from __future__ import annotations

import os
import signal
from typing import Any

__all__ = ["KILL_POINTS", "kill_inside_update"]

KILL_POINTS = ("before_rows", "before_swap", "before_sweep", "mid_sweep", "before_unmark")


def kill_inside_update(point: str, at_article: int) -> None:
    """Kill this process at `point` of the `at_article`-th update it writes (from 1)."""
    from retrieval.index.lexical import LexicalIndex
    from retrieval.index.store import ArticleStore

    assert point in KILL_POINTS, point
    replace_article, keep_rows, keep_chunks = (
        ArticleStore.replace_article,
        LexicalIndex.keep_rows,
        ArticleStore._keep_chunks,
    )
    count = {"updates": 0, "rows": 0}

    def at(name: str) -> None:
        if count["updates"] == at_article and point == name:
            os.kill(os.getpid(), signal.SIGKILL)

    def counted_replace(self: Any, *args: Any, **kwargs: Any) -> None:
        count["updates"] += 1
        count["rows"] = 0
        replace_article(self, *args, **kwargs)

    def watched_rows(self: Any, *args: Any, **kwargs: Any) -> None:
        count["rows"] += 1
        at("before_rows" if count["rows"] == 1 else "mid_sweep")
        keep_rows(self, *args, **kwargs)
        if count["rows"] == 1:
            at("before_swap")

    def watched_sweep(self: Any, *args: Any, **kwargs: Any) -> None:
        at("before_sweep")
        keep_chunks(self, *args, **kwargs)
        at("before_unmark")

    ArticleStore.replace_article = counted_replace  # type: ignore[method-assign]
    LexicalIndex.keep_rows = watched_rows  # type: ignore[method-assign]
    ArticleStore._keep_chunks = watched_sweep  # type: ignore[method-assign]
