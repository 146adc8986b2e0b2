"""The lexical half of hybrid retrieval: BM25 over SQLite FTS5, one table per knowledge base.

News questions name people, places, numbers and dates, which a small embedding model blurs;
exact terms find them. FTS5 gives BM25 ranking, Porter stemming, incremental add and delete,
and transactions, in a file beside the store (`DATA_DIR/lexical.sqlite3`).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from pathlib import Path

from retrieval.index import sqlite_file
from retrieval.text.terms import STOP_WORDS, tokens

__all__ = ["LexicalIndex", "lexical_text", "match_query"]


# Ranking costs FTS5 about a microsecond per matching row (bm25() reads each row's length
# and term counts), and a question's commonest words match most of the rows: at 100k chunks,
# 30 ms of a question's 37 went on ranking, 1.4 ms on finding the rows. A word found in more
# than COMMON_SHARE of the rows (and more than COMMON_ROWS) weighs little in BM25 (its idf is
# log 9 or less, a rare name's 6 or more) and is left out of the query while rarer ones
# remain: on the bench's 100k store that halves the time and keeps 99% of the top 10.
# Tried and left (issue 16): capping the rows of all the kept words together at the same
# share (rarest first) took BM25 at 100k from 17 to 10 ms p50 (35 → 17 ms p95, loaded
# machine), but with the rule made active on the real seed + BBC store (10k rows) it kept
# 0.64 of the top 10 where the per-word rule keeps 0.88.
COMMON_SHARE = 0.1
COMMON_ROWS = 5000


def lexical_text(title: str, text: str) -> str:
    """What the lexical index holds for a chunk: its headline, then its text."""
    return f"{title}\n{text}"


def match_words(question: str) -> list[str]:
    """The question's content words, lower-cased, each once, in order."""
    words: dict[str, None] = {}
    for token in tokens(question):
        for part in token.replace("’", "'").split("'"):
            if len(part) > 1 and part.lower() not in STOP_WORDS:
                words.setdefault(part.lower(), None)
    return list(words)


