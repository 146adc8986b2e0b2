"""The Chroma store: one pair of collections per knowledge base (chunks, and article records).

An article's chunks are written first and its record last, and the record is removed first:
so a crash leaves at most orphan chunks, which are never returned and are swept on the next
write. An article is therefore either fully present or absent.

An update (the same article, another text) keeps that order with versions: the new text's
chunks are written under new ids (`ARTICLE_ID~VERSION:N`) beside the old ones, then one write
of the record moves it to the new text and version, then the old chunks are swept. A passage
is returned only when its chunk is of its record's version, so after a crash at any point the
old version or the new one is whole, never a mix; the record says when chunks of another
version may be left (`leftovers`), and the next write of the article sweeps them.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from retrieval.errors import StoreError
from retrieval.index.check import KnowledgeBaseParts, counts_agree, inspect
from retrieval.index.check import mend as mend_parts
from retrieval.index.identity import chunk_id, stored_identity
from retrieval.index.lexical import LexicalIndex, lexical_text
from retrieval.index.sentence_vectors import SentenceVectors
from retrieval.text.terms import body_key
from retrieval.types import Article, Chunk, KnowledgeBaseCheck, Passage, StoredArticle

__all__ = [
    "ArticleStore",
    "Passage",
    "SentenceRow",
    "StoreError",
    "StoredArticle",
    "StoredRecord",
    "StoredVersion",
    "chunk_metadata",
    "open_store",
]

# A stored sentence vector: (key, chunk_id, article_id, float16 blob); see sentence_vectors.
SentenceRow = tuple[bytes, str, str, bytes]

MAX_BATCH = 5000  # Chroma's limit is 5461 records per call
# Set in a knowledge base's articles collection once every record carries its `identity`.
_IDENTITIES_MARK = "newsbot_identities"
_KB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$")

log = logging.getLogger("newsbot.store")


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


@dataclass(frozen=True)
class StoredVersion:
    """The version of an article the store holds: its stored id, its body key, the version
    of its chunks (None: the text it was first added with), how many, and whether chunks of
    another version may be left (an update under way, or one interrupted)."""

    id: str
    body: str
    version: str | None
    chunks: int
    leftovers: bool = False

    def chunk_ids(self) -> set[str]:
        return {chunk_id(self.id, index, self.version) for index in range(self.chunks)}


@dataclass(frozen=True)
class StoredRecord:
    """An article as the store holds it: its record (id, text, metadata) and its stored
    version's chunks (ids, texts, metadata, and their vectors: one float32 row each; None
    when not read). What `newsbot export` writes and `newsbot import` restores."""

    id: str
    document: str
    metadata: dict[str, Any]
    chunk_ids: list[str]
    chunk_documents: list[str]
    chunk_metadatas: list[dict[str, Any]]
    vectors: Any = None

    @classmethod
    def of(
        cls,
        record_id: str,
        document: str,
        metadata: dict[str, Any],
        chunks: Sequence[Chunk],
        vectors: Any,
    ) -> StoredRecord:
        """An article's record and the chunks it is split into, as the store writes them."""
        return cls(
            id=record_id,
            document=document,
            metadata=metadata,
            chunk_ids=[c.id for c in chunks],
            chunk_documents=[c.text for c in chunks],
            chunk_metadatas=[chunk_metadata(metadata, c) for c in chunks],
            vectors=vectors,
        )


def chunk_metadata(record: dict[str, Any], chunk: Chunk) -> dict[str, Any]:
    """A chunk's metadata, from its article's record metadata: what passages show."""
    keys = ("article_id", "title", "source", "url", "published_at", "version")
    common = {key: record.get(key) for key in keys}
    return _clean({**common, "chunk_index": chunk.index, "start": chunk.start, "end": chunk.end})


