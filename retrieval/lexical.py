"""The lexical half of hybrid retrieval: BM25 over SQLite FTS5, one table per knowledge base.

News questions name people, places, numbers and dates, which a small embedding model blurs;
exact terms find them. FTS5 gives BM25 ranking, Porter stemming, incremental add and delete,
and transactions, in a file beside the store (`DATA_DIR/lexical.sqlite3`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from retrieval.terms import STOP_WORDS, tokens

__all__ = ["LexicalIndex", "match_query"]


def match_query(question: str) -> str | None:
    """An FTS5 query: any of the question's content words (quoted, so none is an operator)."""
    words: dict[str, None] = {}
    for token in tokens(question):
        for part in token.replace("’", "'").split("'"):
            if len(part) > 1 and part.lower() not in STOP_WORDS:
                words.setdefault(part.lower(), None)
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in words)


class LexicalIndex:
    """Chunk texts (with their headline) searchable by BM25, per knowledge base.

    Each knowledge base has a plain table of rows (chunk id, article id, text; indexed by
    article) and an FTS5 index over it (external content). Replacing or removing an article
    finds its rows through that index: FTS5 cannot index its own extra columns, and a scan of
    them cost 25 ms per article at 10k chunks, growing with the store."""

    def __init__(self, path: Path | str) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self._tables: set[str] = set()

    def _table(self, kb: str) -> str:
        """The rows table of `kb` (columns chunk_id, article_id, body); its FTS5 index is
        the same name + `_fts`."""
        suffix = kb.encode("utf-8").hex()
        name = f"lex_{suffix}"
        if name not in self._tables:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    # the first layout (one FTS5 table): dropped, rebuilt from Chroma by the store
                    self._db.execute(f"DROP TABLE IF EXISTS kb_{suffix}")
                    self._db.execute(
                        f"CREATE TABLE IF NOT EXISTS {name} (id INTEGER PRIMARY KEY, "
                        "chunk_id TEXT NOT NULL, article_id TEXT NOT NULL, body TEXT NOT NULL)"
                    )
                    self._db.execute(
                        f"CREATE INDEX IF NOT EXISTS {name}_article ON {name} (article_id)"
                    )
                    self._db.execute(
                        f"CREATE VIRTUAL TABLE IF NOT EXISTS {name}_fts USING fts5(body, "
                        f"content='{name}', content_rowid='id', "
                        "tokenize = 'porter unicode61 remove_diacritics 2')"
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            self._tables.add(name)
        return name

    def _delete_article(self, table: str, article_id: str) -> None:
        """(Within a transaction.) An external-content FTS5 index forgets a row when told its
        old text."""
        old = self._db.execute(
            f"SELECT id, body FROM {table} WHERE article_id = ?", (article_id,)
        ).fetchall()
        if old:
            self._db.executemany(
                f"INSERT INTO {table}_fts ({table}_fts, rowid, body) VALUES ('delete', ?, ?)", old
            )
            self._db.execute(f"DELETE FROM {table} WHERE article_id = ?", (article_id,))

    def add_rows(self, kb: str, rows: Iterable[tuple[str, str, str]]) -> None:
        """Index (chunk_id, article_id, text) rows, replacing any of the same article."""
        rows = list(rows)
        table = self._table(kb)
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for article_id in {row[1] for row in rows}:
                    self._delete_article(table, article_id)
                for chunk_id, article_id, body in rows:
                    cursor = self._db.execute(
                        f"INSERT INTO {table} (chunk_id, article_id, body) VALUES (?, ?, ?)",
                        (chunk_id, article_id, body),
                    )
                    self._db.execute(
                        f"INSERT INTO {table}_fts (rowid, body) VALUES (?, ?)",
                        (cursor.lastrowid, body),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def remove_article(self, kb: str, article_id: str) -> None:
        table = self._table(kb)
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._delete_article(table, article_id)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def search(self, kb: str, question: str, k: int) -> list[tuple[str, float]]:
        """(chunk_id, bm25) best first; FTS5's bm25() is lower-is-better, so it is negated."""
        query = match_query(question)
        if query is None:
            return []
        table = self._table(kb)
        with self._lock:
            rows = self._db.execute(
                f"SELECT t.chunk_id, hit.score FROM (SELECT rowid, bm25({table}_fts) AS score "
                f"FROM {table}_fts WHERE {table}_fts MATCH ? ORDER BY score LIMIT ?) AS hit "
                f"JOIN {table} AS t ON t.id = hit.rowid ORDER BY hit.score",
                (query, k),
            ).fetchall()
        return [(chunk_id, -float(score)) for chunk_id, score in rows]

    def count(self, kb: str) -> int:
        table = self._table(kb)
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def clear(self, kb: str) -> None:
        table = self._table(kb)
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(f"DELETE FROM {table}")
                self._db.execute(f"INSERT INTO {table}_fts ({table}_fts) VALUES ('delete-all')")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
