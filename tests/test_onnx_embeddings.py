"""The int8 ONNX backend: exported locally, cached, and in agreement with torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.build import build_service, load_embeddings
from retrieval.config import Settings
from retrieval.index import onnx_embeddings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.index.onnx_embeddings import OnnxEmbeddings, export_int8_model
from retrieval.types import Article

SENTENCES = [
    "China declined a US request for a meeting between defence chiefs.",
    "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn.",
    "Who won the 2022 World Cup?",
    "Dock workers at the port of Rotterdam voted on Saturday to end a nine-day strike.",
    "The operator agreed to a 6% pay rise over two years.",
    "x",
    "A very long passage about the economy. " * 60,  # beyond the 256-token limit
]


def test_onnx_vectors_agree_with_torch(
    onnx_int8: OnnxEmbeddings, embeddings: SentenceEmbeddings
) -> None:
    ours = onnx_int8.encode(SENTENCES)
    theirs = embeddings.encode(SENTENCES)
    assert ours.shape == theirs.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.97, cosines


def test_batching_moves_vectors_only_slightly(onnx_int8: OnnxEmbeddings) -> None:
    # Dynamic quantisation scales activations per batch, so a batch's other texts nudge a
    # vector; order within the call does not matter.
    alone = np.stack([onnx_int8.encode([s])[0] for s in SENTENCES])
    together = onnx_int8.encode(SENTENCES)
    assert (alone * together).sum(axis=1).min() >= 0.97
    assert np.array_equal(onnx_int8.encode(SENTENCES), together)
    assert np.allclose(onnx_int8.encode(SENTENCES[::-1])[::-1], together, atol=1e-6)
    assert onnx_int8.encode([]).shape == (0, 384)


def test_batches_run_side_by_side_give_the_vectors_of_one_at_a_time(
    onnx_int8: OnnxEmbeddings, onnx_model_cache: Path
) -> None:
    one_thread = OnnxEmbeddings(batch_size=2, cache_dir=onnx_model_cache, threads=1)
    side_by_side = OnnxEmbeddings(batch_size=2, cache_dir=onnx_model_cache, threads=2)
    texts = SENTENCES * 3  # eleven batches of two, run two at a time
    assert side_by_side.model.workers == 2
    np.testing.assert_allclose(side_by_side.encode(texts), one_thread.encode(texts), atol=1e-6)


def test_the_export_is_cached(
    onnx_int8: OnnxEmbeddings, onnx_model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_export(*_: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_embeddings, "_export", no_export)
    again = OnnxEmbeddings(cache_dir=onnx_model_cache)
    assert np.allclose(again.encode(SENTENCES[:2]), onnx_int8.encode(SENTENCES[:2]))
    exported = [p for p in onnx_model_cache.iterdir() if not p.name.startswith(".")]
    assert len(exported) == 1 and (exported[0] / "model-int8.onnx").exists()
    assert export_int8_model("all-MiniLM-L6-v2", onnx_model_cache).directory == exported[0]


def test_a_new_model_version_gets_a_new_export(tmp_path: Path) -> None:
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"v1")
    first = onnx_embeddings._cache_key(str(model), str(model))
    assert first == onnx_embeddings._cache_key(str(model), str(model))
    (model / "model.safetensors").write_bytes(b"v2, retrained")
    assert onnx_embeddings._cache_key(str(model), str(model)) != first
    assert first.startswith("my-model-")


def test_the_backend_is_chosen_by_settings(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, model_cache_dir=None)  # type: ignore[call-arg]
    chosen = load_embeddings(settings.model_copy(update={"embedding_backend": "onnx-int8"}))
    assert isinstance(chosen, OnnxEmbeddings) and chosen.cache_dir == tmp_path / "models"
    assert chosen.int8
    default = load_embeddings(settings)  # the fp32 export: torch's vectors
    assert isinstance(default, OnnxEmbeddings) and not default.int8
    torch = load_embeddings(settings.model_copy(update={"embedding_backend": "torch"}))
    assert type(torch) is SentenceEmbeddings
    with pytest.raises(ValueError, match="embedding_backend"):
        Settings(embedding_backend="cuda")  # type: ignore[arg-type]


def test_the_service_answers_on_the_onnx_backend(
    onnx_int8: OnnxEmbeddings, seed_article: Article, tmp_path: Path
) -> None:
    service = build_service(Settings(data_dir=tmp_path / "onnx-store"), embeddings=onnx_int8)
    try:
        service.add(seed_article)
        answer = service.ask("Why did China refuse the meeting?")
        assert not answer.abstained
        assert "[1]" in answer.answer and answer.citations[0].quote in seed_article.text
    finally:
        service.close()
