"""Writing articles to the index: chunked, embedded and stored in groups, each article whole or
not at all, with the model's time overlapping the store's and memory handed back as it goes."""

from __future__ import annotations

import ctypes
import functools
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from retrieval.errors import ArticleError
from retrieval.index.identity import text_version
from retrieval.index.sentence_vectors import sentence_key, to_blob
from retrieval.ingest.chunking import embedding_text, split_article, split_sentences
from retrieval.text.terms import body_key
from retrieval.types import AddResult, Article, Chunk

if TYPE_CHECKING:
    from retrieval.index.embeddings import SentenceEmbeddings
    from retrieval.index.store import ArticleStore, SentenceRow, StoredVersion

__all__ = ["Ingester", "release_freed_memory"]

# Articles looked up in the store together (`ArticleStore.lookup_many`): one metadata scan
# for them all (a scan costs as much for 1 as for 50 at 400k records; 100 ids stay well
# inside SQLite's limit on a query's parameters).
LOOKUP_BATCH = 100


class Ingester:
    """Adds articles to a store: new ones are chunked, embedded and written; an article already
    stored (same identity) with another text replaces its stored version; one stored with the
    same text, or with the body of another stored article (another headline), is left as it is."""

    def __init__(
        self,
        *,
        store: ArticleStore,
        embeddings: SentenceEmbeddings,
        chunk_size: int,
        chunk_overlap: int,
        max_article_chars: int,
        group_chunks: int,
        store_sentences: bool = True,
    ) -> None:
        self.store = store
        self.embeddings = embeddings
        # The chunks' sentences are embedded with them and their vectors stored, for the
        # answerer to read (`index.sentence_vectors`): for a model that says its vector space.
        self.store_sentences = store_sentences
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.max_article_chars = max_article_chars
        self.group_chunks = group_chunks

    def refusal(self, article: Article) -> ArticleError | None:
        """Why this article cannot be stored, if it cannot."""
        if len(article.text) > self.max_article_chars:
            return ArticleError(
                f"{article.title!r}: the article is too long ({len(article.text)} characters; "
                f"the limit is {self.max_article_chars})"
            )
        return None

    def chunk(self, article: Article, *, version: str | None = None) -> list[Chunk]:
        if (error := self.refusal(article)) is not None:
            raise error
        return split_article(article, self.chunk_size, self.chunk_overlap, version=version)

    def embed(
        self, items: Sequence[tuple[Article, Sequence[Chunk]]]
    ) -> tuple[list[Any], list[SentenceRow]]:
        """The vectors of these articles' chunks (one array per article) and the rows of their
        sentences' vectors, as `add_many` stores them: for articles whose chunks are made
        elsewhere (an import re-embedding an exported knowledge base)."""
        group = [_Write(article, list(chunks), None, article.id) for article, chunks in items]
        texts = [embedding_text(w.article, c) for w in group for c in w.chunks]
        space = getattr(self.embeddings, "vector_space", None)
        if not self.store_sentences or not isinstance(space, str):
            space = None
        sentences = _GroupSentences(space, group, self.store)
        vectors = self.embeddings.encode(texts + sentences.to_embed)
        blobs = sentences.blobs(vectors[len(texts) :])
        per_article, rows, offset = [], [], 0
        for write in group:
            per_article.append(vectors[offset : offset + len(write.chunks)])
            offset += len(write.chunks)
            rows.extend(sentences.rows(write, blobs))
        return per_article, rows

    def add_many(
        self,
        articles: Iterable[Article],
        *,
        kb: str,
        on_result: Callable[[AddResult], None] | None = None,
    ) -> list[AddResult]:
        """Store articles not yet known and new texts of known ones, embedding and writing
        their chunks in groups of about `group_chunks` chunks. A second thread embeds each
        group while this one writes the group before it, so the store's time overlaps the
        model's; an article is reported once its group is stored, under the id it came with
        (an article stored under an older id of its identity keeps that one)."""
        results: list[AddResult] = []
        pending: list[_Write] = []
        # Articles queued, embedded or stored by this call (id → body key): known before the
        # store shows them.
        seen_ids: dict[str, str] = {}
        seen_bodies: dict[str, str] = {}
        embedding: list[tuple[Future[Any], list[_Write], _GroupSentences]] = []

        def report(result: AddResult) -> None:
            results.append(result)
            if on_result is not None:
                on_result(result)

        def write_embedded() -> None:
            while embedding:
                vectors_ready, group, sentences = embedding.pop()
                vectors = vectors_ready.result()
                chunk_count = sum(len(w.chunks) for w in group)
                blobs = sentences.blobs(vectors[chunk_count:])
                new, offset = [], 0
                new_sentences: list[SentenceRow] = []
                written: set[str] = set()
                for write in group:
                    these = vectors[offset : offset + len(write.chunks)]
                    offset += len(write.chunks)
                    rows = sentences.rows(write, blobs)
                    if write.replaces is None:
                        new.append((write.article, write.chunks, these))
                        new_sentences.extend(rows)
                    elif self.store.replace_article(
                        kb,
                        write.replaces,
                        write.article,
                        write.chunks,
                        these,
                        version=text_version(write.article.text),
                        sentences=rows,
                    ):
                        written.add(write.article.id)
                if new:
                    written.update(self.store.add_articles(kb, new, new_sentences))
                for write in group:  # (one stored meanwhile by another process: unchanged)
                    stored = write.article.id in written
                    result = AddResult(
                        write.given_id,
                        write.article.title,
                        len(write.chunks) if stored else 0,
                        ("added" if write.replaces is None else "updated")
                        if stored
                        else "unchanged",
                    )
                    report(result)
                release_freed_memory()

        def flush(embedder: ThreadPoolExecutor) -> None:
            group = list(pending)
            pending.clear()
            texts = [embedding_text(w.article, c) for w in group for c in w.chunks]
            space = getattr(self.embeddings, "vector_space", None)
            if not self.store_sentences or not isinstance(space, str):
                space = None
            sentences = _GroupSentences(space, group, self.store)
            # the sentences not stored yet are embedded in the same call as the chunks
            started = embedder.submit(self.embeddings.encode, texts + sentences.to_embed)
            write_embedded()  # the group before this one, while this one is embedded
            embedding.append((started, group, sentences))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-embed") as embedder:
            for article, looked_up in self._looked_up(kb, articles):
                key, given_id = body_key(article.text), article.id
                if article.id in seen_ids:
                    if seen_ids[article.id] == key:
                        report(AddResult(article.id, article.title, 0, "unchanged"))
                        continue
                    # a second text of an article of this call: the first must be stored,
                    # then looked up again
                    if pending:
                        flush(embedder)
                    write_embedded()
                    looked_up = self.store.lookup(kb, article.id, article.text)
                stored, same = looked_up
                if stored is not None:
                    article = replace(article, id=stored.id)  # stored ids never change
                    if stored.body == key:
                        if stored.leftovers:
                            self.store.sweep_leftovers(kb, stored)
                        report(AddResult(given_id, article.title, 0, "unchanged"))
                        seen_ids[given_id] = seen_ids[article.id] = key
                        continue
                    version = text_version(article.text)
                    pending.append(
                        _Write(article, self.chunk(article, version=version), stored, given_id)
                    )
                else:
                    same = seen_bodies.get(key) or same
                    if same is not None:
                        report(
                            AddResult(article.id, article.title, 0, "unchanged", duplicate_of=same)
                        )
                        continue
                    pending.append(_Write(article, self.chunk(article), None, given_id))
                seen_ids[given_id] = seen_ids[article.id] = key
                seen_bodies[key] = article.id
                if sum(len(w.chunks) for w in pending) >= self.group_chunks:
                    flush(embedder)
            if pending:
                flush(embedder)
            write_embedded()
        return results

    def _looked_up(
        self, kb: str, articles: Iterable[Article]
    ) -> Iterator[tuple[Article, tuple[StoredVersion | None, str | None]]]:
        """Each article with what the store holds of it (`ArticleStore.lookup`), looked up
        `LOOKUP_BATCH` at a time. What this call writes meanwhile is not in these answers:
        `add_many` knows it (an id or a body it has seen) and looks such an article up again."""
        articles = iter(articles)
        while batch := list(itertools.islice(articles, LOOKUP_BATCH)):
            found = self.store.lookup_many(kb, [(a.id, a.text) for a in batch])
            yield from zip(batch, found, strict=True)

    def restore(self, kb: str, article_ids: Iterable[str]) -> list[str]:
        """Embed again the stored text of these articles, whose passages were lost (`newsbot
        check --repair`), and write its passages as an ingest of that text would: the same
        chunking, the same embedding texts, the same sentence rows. Returns those restored
        (an article removed or changed meanwhile is left to its new state)."""
        restored = []
        for article_id in article_ids:
            article = self.store.get_article(kb, article_id)
            if article is None:
                continue
            stored, _ = self.store.lookup(kb, article.id, article.text)
            if stored is None:
                continue
            # (not `chunk`: a text stored before the length limit was lowered is not refused)
            chunks = split_article(
                article, self.chunk_size, self.chunk_overlap, version=stored.version
            )
            write = _Write(article, chunks, None, article.id)
            space = getattr(self.embeddings, "vector_space", None)
            sentences = _GroupSentences(
                space if self.store_sentences and isinstance(space, str) else None,
                [write],
                self.store,
            )
            texts = [embedding_text(article, c) for c in chunks]
            vectors = self.embeddings.encode(texts + sentences.to_embed)
            rows = sentences.rows(write, sentences.blobs(vectors[len(chunks) :]))
            if self.store.restore_chunks(
                kb, stored, article, chunks, vectors[: len(chunks)], sentences=rows
            ):
                restored.append(article.id)
            release_freed_memory()
        return restored