class WriteLock:
    """One write at a time that spans Chroma and SQLite (an article's chunks, its BM25 rows,
    its record), across this process's threads and, through a `flock` on `path`, the other
    newsbot processes of this machine: so one process never sweeps as leftovers the chunks
    another is still writing, and an article two processes add at once is stored once.

    The lock file also says whether a write was left unfinished: its holder writes a line
    into it on taking the lock and empties it on leaving cleanly. A holder killed half-way
    (or whose write raised) leaves the line; the kernel drops its lock, and the next holder
    finds the line and first calls `on_interrupted` (the store's count check and mending).
    A clean start pays one read of a few bytes."""

    def __init__(self, path: Path | None = None) -> None:
        self._threads = threading.RLock()
        self._file = open(path, "a+") if path is not None else None  # noqa: SIM115
        self._depth = 0
        self.on_interrupted: Callable[[], None] | None = None

    def _marked(self) -> bool:
        """(A line in the lock file: a holder's write is under way, or was left unfinished.)"""
        assert self._file is not None
        return bool(os.pread(self._file.fileno(), 1, 0))

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            outermost = self._file is not None and self._depth == 0
            interrupted = False
            if outermost:
                assert self._file is not None
                fcntl.flock(self._file, fcntl.LOCK_EX)
                try:
                    interrupted = self._marked()
                    if not interrupted:  # (in append mode: written at its start when empty)
                        line = f"writing: process {os.getpid()}\n"
                        os.write(self._file.fileno(), line.encode())
                except BaseException:
                    fcntl.flock(self._file, fcntl.LOCK_UN)
                    raise
            self._depth += 1
            finished = False
            try:
                if interrupted and self.on_interrupted is not None:
                    self.on_interrupted()
                yield
                finished = True
            finally:
                self._depth -= 1
                if outermost:
                    assert self._file is not None
                    try:
                        if finished:
                            os.ftruncate(self._file.fileno(), 0)
                    finally:
                        fcntl.flock(self._file, fcntl.LOCK_UN)

    def recover_if_interrupted(self) -> None:
        """Run `on_interrupted` now if a write was left unfinished, without waiting: a lock
        another process holds means a live writer (which looked when it took the lock)."""
        if self._file is None or not self._marked():
            return
        with self._threads:
            if self._depth:
                return
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            fcntl.flock(self._file, fcntl.LOCK_UN)
            with self.held():
                pass

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
        sentences: SentenceVectors | None = None,
        remote: bool = False,
    ) -> None:
        self._client = client
        # a server of NEWSBOT_CHROMA_URL, which processes of other machines may write to
        # while this one holds its (this machine's) write lock
        self._remote = remote
        self._reopen = reopen  # a new (client, lock) pair: see _reconnecting
        self.lexical = lexical
        # the chunks' sentence vectors, in the lexical index's file; rows come and go with
        # their chunks (written before the article's record, swept with its chunks)
        self.sentences = sentences if sentences is not None else SentenceVectors(lexical.path)
        self._lock = lock  # held for the life of the store: says this process uses it
        self._writes = writes or WriteLock()
        self._collections: dict[str, Any] = {}
        self._lexical_checked: set[str] = set()
        self._identities_checked: set[str] = set()
        self._writes.on_interrupted = self._recover_interrupted_write

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

    def _articles(self, kb: str) -> Any:
        """The articles collection, its records all carrying their `identity` (the id the
        article gets today): records written before identities were kept are given theirs,
        once per knowledge base. Their ids do not change."""
        collection = self._collection(kb, "articles")
        if kb in self._identities_checked:
            return collection
        if not (collection.metadata or {}).get(_IDENTITIES_MARK):
            with self._writes.held():
                self._give_identities(collection)
        self._identities_checked.add(kb)
        return collection

    def _give_identities(self, collection: Any) -> None:
        """(Under the write lock.) Each record without an `identity` is given its own, then
        the collection is marked."""
        offset = 0
        while True:
            got = collection.get(include=["metadatas"], limit=MAX_BATCH, offset=offset)
            if not got["ids"]:
                break
            missing = [
                (stored_id, {"identity": stored_identity(stored_id, _optional(meta, "url"))})
                for stored_id, meta in zip(got["ids"], got["metadatas"], strict=True)
                if not meta.get("identity")
            ]
            if missing:
                collection.update(
                    ids=[stored_id for stored_id, _ in missing],
                    metadatas=[meta for _, meta in missing],
                )
            offset += len(got["ids"])
        collection.modify(metadata={**(collection.metadata or {}), _IDENTITIES_MARK: 1})

    # -- articles ----------------------------------------------------------------------
    @_reconnecting
    def stored_id(self, kb: str, article_id: str) -> str | None:
        """The id under which the article `article_id` names is stored: that id, or the id
        it was stored under before its identity changed (a URL with tracking parameters,
        stored before they were dropped); None when it is not stored."""
        if self._collection(kb, "articles").get(ids=[article_id], include=[])["ids"]:
            return article_id
        got = self._articles(kb).get(where={"identity": article_id}, limit=1, include=[])
        return str(got["ids"][0]) if got["ids"] else None

    @_reconnecting
    def present(self, kb: str, article_ids: Sequence[str]) -> set[str]:
        """Those of these stored ids that are stored."""
        return set(self._versions(kb, set(article_ids)))

    def has_article(self, kb: str, article_id: str) -> bool:
        return self.stored_id(kb, article_id) is not None

    def lookup(
        self, kb: str, article_id: str, text: str
    ) -> tuple[StoredVersion | None, str | None]:
        """The stored version of the article `article_id` names (by its id or its identity),
        else the id of a stored article with the same body (another headline, another id)."""
        return self.lookup_many(kb, [(article_id, text)])[0]

    @_reconnecting
    def lookup_many(
        self, kb: str, items: Sequence[tuple[str, str]]
    ) -> list[tuple[StoredVersion | None, str | None]]:
        """`lookup` of each (article id, text), in two reads for them all: by id, then one
        metadata filter for the rest. Chroma answers a filter by scanning the collection's
        metadata (32-46 ms at 400k records, as long for one value as for 50), so ingest looks
        up a batch of articles at once, not one at a time."""
        if not items:
            return []
        articles = self._articles(kb)
        records: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(article_id for article_id, _ in items))
        got = articles.get(ids=ids, include=["metadatas"])
        records.update(zip(map(str, got["ids"]), got["metadatas"], strict=True))
        bodies = [body_key(text) for _, text in items]
        rest = [(i, b) for (i, _), b in zip(items, bodies, strict=True) if i not in records]
        if rest:
            got = articles.get(
                where={
                    "$or": [
                        {"identity": {"$in": list({article_id for article_id, _ in rest})}},
                        {"body": {"$in": list({body for _, body in rest})}},
                    ]
                },
                include=["metadatas"],
            )
            records.update(zip(map(str, got["ids"]), got["metadatas"], strict=True))
        found: list[tuple[StoredVersion | None, str | None]] = []
        for (article_id, _), body in zip(items, bodies, strict=True):
            if article_id in records:
                found.append((self._version(kb, article_id, records[article_id]), None))
                continue
            same_body = None
            for stored_id, meta in records.items():
                if meta.get("identity") == article_id:
                    found.append((self._version(kb, stored_id, meta), None))
                    break
                if same_body is None and meta.get("body") == body:
                    same_body = stored_id
            else:
                found.append((None, same_body))
        return found

    def _version(self, kb: str, stored_id: str, meta: dict[str, Any]) -> StoredVersion:
        body = meta.get("body")
        if not body:  # (a record written before body keys were kept)
            got = self._collection(kb, "articles").get(ids=[stored_id], include=["documents"])
            body = body_key(got["documents"][0] or "")
        return StoredVersion(
            id=stored_id,
            body=str(body),
            version=_optional(meta, "version"),
            chunks=int(meta.get("chunks", 0)),
            leftovers=bool(meta.get("leftovers")),
        )

    @_reconnecting
    def add_articles(
        self,
        kb: str,
        items: Sequence[tuple[Article, Sequence[Chunk], Any]],
        sentences: Sequence[SentenceRow] = (),
    ) -> list[str]:
        """Store articles with their chunks and chunk vectors: the chunks of all of them, then
        their lexical rows, then their records, so a crash at any point leaves each article
        whole or absent. Together, as each Chroma call costs ~5 ms of CPU however small: one
        call per article took a tenth of ingest's time. `sentences`: the vectors of their
        chunks' sentences, written before the records too. Returns the ids written: an
        article another process stored meanwhile is left as it is."""
        with self._writes.held():
            stored = self._versions(kb, {article.id for article, _, _ in items})
            items = [item for item in items if item[0].id not in stored]
            if items:
                written = {article.id for article, _, _ in items}
                self._add_articles(kb, items, [row for row in sentences if row[2] in written])
            return [article.id for article, _, _ in items]

    def _add_articles(
        self,
        kb: str,
        items: Sequence[tuple[Article, Sequence[Chunk], Any]],
        sentences: Sequence[SentenceRow] = (),
    ) -> None:
        import numpy as np

        records = []
        for article, chunks, vectors in items:
            record = _clean(
                {
                    "article_id": article.id,
                    "title": article.title,
                    "source": article.source,
                    "url": article.url,
                    "published_at": article.published_at,
                    "chunks": len(chunks),
                    "body": body_key(article.text),
                    "identity": article.id,
                }
            )
            rows = (
                np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1) if chunks else None
            )
            records.append(StoredRecord.of(article.id, article.text, record, chunks, rows))
        self._write_records(kb, records, sentences)

    def _write_records(
        self, kb: str, records: Sequence[StoredRecord], sentences: Sequence[SentenceRow] = ()
    ) -> None:
        """(Under the write lock.) The one write path of new articles: the chunks of all of
        them, then their lexical rows and sentence rows, then their records."""
        import numpy as np

        chunks_col = self._collection(kb, "chunks")
        # Leftovers of an interrupted write: a write starts with chunk 0, so only articles
        # whose chunk 0 is there need the metadata-filtered delete, slow on a big collection.
        firsts = [record.chunk_ids[0] for record in records if record.chunk_ids]
        begun = set(chunks_col.get(ids=firsts, include=[])["ids"]) if firsts else set()
        for record in records:
            if not record.chunk_ids or record.chunk_ids[0] in begun:
                self._sweep_chunks(kb, record.id)
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict[str, Any]] = []
        rows: list[tuple[str, str, str]] = []
        for record in records:
            ids.extend(record.chunk_ids)
            documents.extend(record.chunk_documents)
            metadatas.extend(record.chunk_metadatas)
            rows.extend(
                (chunk, record.id, lexical_text(str(meta.get("title", "")), text))
                for chunk, text, meta in zip(
                    record.chunk_ids, record.chunk_documents, record.chunk_metadatas, strict=True
                )
            )
        if ids:
            vectors = np.concatenate(
                [
                    np.asarray(r.vectors, dtype=np.float32).reshape(len(r.chunk_ids), -1)
                    for r in records
                    if r.chunk_ids
                ]
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
        self.sentences.add(kb, sentences)
        self._collection(kb, "articles").add(
            ids=[record.id for record in records],
            embeddings=[[1.0]] * len(records),
            documents=[record.document for record in records],
            metadatas=[record.metadata for record in records],
        )

    @_reconnecting
    def restore_records(
        self, kb: str, records: Sequence[StoredRecord], sentences: Sequence[SentenceRow] = ()
    ) -> list[str]:
        """Store articles exactly as another store held them (`stored_records`: their ids,
        record metadata, chunk ids and vectors), by the same write path as `add_articles`, so
        a crash leaves each whole or absent. An article stored already is left as it is (and
        so is one whose identity a stored article has). Returns the ids written."""
        with self._writes.held():
            ids = {record.id for record in records}
            present = set(self._versions(kb, ids))
            identities = sorted({str(r.metadata.get("identity") or r.id) for r in records})
            got = (
                self._articles(kb).get(
                    where={"identity": {"$in": identities}}, include=["metadatas"]
                )
                if identities
                else {"ids": [], "metadatas": []}
            )
            taken = {str(meta.get("identity")) for meta in got["metadatas"]}
            new = [
                record
                for record in records
                if record.id not in present
                and str(record.metadata.get("identity") or record.id) not in taken
            ]
            if new:
                written = {record.id for record in new}
                self._write_records(kb, new, [row for row in sentences if row[2] in written])
            return [record.id for record in new]

    def stored_records(
        self, kb: str, *, vectors: bool, batch: int = 100
    ) -> Generator[StoredRecord, None, None]:
        """Every article of `kb` as stored, in the order they were written: its record (without the
        mark of an update under way) and the chunks of its stored version, with their vectors
        if `vectors`. The write lock is held until the last is read (or the iterator closed),
        so no write changes an article half-way through."""
        import httpx

        try:
            with self._writes.held():
                yield from self._stored_records(kb, vectors=vectors, batch=batch)
        except httpx.TransportError as exc:
            raise StoreError(f"lost the Chroma server ({exc})") from None

    def _stored_records(self, kb: str, *, vectors: bool, batch: int) -> Iterator[StoredRecord]:
        articles = self._articles(kb)
        # In the order they were written (their first lexical row), so an import writes them
        # in that order too: BM25 returns equal scores in the order rows were written, and
        # Chroma equally near chunks in the order they were added, so answers come out alike.
        self._sync_lexical(kb)
        order = self.lexical.article_order(kb)
        all_ids = sorted(
            (str(i) for i in articles.get(include=[])["ids"]),
            key=lambda i: (order.get(i, 1 << 62), i),
        )
        include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
        for offset in range(0, len(all_ids), batch):
            got = articles.get(
                ids=all_ids[offset : offset + batch], include=["documents", "metadatas"]
            )
            found = {
                str(i): (doc, dict(meta))
                for i, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            }
            for article_id in all_ids[offset : offset + batch]:
                document, meta = found[article_id]
                meta.pop("leftovers", None)
                version = self._version(kb, article_id, meta)
                wanted = [chunk_id(article_id, i, version.version) for i in range(version.chunks)]
                chunks = self._chunks_by_id(kb, wanted, include)
                if len(chunks["ids"]) != len(wanted):
                    raise StoreError(
                        f"article {article_id} of {kb!r} lacks some of its chunks (a write "
                        "interrupted?): run `newsbot check --repair`, then export again"
                    )
                yield StoredRecord(
                    id=article_id,
                    document=document or "",
                    metadata=meta,
                    chunk_ids=list(wanted),
                    chunk_documents=chunks["documents"],
                    chunk_metadatas=chunks["metadatas"],
                    vectors=chunks["embeddings"] if vectors else None,
                )

    def _chunks_by_id(self, kb: str, ids: list[str], include: list[str]) -> dict[str, Any]:
        """The chunks `ids`, in that order (Chroma's `get` keeps no order)."""
        import numpy as np

        by_id: dict[str, tuple[Any, ...]] = {}
        for offset in range(0, len(ids), MAX_BATCH):
            got = self._collection(kb, "chunks").get(
                ids=ids[offset : offset + MAX_BATCH], include=include
            )
            vectors = got.get("embeddings") if "embeddings" in include else None
            for n, found in enumerate(got["ids"]):
                by_id[str(found)] = (
                    got["documents"][n],
                    dict(got["metadatas"][n]),
                    None if vectors is None else np.asarray(vectors[n], dtype=np.float32),
                )
        kept = [i for i in ids if i in by_id]
        return {
            "ids": kept,
            "documents": [by_id[i][0] for i in kept],
            "metadatas": [by_id[i][1] for i in kept],
            "embeddings": np.stack([by_id[i][2] for i in kept])
            if "embeddings" in include and kept
            else None,
        }

    @_reconnecting
    def replace_article(
        self,
        kb: str,
        stored: StoredVersion,
        article: Article,
        chunks: Sequence[Chunk],
        vectors: Any,
        *,
        version: str,
        sentences: Sequence[SentenceRow] = (),
    ) -> bool:
        """Replace the stored version of an article (`article.id == stored.id`) by a new text,
        whose chunks carry `version` in their ids. In order: mark the record (chunks of another
        version may now be there), write the new chunks and their lexical rows beside the old,
        move the record to the new text and version in one write — the moment the answers
        change — then sweep the old chunks and rows, and clear the mark. Killed anywhere, the
        record names one version whose chunks are all there; the rest is swept next time.
        False when another process stored this text meanwhile (nothing written). The new
        chunks' `sentences` are written with them, and the old ones' swept with them."""

        with self._writes.held():
            articles = self._articles(kb)
            got = articles.get(ids=[stored.id], include=["metadatas"])
            if not got["ids"]:  # removed meanwhile: stored anew, as a new article would be
                self._add_articles(
                    kb, [(replace(article, id=stored.id), chunks, vectors)], sentences
                )
                return True
            # (read again under the lock: another process may have written it meanwhile)
            current = self._version(kb, stored.id, got["metadatas"][0])
            if current.body == body_key(article.text):
                return False
            if current.leftovers:  # an interrupted update's chunks, not the record's version
                self._keep_chunks(kb, current.id, current.chunk_ids())
            else:
                articles.update(ids=[current.id], metadatas=[{"leftovers": True}])
            common = {
                "article_id": current.id,
                "title": article.title,
                "source": article.source,
                "url": article.url,
                "published_at": article.published_at,
                "version": version,
            }
            self._upsert_chunks(kb, common, chunks, vectors)
            self.lexical.keep_rows(
                kb,
                current.id,
                keep=current.chunk_ids(),
                add=[(c.id, current.id, lexical_text(article.title, c.text)) for c in chunks],
            )
            self.sentences.add(kb, sentences)
            # None deletes a field: one the new version no longer has (its source, its date)
            articles.update(
                ids=[current.id],
                embeddings=[[1.0]],
                documents=[article.text],
                metadatas=[
                    {
                        **common,
                        "chunks": len(chunks),
                        "body": body_key(article.text),
                        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "leftovers": True,
                    }
                ],
            )
            self._keep_chunks(kb, current.id, {c.id for c in chunks})
            articles.update(ids=[current.id], metadatas=[{"leftovers": None}])
            return True

    def _upsert_chunks(
        self, kb: str, record: dict[str, Any], chunks: Sequence[Chunk], vectors: Any
    ) -> None:
        """(Under the write lock.) Write the chunks, with their vectors, of the article whose
        record (metadata) is `record`: beside those stored, or over them where the ids match."""
        import numpy as np

        if not chunks:
            return
        rows = np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1)
        for offset in range(0, len(chunks), MAX_BATCH):
            batch = chunks[offset : offset + MAX_BATCH]
            self._collection(kb, "chunks").upsert(
                ids=[c.id for c in batch],
                embeddings=rows[offset : offset + MAX_BATCH],
                documents=[c.text for c in batch],
                metadatas=[chunk_metadata(record, c) for c in batch],
            )

    @_reconnecting
    def sweep_leftovers(self, kb: str, stored: StoredVersion) -> None:
        """Delete the chunks and lexical rows of versions of the article other than the
        stored one (an update killed before its sweep), and clear the record's mark."""
        with self._writes.held():
            got = self._articles(kb).get(ids=[stored.id], include=["metadatas"])
            if not got["ids"]:
                return
            current = self._version(kb, stored.id, got["metadatas"][0])
            self._keep_chunks(kb, current.id, current.chunk_ids())
            self._articles(kb).update(ids=[current.id], metadatas=[{"leftovers": None}])

    def _keep_chunks(self, kb: str, article_id: str, keep: set[str]) -> None:
        """Delete the article's chunks and lexical rows but those of `keep`."""
        chunks_col = self._collection(kb, "chunks")
        got = chunks_col.get(where={"article_id": article_id}, include=[])
        stale = [chunk for chunk in got["ids"] if chunk not in keep]
        if stale:
            chunks_col.delete(ids=stale)
        self.lexical.keep_rows(kb, article_id, keep=keep)
        self.sentences.keep(kb, article_id, keep)

    def _sweep_chunks(self, kb: str, article_id: str) -> None:
        """Delete chunks left by an interrupted write of this article."""
        self._collection(kb, "chunks").delete(where={"article_id": article_id})
        self.sentences.remove_article(kb, article_id)

    @_reconnecting
    def remove_article(self, kb: str, article_id: str) -> bool:
        """Remove the article `article_id` names (its stored id or its identity)."""
        with self._writes.held():
            stored_id = self.stored_id(kb, article_id)
            if stored_id is None:
                return False
            self._collection(kb, "articles").delete(ids=[stored_id])
            self._sweep_chunks(kb, stored_id)
            self.lexical.remove_article(kb, stored_id)
            return True

    @_reconnecting
    def get_article(self, kb: str, article_id: str) -> Article | None:
        """The article `article_id` names (its stored id or its identity), as stored."""
        stored_id = self.stored_id(kb, article_id)
        if stored_id is None:
            return None
        got = self._collection(kb, "articles").get(
            ids=[stored_id], include=["documents", "metadatas"]
        )
        if not got["ids"]:
            return None
        meta = got["metadatas"][0]
        return Article(
            id=stored_id,
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
                updated_at=_optional(meta, "updated_at"),
            )
            for article_id, meta, document in zip(
                got["ids"], got["metadatas"], got["documents"], strict=True
            )
        ]
        return sorted(articles, key=lambda a: (a.published_at or "", a.title), reverse=True)

    @_reconnecting
    def count_chunks(self, kb: str) -> int:
        return int(self._collection(kb, "chunks").count())

    # -- checking and mending ------------------------------------------------------------
    @_reconnecting
    def checked_knowledge_bases(self) -> list[str]:
        """The knowledge bases with a records or a chunks collection (one may be lost)."""
        names = [getattr(c, "name", c) for c in self._client.list_collections()]
        return sorted(
            {
                name[3:].rsplit("-", 1)[0]
                for name in names
                if name.startswith("nb-") and name.endswith(("-articles", "-chunks"))
            }
        )

    def _parts(self, kb: str) -> KnowledgeBaseParts:
        return KnowledgeBaseParts(
            kb,
            self._collection(kb, "articles"),
            self._collection(kb, "chunks"),
            self.lexical,
            self.sentences,
        )

    @_reconnecting
    def check(self, kb: str, *, mend: bool = False) -> KnowledgeBaseCheck:
        """Compare the knowledge base's records, passages, BM25 rows and sentence rows (see
        `index.check`); with `mend`, mend all but the gaps, which need the model
        (`restore_chunks`). The report is of what was found, before mending."""
        with self._writes.held():
            parts = self._parts(kb)
            found = inspect(parts)
            if mend and found.report.damage().keys() - {"gaps", "missing_chunks"}:
                mend_parts(parts, found)
            if mend:
                self._lexical_checked.add(kb)  # (agrees now, but for the gaps)
            return found.report

    @_reconnecting
    def restore_chunks(
        self,
        kb: str,
        stored: StoredVersion,
        article: Article,
        chunks: Sequence[Chunk],
        vectors: Any,
        sentences: Sequence[SentenceRow] = (),
    ) -> bool:
        """Write again the passages (vectors, BM25 rows, sentence rows) of a stored version
        whose passages were lost, from its text chunked and embedded again (`article.id ==
        stored.id`, `chunks` carry `stored.version`). Passages first, the record last, as a
        write: if the chunking now gives another count, the record is marked while both may
        be there, then moves to the new count, then the rest is swept. False when the
        record changed meanwhile (nothing written)."""

        with self._writes.held():
            articles = self._collection(kb, "articles")
            got = articles.get(ids=[stored.id], include=["metadatas"])
            if not got["ids"]:
                return False
            current = self._version(kb, stored.id, got["metadatas"][0])
            if (current.version, current.body) != (stored.version, stored.body):
                return False
            recount = len(chunks) != current.chunks
            if recount:
                articles.update(ids=[current.id], metadatas=[{"leftovers": True}])
            common = {
                "article_id": current.id,
                "title": article.title,
                "source": article.source,
                "url": article.url,
                "published_at": article.published_at,
                "version": current.version,
            }
            self._upsert_chunks(kb, common, chunks, vectors)
            self.lexical.keep_rows(
                kb,
                current.id,
                keep=(),
                add=[(c.id, current.id, lexical_text(article.title, c.text)) for c in chunks],
            )
            self.sentences.remove_article(kb, current.id)
            self.sentences.add(kb, sentences)
            if recount:
                articles.update(ids=[current.id], metadatas=[{"chunks": len(chunks)}])
                self._keep_chunks(kb, current.id, {c.id for c in chunks})
                articles.update(ids=[current.id], metadatas=[{"leftovers": None}])
            return True

    def _recover_interrupted_write(self) -> None:
        """(Under the write lock, found marked: a write was left unfinished.) In each
        knowledge base whose counts disagree, mend what needs no model; say on stderr (the
        log) when passages must be embedded again. Cheap when the counts agree. At a server of
        NEWSBOT_CHROMA_URL only this machine's SQLite rows are mended: what looks orphaned in
        Chroma may be another machine's write under way."""
        import httpx

        try:
            for kb in self.checked_knowledge_bases():
                parts = self._parts(kb)
                if counts_agree(parts):
                    continue
                found = inspect(parts)
                mend_parts(parts, found, chroma=not self._remote)
                self._lexical_checked.add(kb)
                report = found.report
                log.info("mended %r after an interrupted write: %s", kb, report.damage())
                if report.gaps:
                    log.warning(
                        "newsbot: %d article(s) of knowledge base %r lost passages: run "
                        "`newsbot check --repair`",
                        len(report.gaps),
                        kb,
                    )
                elif self._remote and (report.orphan_chunks or report.unfinished):
                    log.warning(
                        "newsbot: knowledge base %r holds passages of an interrupted write: "
                        "run `newsbot check --repair` while no other machine writes to it",
                        kb,
                    )
        except httpx.TransportError:
            raise  # (the server is gone: _reconnecting opens the store again and retries)
        except Exception as exc:
            log.warning(
                "newsbot: could not check the store after an interrupted write (%s): run "
                "`newsbot check --repair`",
                exc,
            )

    @_reconnecting
    def recover_if_interrupted(self) -> None:
        """On opening: a write left unfinished by a process that died is mended now (see
        WriteLock); a clean store costs one read of the lock file."""
        self._writes.recover_if_interrupted()

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
        found = list(zip(got["ids"], got["documents"], got["metadatas"], strict=True))
        versions = self._versions(kb, {str(meta["article_id"]) for _, _, meta in found})
        # a chunk counts only if its article is stored and it is of the stored version
        return {
            chunk: _passage(chunk, document, meta, 0.0)
            for chunk, document, meta in found
            if str(meta["article_id"]) in versions
            and _optional(meta, "version") == versions[str(meta["article_id"])]
        }

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

    def _versions(self, kb: str, article_ids: set[str]) -> dict[str, str | None]:
        """The stored version of each of these articles that is stored."""
        if not article_ids:
            return {}
        got = self._collection(kb, "articles").get(ids=sorted(article_ids), include=["metadatas"])
        return {
            str(stored_id): _optional(meta, "version")
            for stored_id, meta in zip(got["ids"], got["metadatas"], strict=True)
        }

    def close(self) -> None:
        self.lexical.close()
        self.sentences.close()
        self._writes.close()
        # Chroma keeps a client's files (SQLite, the HNSW segments: ~15 descriptors) open in a
        # process-wide cache until the client is closed; before the lock says it is free
        close_client = getattr(self._client, "close", None)
        if close_client is not None:
            close_client()
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
        store = ArticleStore(
            client, LexicalIndex(lexical_path), writes=_write_lock(lexical_path), remote=True
        )
        store.recover_if_interrupted()
        return store
    from retrieval.index.local_server import connect_local

    connection = connect_local(chroma_path, serve=serve, wait_s=wait_s)
    store = ArticleStore(
        connection.client,
        LexicalIndex(lexical_path),
        lock=connection,
        writes=_write_lock(lexical_path),
        reopen=lambda: connect_local(chroma_path, serve=serve, wait_s=wait_s),
    )
    store.recover_if_interrupted()
    return store


def _write_lock(lexical_path: Path) -> WriteLock:
    lexical_path.parent.mkdir(parents=True, exist_ok=True)
    return WriteLock(lexical_path.parent / ".newsbot-write.lock")
