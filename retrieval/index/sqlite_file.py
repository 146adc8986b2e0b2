"""The project's SQLite files, opened one way: the store's (lexical index, sentence vectors,
server records) and the feeds'. Other newsbot processes read and write the same file
(issue 19), so every connection gets WAL, a busy timeout and IMMEDIATE write transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["BUSY_TIMEOUT_S", "connect", "immediate"]

# How long a write waits for another process's write to finish before "database is locked".
BUSY_TIMEOUT_S = 30.0


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection to `path` (its folder made if need be): autocommit, usable from any of
    the process's threads (each owner serialises its calls with its own lock), WAL (readers
    do not wait for writers), synchronous=NORMAL (safe against a killed process; WAL's
    usual setting) and the busy timeout."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(
        str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
    )
    db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """A write transaction, committed, or rolled back on any error. IMMEDIATE: one that began
    deferred read first, and when another connection had committed meanwhile, its first write
    failed at once ("database is locked": a WAL snapshot cannot be upgraded), where IMMEDIATE
    waits (the busy timeout) for the write lock. The caller holds its connection's lock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
