"""Growing one store through the real ingest path (`ingest_articles`: de-duplication checks,
chunking, Chroma and BM25 writes) with vectors replayed instead of embedded, and pausing at
each size so a fresh process can measure queries on it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.performance.corpus import StoredForm, grown_corpus
from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.ingest.sources import ingest_articles
from retrieval.types import Article


class ReplayEmbeddings(SentenceEmbeddings):
    """The embeddings interface answering from vectors computed earlier (by text)."""

    def __init__(self) -> None:
        super().__init__()
        self.vectors: dict[str, np.ndarray] = {}
        self._uses: Counter[str] = Counter()

    def remember(self, form: StoredForm, rows: np.ndarray) -> None:
        self.vectors.update(zip(form.texts, rows, strict=True))
        self._uses.update(form.texts)

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
    """The corpus and its perturbed copies, written into `data_dir` a size at a time."""

    def __init__(self, data_dir: Path, forms: list[StoredForm], vectors: np.ndarray) -> None:
        self.data_dir = data_dir
        self._stream = grown_corpus(forms, vectors)
        self._replay = ReplayEmbeddings()
        self.offered_chunks = 0
        self.stored_chunks = 0
        self.write_s = 0.0  # cumulative: the store side of ingesting this many chunks

    def _articles_until(self, target: int) -> Iterator[Article]:
        while self.offered_chunks < target:
            form, rows = next(self._stream)
            self._replay.remember(form, rows)
            self.offered_chunks += len(form.chunks)
            yield form.article

    def grow_to(self, target: int) -> None:
        # no sentence rows: the replayed vectors are the chunks' only (embedding every copy's
        # sentences would take hours); the grown store's sentences are embedded at query time
        settings = Settings(data_dir=self.data_dir, store_sentence_vectors=False)
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
