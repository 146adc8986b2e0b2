"""Vectors of the stored chunks' sentences, embedded at ingest, so a question's candidate
sentences are read, not embedded (~11 ms each): the question is then a query's one model call.

A content-addressed cache in the store's SQLite file (the lexical index's): a row's key is a
hash of the vector space (the embedding model and how it runs, `vector_space`) and the
sentence's text, so a row can never be wrong for a reader of the same space, and a missing row
only means the sentence is embedded at query time. Each row belongs to a chunk (the first chunk
of its article's version that holds the sentence) and leaves with it; a sentence of several
articles has a row for each. Vectors are float16 (384 dimensions: 768 bytes), read back as
float32 unit vectors (cosines within ~1e-3 of the model's).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.index import sqlite_file

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SentenceVectors", "from_blob", "sentence_key", "to_blob"]

_TABLE = "sentence_vectors"
_MAX_KEYS = 500  # keys per SELECT (SQLite allows 32,766 parameters; smaller is kinder)


def sentence_key(space: str, text: str) -> bytes:
    """The row key of `text` embedded in `space` (16 bytes of BLAKE2b)."""
    return hashlib.blake2b(f"{space}\0{text}".encode(), digest_size=16).digest()


def to_blob(vector: Any) -> bytes:
    """A vector as stored: float16, little-endian."""
    import numpy as np

    return np.asarray(vector, dtype="<f2").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """A stored vector read back: float32, unit length (float16 storage moves it by ~1e-3)."""
    import numpy as np

    vector = np.frombuffer(blob, dtype="<f2").astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class SentenceVectors:
    """The table `sentence_vectors` (key, kb, chunk_id, article_id, vector) in the store's
    SQLite file. WAL, a busy timeout and IMMEDIATE transactions, as `LexicalIndex`: other
    newsbot processes read and write the same file (issue 19)."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._db = sqlite_file.connect(path)
        self._lock = threading.Lock()
        if self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_TABLE,)
        ).fetchone():
            return  # (no write transaction for a reader of a file that has the table)
        with self._write():
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {_TABLE} (key BLOB NOT NULL, kb TEXT NOT NULL, "
                "chunk_id TEXT NOT NULL, article_id TEXT NOT NULL, vector BLOB NOT NULL, "
                "PRIMARY KEY (key, kb, chunk_id)) WITHOUT ROWID"
            )
            self._db.execute(
                f"CREATE INDEX IF NOT EXISTS {_TABLE}_article ON {_TABLE} (kb, article_id)"
            )

    @contextmanager
    def _write(self) -> Iterator[None]:
        """The lock, and a write transaction."""
        with self._lock, sqlite_file.immediate(self._db):
            yield

    def blobs(self, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """The stored float16 blobs of these keys, of any knowledge base."""
        found: dict[bytes, bytes] = {}
        wanted = list(dict.fromkeys(keys))
        with self._lock:
            for offset in range(0, len(wanted), _MAX_KEYS):
                batch = wanted[offset : offset + _MAX_KEYS]
                marks = ",".join("?" * len(batch))
                for key, blob in self._db.execute(
                    f"SELECT key, vector FROM {_TABLE} WHERE key IN ({marks})", batch
                ):
                    found.setdefault(bytes(key), bytes(blob))
        return found

    def vectors(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The stored vectors of these keys (float32, unit length), of any knowledge base."""
        return {key: from_blob(blob) for key, blob in self.blobs(keys).items()}

    def add(self, kb: str, rows: Iterable[tuple[bytes, str, str, bytes]]) -> None:
        """Store (key, chunk_id, article_id, float16 blob) rows of `kb` (a row already there
        for the same key and chunk is replaced)."""
        values = [(key, kb, chunk, article, blob) for key, chunk, article, blob in rows]
        if not values:
            return
        with self._write():
            self._db.executemany(
                f"INSERT OR REPLACE INTO {_TABLE} (key, kb, chunk_id, article_id, vector) "
                "VALUES (?, ?, ?, ?, ?)",
                values,
            )

    def article_rows(
        self, kb: str, article_ids: Collection[str]
    ) -> list[tuple[bytes, str, str, bytes]]:
        """The (key, chunk_id, article_id, float16 blob) rows of these articles of `kb`,
        ordered by chunk and key."""
        wanted = sorted(set(article_ids))
        rows: list[tuple[bytes, str, str, bytes]] = []
        with self._lock:
            for offset in range(0, len(wanted), _MAX_KEYS):
                batch = wanted[offset : offset + _MAX_KEYS]
                marks = ",".join("?" * len(batch))
                rows.extend(
                    (bytes(key), str(chunk), str(article), bytes(blob))
                    for key, chunk, article, blob in self._db.execute(
                        f"SELECT key, chunk_id, article_id, vector FROM {_TABLE} "
                        f"WHERE kb = ? AND article_id IN ({marks})",
                        (kb, *batch),
                    )
                )
        return sorted(rows, key=lambda row: (row[2], row[1], row[0]))

    def keep(self, kb: str, article_id: str, keep: Collection[str]) -> None:
        """Forget the rows of `article_id` whose chunk is not in `keep`."""
        kept = set(keep)
        with self._write():
            gone = [
                (key, chunk)
                for key, chunk in self._db.execute(
                    f"SELECT key, chunk_id FROM {_TABLE} WHERE kb = ? AND article_id = ?",
                    (kb, article_id),
                )
                if chunk not in kept
            ]
            self._db.executemany(
                f"DELETE FROM {_TABLE} WHERE key = ? AND kb = ? AND chunk_id = ?",
                [(key, kb, chunk) for key, chunk in gone],
            )

    def remove_article(self, kb: str, article_id: str) -> None:
        with self._write():
            self._db.execute(
                f"DELETE FROM {_TABLE} WHERE kb = ? AND article_id = ?", (kb, article_id)
            )

    def chunk_rows(self, kb: str) -> list[tuple[str, str, int]]:
        """(chunk_id, article_id, rows) of every chunk of `kb` that owns sentence rows."""
        with self._lock:
            return [
                (str(chunk), str(article), int(rows))
                for chunk, article, rows in self._db.execute(
                    f"SELECT chunk_id, article_id, count(*) FROM {_TABLE} WHERE kb = ? "
                    "GROUP BY chunk_id, article_id",
                    (kb,),
                )
            ]

    def count(self, kb: str | None = None) -> int:
        with self._lock:
            if kb is None:
                row = self._db.execute(f"SELECT count(*) FROM {_TABLE}").fetchone()
            else:
                row = self._db.execute(
                    f"SELECT count(*) FROM {_TABLE} WHERE kb = ?", (kb,)
                ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