def match_query(question: str | list[str]) -> str | None:
    """An FTS5 query: any of the question's content words (quoted, so none is an operator)."""
    words = match_words(question) if isinstance(question, str) else question
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
        self.path = path  # the store's SQLite file; ServerRecords keeps its tables there too
        self._db = sqlite_file.connect(path)
        self._lock = threading.Lock()
        self._tables: set[str] = set()
        # per table: its row count and the rows each word matches, forgotten on any write,
        # here or by another process (SQLite's data_version changes then)
        self._counts: dict[str, tuple[int, dict[str, int]]] = {}
        self._data_version = -1

    def _table(self, kb: str) -> str:
        """The rows table of `kb` (columns chunk_id, article_id, body); its FTS5 index is
        the same name + `_fts`."""
        suffix = kb.encode("utf-8").hex()
        name = f"lex_{suffix}"
        if name not in self._tables:
            with self._lock, sqlite_file.immediate(self._db):
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
        with self._lock, sqlite_file.immediate(self._db):
            for article_id in {row[1] for row in rows}:
                self._delete_article(table, article_id)
            self._counts.pop(table, None)
            self._insert(table, rows)

    def _insert(self, table: str, rows: Iterable[tuple[str, str, str]]) -> None:
        """(Within a transaction.)"""
        for chunk_id, article_id, body in rows:
            cursor = self._db.execute(
                f"INSERT INTO {table} (chunk_id, article_id, body) VALUES (?, ?, ?)",
                (chunk_id, article_id, body),
            )
            self._db.execute(
                f"INSERT INTO {table}_fts (rowid, body) VALUES (?, ?)", (cursor.lastrowid, body)
            )

    def keep_rows(
        self,
        kb: str,
        article_id: str,
        keep: Collection[str],
        add: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        """In one transaction: forget the rows of `article_id` whose chunk is not in `keep`,
        then index the rows `add` (of that article; each replacing a row of its chunk). An
        update adds the new version's rows beside the old ones (`keep` = the old chunks), and
        once the record has moved to the new version, keeps only those (`keep` = the new)."""
        rows = list(add)
        table = self._table(kb)
        kept = set(keep) - {row[0] for row in rows}
        with self._lock, sqlite_file.immediate(self._db):
            self._counts.pop(table, None)
            gone = [
                (rowid, body)
                for rowid, chunk_id, body in self._db.execute(
                    f"SELECT id, chunk_id, body FROM {table} WHERE article_id = ?",
                    (article_id,),
                ).fetchall()
                if chunk_id not in kept
            ]
            self._db.executemany(
                f"INSERT INTO {table}_fts ({table}_fts, rowid, body) VALUES ('delete', ?, ?)",
                gone,
            )
            self._db.executemany(
                f"DELETE FROM {table} WHERE id = ?", [(rowid,) for rowid, _ in gone]
            )
            self._insert(table, rows)

    def remove_article(self, kb: str, article_id: str) -> None:
        table = self._table(kb)
        with self._lock, sqlite_file.immediate(self._db):
            self._counts.pop(table, None)
            self._delete_article(table, article_id)

    def _uncommon(self, table: str, words: list[str]) -> list[str]:
        """(Under the lock.) The words without those too common to be worth ranking by (see
        COMMON_SHARE); all of them if none of the others is found at all."""
        version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        if version != self._data_version:  # another connection wrote since
            self._counts.clear()
            self._data_version = version
        rows, matches = self._counts.get(table) or (-1, {})
        if rows < 0:
            rows = int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            self._counts[table] = (rows, matches)
        limit = max(COMMON_ROWS, COMMON_SHARE * rows)
        if rows <= limit:
            return words
        for word in words:
            if word not in matches:
                matches[word] = int(
                    self._db.execute(
                        f"SELECT count(*) FROM {table}_fts WHERE {table}_fts MATCH ?",
                        (match_query([word]),),
                    ).fetchone()[0]
                )
        # (a word found nowhere finds nothing: it cannot stand in for the common ones)
        uncommon = [word for word in words if 0 < matches[word] <= limit]
        return uncommon or words

    def search(self, kb: str, question: str, k: int) -> list[tuple[str, float]]:
        """(chunk_id, bm25) best first; FTS5's bm25() is lower-is-better, so it is negated."""
        words = match_words(question)
        if not words:
            return []
        table = self._table(kb)
        with self._lock:
            query = match_query(self._uncommon(table, words))
            rows = self._db.execute(
                f"SELECT t.chunk_id, hit.score FROM (SELECT rowid, bm25({table}_fts) AS score "
                f"FROM {table}_fts WHERE {table}_fts MATCH ? ORDER BY score LIMIT ?) AS hit "
                f"JOIN {table} AS t ON t.id = hit.rowid ORDER BY hit.score",
                (query, k),
            ).fetchall()
        return [(chunk_id, -float(score)) for chunk_id, score in rows]

    def rows(self, kb: str) -> list[tuple[str, str]]:
        """(chunk_id, article_id) of every row of `kb` (a chunk twice if it has two rows)."""
        table = self._table(kb)
        with self._lock:
            return [
                (str(chunk), str(article))
                for chunk, article in self._db.execute(f"SELECT chunk_id, article_id FROM {table}")
            ]

    def article_order(self, kb: str) -> dict[str, int]:
        """Each article's place in the order its current rows were written (the first row's
        number): the order in which equal BM25 scores are returned."""
        table = self._table(kb)
        with self._lock:
            rows = self._db.execute(
                f"SELECT article_id, min(id) FROM {table} GROUP BY article_id"
            ).fetchall()
        return {str(article_id): int(first) for article_id, first in rows}

    def count(self, kb: str) -> int:
        table = self._table(kb)
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def clear(self, kb: str) -> None:
        table = self._table(kb)
        with self._lock, sqlite_file.immediate(self._db):
            self._counts.pop(table, None)
            self._db.execute(f"DELETE FROM {table}")
            self._db.execute(f"INSERT INTO {table}_fts ({table}_fts) VALUES ('delete-all')")

    def close(self) -> None:
        with self._lock:
            self._db.close()
