"""The bench's own arithmetic and report (no bench run: that is `newsbot bench`): the sizes it
grows to, memory and disk per 1,000 passages, the store folder's size, and the report rows of
the keys issue 16 added."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.performance.corpus import ROOT, StoredForm, perturbed_copy, stored_forms
from benchmarks.performance.growth import GrowingStore, ReplayEmbeddings, stored_sentence_vectors
from benchmarks.performance.plot import plot_scaling, scaling_points
from benchmarks.performance.report import render_markdown, render_text
from benchmarks.performance.runner import folder_mb, footprint, sizes_up_to
from bot.cli import main
from retrieval.index.sentence_vectors import sentence_key
from retrieval.ingest.chunking import split_article
from retrieval.service import NewsService
from retrieval.text.sentences import split_sentences
from retrieval.text.terms import body_key
from retrieval.types import Article


def _step(chunks: int, rss: float, disk: float) -> dict[str, Any]:
    query = {"p50_ms": 50.0, "p95_ms": 70.0, "peak_rss_mb": rss}
    return {"chunks": chunks, "store_write_s": 1.0, "disk_mb": disk, "query": query}


def test_sizes_default_to_100k_and_reach_1m_only_when_asked() -> None:
    assert list(sizes_up_to()) == ["1k", "10k", "100k"]
    assert sizes_up_to("1m") == {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}
    assert list(sizes_up_to("10k")) == ["1k", "10k"]
    with pytest.raises(ValueError, match="10m"):
        sizes_up_to("10m")


def test_footprint_per_1k_passages_at_each_size_and_marginal() -> None:
    growth = {
        "1k": _step(1_000, 600.0, 5.0),
        "10k": _step(10_000, 690.0, 50.0),
        "100k": _step(100_000, 870.0, 520.0),
    }
    figures = footprint(growth)
    assert figures["rss_mb_per_1k_passages_by_size"] == pytest.approx(
        {"1k": 600.0, "10k": 69.0, "100k": 8.7}
    )
    assert figures["disk_mb_per_1k_passages_by_size"] == pytest.approx(
        {"1k": 5.0, "10k": 5.0, "100k": 5.2}
    )
    # the headline figure is the largest size's
    assert figures["rss_mb_per_1k_passages"] == pytest.approx(8.7)
    assert figures["disk_mb_per_1k_passages"] == pytest.approx(5.2)
    # what 1,000 more passages cost between the two largest sizes
    assert figures["rss_mb_per_1k_passages_marginal"] == pytest.approx(180.0 / 90)
    assert figures["disk_mb_per_1k_passages_marginal"] == pytest.approx(470.0 / 90)


def test_footprint_of_one_size_has_no_marginal_and_of_none_is_empty() -> None:
    figures = footprint({"1k": _step(2_000, 700.0, 9.0)})
    assert figures["rss_mb_per_1k_passages"] == pytest.approx(350.0)
    assert figures["disk_mb_per_1k_passages"] == pytest.approx(4.5)
    assert "rss_mb_per_1k_passages_marginal" not in figures
    assert footprint({}) == {}


def test_folder_mb_counts_a_real_store_and_grows_with_it(
    make_fake_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    service = make_fake_service("grown")
    folder = tmp_path / "grown"
    empty = folder_mb(folder)
    service.add(seed_article)
    service.close()
    stored = folder_mb(folder)
    files = [f for f in folder.rglob("*") if f.is_file()]
    assert stored == pytest.approx(sum(f.stat().st_size for f in files) / 2**20)
    assert stored > empty > 0
    # an ONNX export cached inside the data dir is not the store
    (folder / "models").mkdir()
    (folder / "models" / "model.onnx").write_bytes(b"\0" * 2**20)
    assert folder_mb(folder) == pytest.approx(stored)


def test_report_shows_the_new_keys() -> None:
    growth = {"1k": _step(1_001, 650.0, 5.5), "10k": _step(10_006, 700.0, 52.0)}
    result: dict[str, Any] = {"ingest_speedup_vs_torch": 1.23, "growth": growth}
    result.update(footprint(growth))
    text = render_text(result)
    assert "ingest, default backend / torch (batch by batch)" in text
    assert "1.23" in text
    assert "query process memory per 1,000 passages, MB" in text
    assert "649.35 at 1,001, 69.96 at 10,006" in text
    assert "store on disk per 1,000 passages, MB" in text
    assert "5.49 at 1,001, 5.20 at 10,006" in text
    markdown = render_markdown(result)
    assert "| ingest, default backend / torch (batch by batch) | 1.23 |" in markdown


def test_bench_max_size_rejects_an_unknown_size() -> None:
    outcome = CliRunner().invoke(main, ["bench", "--max-size", "10m"])
    assert outcome.exit_code == 2
    assert "10m" in outcome.output


def test_cold_ask_s_is_measured_on_the_default_backend() -> None:
    from benchmarks.performance.runner import COLD_BACKENDS
    from retrieval.config import Settings

    default = Settings.model_fields["embedding_backend"].default
    assert dict(COLD_BACKENDS)[default] == ""  # the key `cold_ask_s`, no suffix
    assert sorted(suffix for _, suffix in COLD_BACKENDS) == ["", "_onnx", "_torch"]


def test_footprint_served_counts_the_asking_process_and_the_server() -> None:
    step = _step(10_000, 300.0, 50.0)
    step["query_server"] = {"p50_ms": 60.0, "p95_ms": 80.0, "peak_rss_mb": 250.0}
    step["query_server"]["server_peak_rss_mb"] = 150.0
    figures = footprint({"10k": step})
    assert figures["rss_mb_per_1k_passages"] == pytest.approx(30.0)
    assert figures["rss_mb_per_1k_passages_server"] == pytest.approx(40.0)


def test_the_plot_draws_memory_and_disk_at_each_size(tmp_path: Path) -> None:
    small, large = _step(1_000, 300.0, 19.0), _step(100_000, 700.0, 1_460.0)
    large["query_server"] = {"p50_ms": 60.0, "p95_ms": 80.0, "peak_rss_mb": 690.0}
    large["query_server"]["server_peak_rss_mb"] = 345.0
    small["query_server"] = {"p50_ms": 30.0, "p95_ms": 40.0, "peak_rss_mb": 290.0}
    small["query_server"]["server_peak_rss_mb"] = None  # (the server's memory not read)
    result = {
        "growth": {"1k": small, "100k": large},
        "ingest_s": 40.0,
        "ingest_stored_chunks": 1_000,
        **footprint({"1k": small, "100k": large}),
    }
    points = scaling_points(result)
    assert points["rss_mb"] == [300.0, 700.0]
    assert points["disk_mb"] == [19.0, 1_460.0]
    assert (points["server_rss_chunks"], points["server_rss_mb"]) == ([100_000.0], [345.0])
    # a PNG with matplotlib (`make bench` installs it); without it, None and no file
    path = tmp_path / "scaling.png"
    if importlib.util.find_spec("matplotlib") is None:
        assert plot_scaling(result, path) is None and not path.exists()
    else:
        assert plot_scaling(result, path) == path and path.stat().st_size > 10_000


def _unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    vectors = rng.standard_normal((rows, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_grown_copies_carry_sentence_rows_near_their_originals(tmp_path: Path) -> None:
    """The bench's grown store has sentence rows as a real ingest's: a copy's sentences get
    their original's vector plus noise, and a sentence the copy did not change is read from
    copy 0's row, not stored again; a sentence the corpus's ingest did not store is counted."""
    forms = stored_forms(ROOT / "evals" / "news_aware_corpus.jsonl")
    rng = np.random.default_rng(3)
    chunk_vectors = _unit(rng, sum(len(f.chunks) for f in forms))
    space = ReplayEmbeddings().vector_space
    originals = {
        c.text[start:end] for f in forms for c in f.chunks for start, end in split_sentences(c.text)
    }
    texts = sorted(originals)
    sentences = dict(
        zip((sentence_key(space, t) for t in texts), _unit(rng, len(texts)), strict=True)
    )
    missing = sentence_key(space, texts[0])
    del sentences[missing]

    store = GrowingStore(tmp_path / "grown", forms, chunk_vectors, sentences)
    corpus_chunks = len(chunk_vectors)
    store.grow_to(2 * corpus_chunks)  # the corpus, then one perturbed copy
    assert store.stored_chunks == 2 * corpus_chunks
    assert store.sentences_without_vector >= 1

    rows = stored_sentence_vectors(tmp_path / "grown" / "lexical.sqlite3")
    kept = changed = 0
    for form in forms:
        copy = perturbed_copy(form, 1)
        for chunk, original in zip(copy.chunks, form.chunks, strict=True):
            for start, end in split_sentences(chunk.text):
                key = sentence_key(space, original.text[start:end])
                stored = rows[sentence_key(space, chunk.text[start:end])]
                if key == missing:
                    continue
                # float16 storage; copy 0 exact to ~1e-3, a changed copy ~0.96 cosine
                cosine = float(stored @ sentences[key]) / float(np.linalg.norm(stored))
                if chunk.text[start:end] == original.text[start:end]:
                    assert cosine > 0.999
                    kept += 1
                else:
                    assert 0.85 < cosine < 0.995
                    changed += 1
    assert kept > 0 and changed > 0


def test_perturbed_copies_are_each_a_body_of_their_own() -> None:
    """The shifts and swaps alone repeat every 240 copies, and ingest skips a repeated body:
    the 1m step stopped at 598,380 passages. The mark makes every copy new."""
    article = Article(
        id="a1",
        title="Markets fall",
        text="Shares said to fall 3% in 2024. The market would recover, people said last year.",
    )
    form = StoredForm(article, split_article(article))
    copies = [perturbed_copy(form, copy) for copy in range(1, 1201)]
    assert len({body_key(c.article.text) for c in copies} | {body_key(article.text)}) == 1201
    assert {len(c.article.text) for c in copies} == {len(article.text)}
    assert copies[0].article.text.startswith("Aaaaab told to fall 4% in 3135.")  # copy 1