@dataclass(frozen=True)
class _Write:
    """An article to write: new (`replaces` None), or a new text of a stored version (then
    `article.id` is the stored id; `given_id` is the id it came with, which results carry)."""

    article: Article
    chunks: list[Chunk]
    replaces: StoredVersion | None
    given_id: str


class _GroupSentences:
    """The sentences of a group's chunks, as the answerer reads them (`split_sentences` of a
    chunk's text, sliced from it): each distinct text once per article, owned by the first
    chunk that holds it. Those whose vector is stored already (another article's, the old
    version's of an update) are copied, not embedded; the rest are `to_embed`."""

    def __init__(self, space: str | None, group: list[_Write], store: ArticleStore) -> None:
        self.owners: dict[str, list[tuple[bytes, str]]] = {}  # article id → (key, chunk id)
        self.to_embed: list[str] = []
        self._known: dict[bytes, bytes] = {}
        self._embed_keys: list[bytes] = []
        if space is None:
            return
        texts: dict[bytes, str] = {}
        for write in group:
            seen: set[bytes] = set()
            owned = self.owners.setdefault(write.article.id, [])
            for chunk in write.chunks:
                for start, end in split_sentences(chunk.text):
                    text = chunk.text[start:end]
                    key = sentence_key(space, text)
                    if key not in seen:
                        seen.add(key)
                        owned.append((key, chunk.id))
                        texts.setdefault(key, text)
        self._known = store.sentences.blobs(list(texts))
        self._embed_keys = [key for key in texts if key not in self._known]
        self.to_embed = [texts[key] for key in self._embed_keys]

    def blobs(self, vectors: Any) -> dict[bytes, bytes]:
        """Every sentence's stored form, given the vectors of `to_embed`."""
        blobs = dict(self._known)
        for key, vector in zip(self._embed_keys, vectors, strict=True):
            blobs[key] = to_blob(vector)
        return blobs

    def rows(self, write: _Write, blobs: dict[bytes, bytes]) -> list[SentenceRow]:
        return [
            (key, chunk, write.article.id, blobs[key])
            for key, chunk in self.owners.get(write.article.id, [])
        ]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl): nothing to do
        return None


def release_freed_memory() -> None:
    """Give the memory freed since the last call back to the system. glibc keeps what torch
    frees between batches of different shapes, so without this an ingest's resident memory
    rose with the corpus: 964 → 1,138 MB over 800 BBC articles, against 639 → 654 MB with a
    trim after each group (`python benchmarks/ingest_store_memory.py` has the store side)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
