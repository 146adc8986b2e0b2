"""A deterministic stand-in for the sentence model, for tests that need vectors, not meaning.

`FakeEmbeddings` has the interface of `retrieval.index.embeddings.SentenceEmbeddings` — it is a
LangChain `Embeddings` with `encode(texts)` (float32 unit rows) and `dimension` — so it plugs in
where the real model does: `build_service(settings, embeddings=FakeEmbeddings())`. It loads
nothing and needs no torch: a text's vector is its bag of word stems, each stem hashed to a
signed axis. Texts that share words get similar vectors; texts that share none are nearly
orthogonal; the same text gives the same vector in every process.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
from langchain_core.embeddings import Embeddings

__all__ = ["Clock", "FakeEmbeddings", "word_stems"]

# Enough function words that "the"/"of" do not make every pair of sentences alike.
_STOP_WORDS = frozenset(
    """a an and are as at be been but by did do does for from had has have he her his how i in
    is it its of on or our she so than that the their them they this to was we were what when
    where which who whom why will with would you""".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def word_stems(text: str) -> list[str]:
    """Lower-case words without the commonest function words, cut to their first five
    letters ('refused', 'refusal' → 'refus'); numbers stay whole."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS]
    return [w if w.isdigit() else w[:5] for w in words]


def _axis(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    number = int.from_bytes(digest, "little")
    return number % dimension, (1.0 if number >> 63 else -1.0)


class FakeEmbeddings(Embeddings):
    """Hashed bags of word stems, L2-normalised, `dimension` floats (384, as the real model)."""

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.model_name = "fake-hashed-word-stems"
        # stored sentence vectors are keyed by it (retrieval.index.sentence_vectors)
        self.vector_space = "fake-hashed-word-stems/1"

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text (float32)."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            # a text of function words only (or none) still gets a vector of its own
            features = word_stems(text) or [f"\0{text.strip().lower()}"]
            for feature in features:
                axis, sign = _axis(feature, self.dimension)
                vectors[row, axis] += sign
            norm = float(np.linalg.norm(vectors[row]))
            if norm == 0.0:  # features cancelled out on one axis
                axis, _ = _axis(f"\0{text}", self.dimension)
                vectors[row, axis], norm = 1.0, 1.0
            vectors[row] /= norm
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


class Clock:
    """A clock the test moves (`clock.now += 60`), for what takes `clock=` (rate limits)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
