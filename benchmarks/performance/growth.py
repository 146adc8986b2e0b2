"""Growing one store through the real ingest path (`ingest_articles`: de-duplication checks,
chunking, Chroma, BM25 and sentence-vector writes) with vectors replayed instead of embedded,
and pausing at each size so a fresh process can measure queries on it."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from benchmarks.performance.corpus import GrownForm, StoredForm, add_noise, grown_corpus
from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.index.sentence_vectors import from_blob, sentence_key
from retrieval.ingest.sources import ingest_articles
from retrieval.text.sentences import split_sentences
from retrieval.types import Article


def stored_sentence_vectors(lexical_file: Path) -> dict[bytes, np.ndarray]:
    """The sentence vectors an ingest stored (`index.sentence_vectors`), by key, read back as
    the answerer reads them."""
    with sqlite3.connect(lexical_file) as db:
        rows = db.execute("SELECT key, vector FROM sentence_vectors").fetchall()
    return {bytes(key): from_blob(blob) for key, blob in rows}


class ReplayEmbeddings(SentenceEmbeddings):
    """The embeddings interface answering from vectors computed earlier (by text). Its vector
    space is the default model's, so stored sentence rows are found by a reader that embeds
    questions with the real model."""

    def __init__(self) -> None:
        super().__init__()
        self.vectors: dict[str, np.ndarray] = {}
        self._uses: Counter[str] = Counter()

    def remember(self, texts: Sequence[str], rows: np.ndarray) -> None:
        self.vectors.update(zip(texts, rows, strict=True))
        self._uses.update(texts)

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = np.stack([self.vectors[text] for text in texts]).astype(np.float32)
        self._uses.subtract(texts)
        for text in set(texts):  # forgotten once used, so memory stays flat
            if self._uses[text] <= 0:
                del self.vectors[text], self._uses[text]
        return rows

    def forget(self) -> None:
        self.vectors.clear()
        self._uses.clear()

    @property
    def dimension(self) -> int:
        return 384


class GrowingStore:
    """The corpus and its perturbed copies, written into `data_dir` a size at a time.

    With `sentences` (the sentence vectors of the corpus, as its real ingest stored them), the
    copies get sentence rows too, as a real ingest gives them: a copy's sentence has its
    original's vector plus noise (copy 0: the original's), so the answerer reads sentence
    vectors at every size, as on a store ingested by the default configuration."""

    def __init__(
        self,
        data_dir: Path,
        forms: list[StoredForm],
        vectors: np.ndarray,
        sentences: dict[bytes, np.ndarray] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self._stream = grown_corpus(forms, vectors)
        self._replay = ReplayEmbeddings()
        self._sentences = sentences
        self._rng = np.random.default_rng(11)
        self.offered_chunks = 0
        self.stored_chunks = 0
        self.sentences_without_vector = 0  # sentences of the corpus its ingest did not store
        self.write_s = 0.0  # cumulative: the store side of ingesting this many chunks

    def _remember_sentences(self, grown: GrownForm) -> None:
        assert self._sentences is not None
        space = self._replay.vector_space
        texts, rows = [], []
        pairs = zip(grown.form.chunks, grown.original.chunks, grown.vectors, strict=True)
        for chunk, original, chunk_vector in pairs:
            for start, end in split_sentences(chunk.text):
                text = chunk.text[start:end]
                if grown.copy and text == original.text[start:end]:
                    continue  # the same text as copy 0's: its row is stored, nothing to embed
                vector = self._sentences.get(sentence_key(space, original.text[start:end]))
                if vector is None:  # (its chunk's vector stands in)
                    self.sentences_without_vector += 1
                    vector = chunk_vector
                texts.append(text)
                rows.append(vector)
        if rows:
            stacked = np.stack(rows)
            self._replay.remember(texts, add_noise(stacked, self._rng) if grown.copy else stacked)

    def _articles_until(self, target: int) -> Iterator[Article]:
        while self.offered_chunks < target:
            grown = next(self._stream)
            self._replay.remember(grown.form.texts, grown.vectors)
            if self._sentences is not None:
                self._remember_sentences(grown)
            self.offered_chunks += len(grown.form.chunks)
            yield grown.form.article

    def grow_to(self, target: int) -> None:
        # Without the corpus's sentence vectors, no sentence rows: the grown store's sentences
        # are then embedded at query time (a store made before sentence rows existed).
        settings = Settings(
            data_dir=self.data_dir, store_sentence_vectors=self._sentences is not None
        )
        service = build_service(settings, embeddings=self._replay)
        try:
            started = time.perf_counter()
            ingest_articles(
                service.ingester,
                self._articles_until(target),
                kb="default",
                batch_articles=settings.ingest_batch_articles,
            )
            self.write_s += time.perf_counter() - started
            self.stored_chunks = service.store.count_chunks("default")
        finally:
            service.close()
        self._replay.forget()  # texts of articles skipped as repeats
