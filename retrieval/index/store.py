"""The Chroma store: one pair of collections per knowledge base (chunks, and article records).

An article's chunks are written first and its record last, and the record is removed first:
so a crash leaves at most orphan chunks, which are never returned and are swept on the next
write. An article is therefore either fully present or absent.
"""

from __future__ import annotations

import fcntl
import functools
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from retrieval.errors import StoreError
from retrieval.index.lexical import LexicalIndex
from retrieval.text.terms import body_key
from retrieval.types import Article, Chunk, Passage, StoredArticle

__all__ = ["ArticleStore", "Passage", "StoreError", "StoredArticle", "open_store"]

MAX_BATCH = 5000  # Chroma's limit is 5461 records per call
_KB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$")


def _clean(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma metadata cannot hold None."""
    return {key: value for key, value in meta.items() if value is not None}


def _optional(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return str(value) if value not in (None, "") else None


def _passage(chunk_id: str, document: str, meta: dict[str, Any], score: float) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        article_id=str(meta["article_id"]),
        text=document,
        score=score,
        start=int(meta["start"]),
        end=int(meta["end"]),
        title=str(meta.get("title", "")),
        source=_optional(meta, "source"),
        url=_optional(meta, "url"),
        published_at=_optional(meta, "published_at"),
    )


def lexical_text(title: str, text: str) -> str:
    """What the lexical index holds for a chunk: its headline, then its text."""
    return f"{title}\n{text}"


class WriteLock:
    """One write at a time that spans Chroma and SQLite (an article's chunks, its BM25 rows,
    its record), across this process's threads and, through a `flock` on `path`, the other
    newsbot processes of this machine: so one process never sweeps as leftovers the chunks
    another is still writing, and an article two processes add at once is stored once."""

    def __init__(self, path: Path | None = None) -> None:
        self._threads = threading.RLock()
        self._file = open(path, "a+") if path is not None else None  # noqa: SIM115
        self._depth = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            if self._file is not None and self._depth == 0:
                fcntl.flock(self._file, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._file is not None and self._depth == 0:
                    fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


F = TypeVar("F", bound=Callable[..., Any])


def _reconnecting(method: F) -> F:
    """A call that finds the Chroma server gone: through a local server (its supervisor or
    `chroma run` killed), the store is opened again — connected to a server another process
    started meanwhile, or serving it anew, or embedded — and the call made once more (every
    write here can be repeated: see add_articles). At a NEWSBOT_CHROMA_URL server: one line."""

    @functools.wraps(method)
    def call(self: ArticleStore, *args: Any, **kwargs: Any) -> Any:
        import httpx

        try:
            return method(self, *args, **kwargs)
        except httpx.TransportError as exc:
            if self._reopen is None:
                raise StoreError(f"lost the Chroma server ({exc})") from None
            self._reconnect()
            return method(self, *args, **kwargs)

    return call  # type: ignore[return-value]


class ArticleStore:
    def __init__(
        self,
        client: Any,
        lexical: LexicalIndex,
        *,
        lock: Any = None,
        writes: WriteLock | None = None,
        reopen: Callable[[], Any] | None = None,
    ) -> None:
        self._client = client
        self._reopen = reopen  # a new (client, lock) pair: see _reconnecting
        self.lexical = lexical
        self._lock = lock  # held for the life of the store: says this process uses it
        self._writes = writes or WriteLock()
        self._collections: dict[str, Any] = {}
        self._lexical_checked: set[str] = set()

    def _reconnect(self) -> None:
        if self._lock is not None:
            self._lock.close()
        assert self._reopen is not None
        connection = self._reopen()
        self._client, self._lock = connection.client, connection
        self._collections.clear()

    @property
    def local_server(self) -> str | None:
        """The address of the local Chroma server this store goes through (see
        local_server.py); None when embedded, or at a server of NEWSBOT_CHROMA_URL."""
        return getattr(self._lock, "url", None)

    # -- collections -------------------------------------------------------------------
    def _collection(self, kb: str, kind: str) -> Any:
        if not _KB_NAME.match(kb):
            raise StoreError(
                f"invalid knowledge base name {kb!r} (letters, digits, - and _; up to 41)"
            )
        name = f"nb-{kb}-{kind}"
        if name not in self._collections:
            space = "cosine" if kind == "chunks" else "l2"
            self._collections[name] = self._client.get_or_create_collection(
                name, configuration={"hnsw": {"space": space}}, embedding_function=None
            )
        return self._collections[name]

    @_reconnecting
    def knowledge_bases(self) -> list[str]:
        names = [getattr(c, "name", c) for c in self._client.list_collections()]
        return sorted(n[3:-9] for n in names if n.startswith("nb-") and n.endswith("-articles"))

    # -- articles ----------------------------------------------------------------------
    @_reconnecting
    def has_article(self, kb: str, article_id: str) -> bool:
        return bool(self._collection(kb, "articles").get(ids=[article_id], include=[])["ids"])

    @_reconnecting
    def add_articles(
        self, kb: str, items: Sequence[tuple[Article, Sequence[Chunk], Any]]
    ) -> list[str]:
        """Store articles with their chunks and chunk vectors: the chunks of all of them, then
        their lexical rows, then their records, so a crash at any point leaves each article
        whole or absent. Together, as each Chroma call costs ~5 ms of CPU however small: one
        call per article took a tenth of ingest's time. Returns the ids written: an article
        another process stored meanwhile is left as it is."""
        with self._writes.held():
            stored = self._present(kb, {article.id for article, _, _ in items})
            items = [item for item in items if item[0].id not in stored]
            if items:
                self._add_articles(kb, items)
            return [article.id for article, _, _ in items]

    def _add_articles(self, kb: str, items: Sequence[tuple[Article, Sequence[Chunk], Any]]) -> None:
        import numpy as np

        chunks_col = self._collection(kb, "chunks")
        # Leftovers of an interrupted write: a write starts with chunk 0, so only articles
        # whose chunk 0 is there need the metadata-filtered delete, slow on a big collection.
        firsts = [chunks[0].id for _, chunks, _ in items if chunks]
        begun = set(chunks_col.get(ids=firsts, include=[])["ids"]) if firsts else set()
        for article, chunks, _ in items:
            if not chunks or chunks[0].id in begun:
                self._sweep_chunks(kb, article.id)
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict[str, Any]] = []
        rows: list[tuple[str, str, str]] = []
        for article, chunks, _ in items:
            common = {
                "article_id": article.id,
                "title": article.title,
                "source": article.source,
                "url": article.url,
                "published_at": article.published_at,
            }
            for c in chunks:
                ids.append(c.id)
                documents.append(c.text)
                metadatas.append(
                    _clean({**common, "chunk_index": c.index, "start": c.start, "end": c.end})
                )
                rows.append((c.id, article.id, lexical_text(article.title, c.text)))
        if ids:
            vectors = np.concatenate(
                [np.asarray(v, dtype=np.float32).reshape(len(c), -1) for _, c, v in items if c]
            )
            for offset in range(0, len(ids), MAX_BATCH):
                end = offset + MAX_BATCH
                chunks_col.add(
                    ids=ids[offset:end],
                    embeddings=vectors[offset:end],
                    documents=documents[offset:end],
                    metadatas=metadatas[offset:end],
                )
        self.lexical.add_rows(kb, rows)  # replacing any rows of these articles
        self._collection(kb, "articles").add(
            ids=[article.id for article, _, _ in items],
            embeddings=[[1.0]] * len(items),
            documents=[article.text for article, _, _ in items],
            metadatas=[
                _clean(
                    {
                        "article_id": article.id,
                        "title": article.title,
                        "source": article.source,
                        "url": article.url,
                        "published_at": article.published_at,
                        "chunks": len(chunks),
                        "body": body_key(article.text),
                    }
                )
                for article, chunks, _ in items
            ],
        )

    @_reconnecting
    def find_same_body(self, kb: str, text: str) -> str | None:
        """The id of a stored article with this body (another headline, another id), if any."""
        got = self._collection(kb, "articles").get(
            where={"body": body_key(text)}, limit=1, include=[]
        )
        return got["ids"][0] if got["ids"] else None

    def _sweep_chunks(self, kb: str, article_id: str) -> None:
        """Delete chunks left by an interrupted write of this article."""
        self._collection(kb, "chunks").delete(where={"article_id": article_id})

    @_reconnecting
    def remove_article(self, kb: str, article_id: str) -> bool:
        with self._writes.held():
            if not self.has_article(kb, article_id):
                return False
            self._collection(kb, "articles").delete(ids=[article_id])
            self._sweep_chunks(kb, article_id)
            self.lexical.remove_article(kb, article_id)
            return True

    @_reconnecting
    def get_article(self, kb: str, article_id: str) -> Article | None:
        got = self._collection(kb, "articles").get(
            ids=[article_id], include=["documents", "metadatas"]
        )
        if not got["ids"]:
            return None
        meta = got["metadatas"][0]
        return Article(
            id=article_id,
            title=str(meta.get("title", "")),
            text=got["documents"][0],
            url=_optional(meta, "url"),
            source=_optional(meta, "source"),
            published_at=_optional(meta, "published_at"),
        )

    @_reconnecting
    def list_articles(self, kb: str) -> list[StoredArticle]:
        got = self._collection(kb, "articles").get(include=["documents", "metadatas"])
        articles = [
            StoredArticle(
                id=article_id,
                title=str(meta.get("title", "")),
                source=_optional(meta, "source"),
                url=_optional(meta, "url"),
                published_at=_optional(meta, "published_at"),
                chunks=int(meta.get("chunks", 0)),
                chars=len(document or ""),
            )
            for article_id, meta, document in zip(
                got["ids"], got["metadatas"], got["documents"], strict=True
            )
        ]
        return sorted(articles, key=lambda a: (a.published_at or "", a.title), reverse=True)

    @_reconnecting
    def count_chunks(self, kb: str) -> int:
        return int(self._collection(kb, "chunks").count())

    # -- search ------------------------------------------------------------------------
    @_reconnecting
    def dense_ranking(self, kb: str, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the k chunks nearest to `vector`, best first: the
        index alone. Reading the k documents and metadata as well took 5 of the 6 ms of a
        query at 10k chunks; `get_passages` reads the few that are kept."""
        # (no count() first: a call fewer, ~3 ms through a local server; an empty
        # collection answers with no ids)
        result = self._collection(kb, "chunks").query(
            query_embeddings=[list(vector)], n_results=k, include=["distances"]
        )
        return [
            (chunk_id, 1.0 - float(distance))
            for chunk_id, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    @_reconnecting
    def lexical_search(self, kb: str, question: str, k: int) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score) of the k best lexical matches."""
        self._check_lexical(kb)
        return self.lexical.search(kb, question, k)

    @_reconnecting
    def get_passages(self, kb: str, chunk_ids: Sequence[str]) -> dict[str, Passage]:
        """Passages by chunk id (score 0), of stored articles only."""
        if not chunk_ids:
            return {}
        got = self._collection(kb, "chunks").get(
            ids=list(chunk_ids), include=["documents", "metadatas"]
        )
        passages = [
            _passage(chunk_id, document, meta, 0.0)
            for chunk_id, document, meta in zip(
                got["ids"], got["documents"], got["metadatas"], strict=True
            )
        ]
        present = self._present(kb, {p.article_id for p in passages})
        return {p.chunk_id: p for p in passages if p.article_id in present}

    def _check_lexical(self, kb: str) -> None:
        """Once per knowledge base and process: rebuild the lexical index from Chroma if the
        two disagree (an index file lost or copied, or another process writing to a server)."""
        if kb in self._lexical_checked:
            return
        with self._writes.held():  # not while another process is half-way through a write
            self._sync_lexical(kb)
        self._lexical_checked.add(kb)

    def _sync_lexical(self, kb: str) -> None:
        chunks_col = self._collection(kb, "chunks")
        if self.lexical.count(kb) != chunks_col.count():
            self.lexical.clear(kb)
            offset = 0
            while True:
                got = chunks_col.get(
                    include=["documents", "metadatas"], limit=MAX_BATCH, offset=offset
                )
                if not got["ids"]:
                    break
                self.lexical.add_rows(
                    kb,
                    [
                        (
                            chunk_id,
                            str(meta["article_id"]),
                            lexical_text(str(meta.get("title", "")), doc),
                        )
                        for chunk_id, doc, meta in zip(
                            got["ids"], got["documents"], got["metadatas"], strict=True
                        )
                    ],
                )
                offset += len(got["ids"])

    def _present(self, kb: str, article_ids: set[str]) -> set[str]:
        if not article_ids:
            return set()
        got = self._collection(kb, "articles").get(ids=sorted(article_ids), include=[])
        return set(got["ids"])

    def close(self) -> None:
        self.lexical.close()
        self._writes.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def open_store(
    *,
    chroma_path: Path,
    chroma_url: str | None = None,
    lexical_path: Path | None = None,
    serve: bool = False,
    wait_s: float = 300.0,
) -> ArticleStore:
    """The Chroma server at `chroma_url`, else the store at `chroma_path`: through the local
    server of another newsbot process if one serves it, else embedded (see local_server). With
    `serve`, a local server is started for it first, for other processes to share. The lexical
    index lives at `lexical_path` (default: beside the embedded store)."""
    lexical_path = lexical_path or chroma_path.parent / "lexical.sqlite3"
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        from urllib.parse import urlsplit

        parts = urlsplit(chroma_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreError(f"NEWSBOT_CHROMA_URL must be an http(s) URL, not {chroma_url!r}")
        try:
            client = chromadb.HttpClient(
                host=parts.hostname,
                port=parts.port or (443 if parts.scheme == "https" else 80),
                ssl=parts.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            raise StoreError(f"cannot reach the Chroma server at {chroma_url} ({exc})") from None
        return ArticleStore(client, LexicalIndex(lexical_path), writes=_write_lock(lexical_path))
    from retrieval.index.local_server import connect_local

    connection = connect_local(chroma_path, serve=serve, wait_s=wait_s)
    return ArticleStore(
        connection.client,
        LexicalIndex(lexical_path),
        lock=connection,
        writes=_write_lock(lexical_path),
        reopen=lambda: connect_local(chroma_path, serve=serve, wait_s=wait_s),
    )


def _write_lock(lexical_path: Path) -> WriteLock:
    lexical_path.parent.mkdir(parents=True, exist_ok=True)
    return WriteLock(lexical_path.parent / ".newsbot-write.lock")
