"""Vectors of recently embedded short texts (questions, candidate answer sentences), kept in
memory so each is embedded once: the retriever's question vector is the answerer's too, and a
follow-up question or a popular story does not embed the same sentences again. A text not in
memory is looked up among the sentence vectors stored at ingest (`sentence_vectors`) before
the model is asked: a question's candidate sentences are all there, so the model embeds the
question alone."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from retrieval.index.sentence_vectors import SentenceVectors

__all__ = ["TextEncoder", "VectorCache"]


class TextEncoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


class VectorCache:
    """`encode(texts)` as the embeddings' own, answered from the `size` most recently used
    texts where it can; only the texts not yet seen are sent to the model, in one batch.
    (384 float32 a vector: the default 4,096 texts take about 6 MB.)"""

    def __init__(
        self,
        embeddings: TextEncoder,
        size: int = 4096,
        *,
        stored: SentenceVectors | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.size = size
        self.stored = stored
        self._vectors: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @functools.cached_property
    def space(self) -> str | None:
        """The model's vector space (stored vectors are read only for a model that says it;
        asked on first use, not when the service is built)."""
        space = getattr(self.embeddings, "vector_space", None)
        return space if isinstance(space, str) else None

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text (float32), as the model gave them (a copy)."""
        import numpy as np

        if not texts:
            return np.asarray(self.embeddings.encode([]), dtype=np.float32)
        found: dict[str, Any] = {}
        with self._lock:
            for text in texts:
                vector = self._vectors.get(text)
                if vector is not None:
                    self._vectors.move_to_end(text)
                    found[text] = vector
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing and self.stored is not None and self.space is not None:
            from retrieval.index.sentence_vectors import sentence_key

            keys = {sentence_key(self.space, text): text for text in missing}
            read = self.stored.vectors(list(keys))
            self._keep({keys[key]: vector for key, vector in read.items()}, found)
            missing = [text for text in missing if text not in found]
        if missing:
            # Outside the lock: another thread may embed the same text meanwhile, which
            # costs time, never a wrong vector.
            fresh = np.asarray(self.embeddings.encode(missing), dtype=np.float32)
            self._keep(dict(zip(missing, fresh, strict=True)), found)
        return np.stack([found[text] for text in texts])

    def _keep(self, vectors: dict[str, Any], found: dict[str, Any]) -> None:
        with self._lock:
            for text, vector in vectors.items():
                found[text] = vector
                self._vectors[text] = vector
                self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)

    def __len__(self) -> int:
        return len(self._vectors)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()
