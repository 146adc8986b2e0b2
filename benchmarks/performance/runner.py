"""The whole bench, in order; every heavy measurement runs in a fresh process so it gets a cold
start where that is the point and a clean peak-memory figure. Ratios are taken within one run
(raw vs ingest interleaved; torch vs ONNX batch by batch), since absolute speeds on a shared
machine move with its load."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.performance.corpus import BBC, questions, stored_forms, write_jsonl
from benchmarks.performance.growth import GrowingStore, stored_sentence_vectors
from benchmarks.performance.measure import (
    machine,
    probe_environment,
    run_probe,
    versions,
    write_result,
)

SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
# `--max-size 1m` adds a 1M step (off by default: see benchmarks/README.md for its cost)
LARGER_SIZES = {"1m": 1_000_000}
DATA = BBC.parent
EVAL_SETS = {
    "rgb": (DATA / "rgb_fact" / "questions.jsonl", DATA / "rgb_fact" / "corpus.jsonl"),
    "rtqa": (
        DATA / "rtqa_2025_2026" / "questions.jsonl",
        DATA / "rtqa_2025_2026" / "corpus.jsonl",
    ),
}
# The metrics compared between backends (RGB's abstention rates rest on 2 questions, and one
# question there moves a rate by 0.0102: RealTime QA's 1,250 are the default).
EVAL_METRICS = (
    "retrieval_hit@1",
    "retrieval_hit@4",
    "retrieval_hit@10",
    "mrr@10",
    "answer_accuracy",
    "false_abstain_rate",
)
NEWSBOT = Path(sys.executable).parent / "newsbot"
# (backend, key suffix) of the cold asks: `cold_ask_s` is the default backend's (onnx, the
# fp32 export), the others beside it
COLD_BACKENDS = (("onnx", ""), ("torch", "_torch"), ("onnx-int8", "_onnx"))
GOALS = [
    # (key, comparison, target, description)
    ("ingest_ratio", ">=", 0.9, "ingest throughput / raw encode throughput"),
    ("onnx_speedup", ">=", 1.7, "ONNX int8 throughput / torch throughput"),
    ("onnx_mean_cosine", ">=", 0.99, "ONNX int8 vs torch vectors, mean cosine"),
    ("onnx_eval_max_delta", "<=", 0.01, "largest eval metric change, ONNX int8 vs torch"),
    ("query_p95_ms_100k", "<=", 60.0, "query p95 (retrieve + answer) at 100k chunks, ms"),
    ("help_s", "<=", 0.3, "newsbot --help, s"),
]


def _timed_runs(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def goal_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, comparison, target, description in GOALS:
        value = result.get(key)
        met = None
        if isinstance(value, int | float):
            met = value >= target if comparison == ">=" else value <= target
        rows.append(
            {
                "key": key,
                "goal": f"{comparison} {target}",
                "measured": value,
                "met": met,
                "what": description,
            }
        )
    return rows


def sizes_up_to(max_size: str = "100k") -> dict[str, int]:
    """The store sizes the bench grows to, in order, up to `max_size` (a label: 1k ... 1m)."""
    every = {**SIZES, **LARGER_SIZES}
    if max_size not in every:
        raise ValueError(f"max size {max_size!r}: one of {', '.join(every)}")
    labels = list(every)
    return {label: every[label] for label in labels[: labels.index(max_size) + 1]}


def folder_mb(folder: Path) -> float:
    """The bytes of every file under `folder` (the store: Chroma's files and SQLite's), MB."""
    files = (f for f in folder.rglob("*") if f.relative_to(folder).parts[0] != "models")
    return sum(f.stat().st_size for f in files if f.is_file()) / 2**20


def footprint(growth: dict[str, Any]) -> dict[str, Any]:
    """Memory and disk per 1,000 stored passages at each size the store grew to: the querying
    process's peak resident memory and the store folder's size, each divided by the passages
    in thousands; the headline figures are the largest size's. `..._marginal` is the growth
    between the two largest sizes per 1,000 passages added: what one more 1,000 costs, with
    the model's and the interpreter's fixed share left out."""
    steps = [
        (label, step["chunks"], step["query"]["peak_rss_mb"], step["disk_mb"])
        for label, step in growth.items()
        if step.get("chunks") and "disk_mb" in step
    ]
    if not steps:
        return {}
    rss = {label: mb / (chunks / 1000) for label, chunks, mb, _ in steps}
    disk = {label: mb / (chunks / 1000) for label, chunks, _, mb in steps}
    largest = steps[-1][0]
    result: dict[str, Any] = {
        "rss_mb_per_1k_passages": rss[largest],
        "rss_mb_per_1k_passages_by_size": rss,
        "disk_mb_per_1k_passages": disk[largest],
        "disk_mb_per_1k_passages_by_size": disk,
    }
    served = growth[largest].get("query_server") or {}
    if served.get("peak_rss_mb") and served.get("server_peak_rss_mb"):
        # served: the asking process and the `chroma run` server together
        both = served["peak_rss_mb"] + served["server_peak_rss_mb"]
        result["rss_mb_per_1k_passages_server"] = both / (steps[-1][1] / 1000)
    if len(steps) >= 2:
        (_, small, small_rss, small_disk), (_, big, big_rss, big_disk) = steps[-2:]
        added = (big - small) / 1000
        result["rss_mb_per_1k_passages_marginal"] = (big_rss - small_rss) / added
        result["disk_mb_per_1k_passages_marginal"] = (big_disk - small_disk) / added
    return result


def run_bench(
    *,
    quick: bool = False,
    max_size: str = "100k",
    results_dir: Path,
    eval_set: str | None = "rtqa",
    keep: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    from retrieval.config import Settings

    started = time.perf_counter()
    scale = 0.1 if quick else 1.0
    sizes = sizes_up_to(max_size)
    user = Settings()
    model_cache = str(user.model_cache_dir or user.data_dir / "models")
    work = Path(tempfile.mkdtemp(prefix="newsbot-bench-"))
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = "latest-quick" if quick else "latest"
    partial = results_dir / f"{stem}.partial.json"  # what is measured so far, while it runs
    result: dict[str, Any] = {"quick": quick, "scale": scale, "machine": machine()}
    result["versions"] = versions()
    try:
        # -- the corpus -----------------------------------------------------------------
        all_forms = stored_forms(BBC)
        forms = all_forms if not quick else all_forms[: len(all_forms) // 10]
        corpus = BBC if not quick else write_jsonl([f.article for f in forms], work / "bbc.jsonl")
        texts = [t for f in forms for t in f.texts]
        (work / "texts.json").write_text(json.dumps(texts), "utf-8")
        result["corpus"] = {
            "file": "../shared/data/bbc_news.jsonl" + (" (first 10%)" if quick else ""),
            "articles_stored": len(forms),
            "chunks": len(texts),
        }

        # -- raw encode vs ingest ---------------------------------------------------------
        log(f"ingest: {len(forms)} articles, {len(texts)} chunks (raw encode interleaved)")
        env = probe_environment(work / "ingested", model_cache_dir=model_cache)
        ingest = run_probe(
            "ingest_probe",
            [
                "--corpus",
                str(corpus),
                "--texts",
                str(work / "texts.json"),
                "--vectors",
                str(work / "vectors.npy"),
            ],
            env,
            work / "ingest.json",
        )
        raw_rate = ingest["chunks"] / ingest["raw_s"]
        ingest_rate = ingest["stored_chunks"] / ingest["ingest_s"]
        result.update(
            raw_encode_chunks_per_s=raw_rate,
            ingest_chunks_per_s=ingest_rate,
            ingest_ratio=ingest_rate / raw_rate,
            ingest_s=ingest["ingest_s"],
            ingest_stored_chunks=ingest["stored_chunks"],
            peak_rss_mb_ingest=ingest["peak_rss_mb_ingest"],
            rss_mb_by_quarter_of_ingest=ingest["rss_mb_by_quarter_of_ingest"],
        )
        # the sentence vectors that ingest stored: the grown store's copies replay them
        lexical_file = work / "ingested" / "lexical.sqlite3"
        sentences = stored_sentence_vectors(lexical_file) if lexical_file.exists() else None
        result["ingest_stored_sentence_vectors"] = len(sentences or {})
        shutil.rmtree(work / "ingested", ignore_errors=True)

        # -- ingest: the default backend vs torch, batch by batch ---------------------------
        articles = 40 if quick else 120
        log(f"ingest speed: the default backend vs torch, {articles} articles, batch by batch")
        backends = run_probe(
            "ingest_backends_probe",
            ["--corpus", str(corpus), "--articles", str(articles), "--work", str(work / "ib")],
            env,
            work / "ib.json",
        )
        result.update(
            ingest_speedup_vs_torch=backends["speedup"],
            ingest_backends=backends,
        )
        shutil.rmtree(work / "ib", ignore_errors=True)

        # -- ONNX int8 vs torch -----------------------------------------------------------
        sample = texts[:: max(1, len(texts) // (1024 if not quick else 256))]
        (work / "sample.json").write_text(json.dumps(sample), "utf-8")
        log(f"onnx: {len(sample)} chunks, torch and int8 ONNX batch by batch")
        onnx = run_probe("onnx_probe", ["--texts", str(work / "sample.json")], env, work / "o.json")
        result.update(
            onnx_speedup=onnx["onnx_speedup"],
            onnx_mean_cosine=onnx["onnx_mean_cosine"],
            onnx_min_cosine=onnx["onnx_min_cosine"],
            onnx_chunks_per_s=onnx["onnx_chunks_per_s"],
            onnx_torch_chunks_per_s=onnx["torch_chunks_per_s"],
            onnx_load_s=onnx["onnx_load_s"],
            onnx_speedup_vs_torch_batch_64=onnx["onnx_speedup_vs_torch_batch_64"],
            onnx_batch_sizes={"torch": onnx["torch_batch_size"], "onnx": onnx["onnx_batch_size"]},
        )

        # -- growing the store: query latency, memory, cold start ------------------------
        asked = questions(all_forms if not quick else forms, 200 if not quick else 50)
        (work / "questions.json").write_text(json.dumps(asked), "utf-8")
        vectors = np.load(work / "vectors.npy")
        store = GrowingStore(work / "grown", forms, vectors, sentences or None)
        store_env = probe_environment(store.data_dir, model_cache_dir=model_cache)
        growth: dict[str, Any] = {}
        for label, size in sizes.items():
            target = int(size * scale)
            log(f"store: growing to {target} chunks; then {len(asked)} questions")
            store.grow_to(target)
            query = run_probe(
                "query_probe",
                ["--questions", str(work / "questions.json")],
                store_env,
                work / f"q{label}.json",
            )
            log(f"store: the same {len(asked)} questions through a `chroma run` server")
            served = _query_served(store.data_dir, store_env, work, label)
            growth[label] = {
                "chunks": store.stored_chunks,
                "store_write_s": store.write_s,
                "disk_mb": folder_mb(store.data_dir),
                "query": query,
                "query_server": served,
            }
            result[f"query_p50_ms_{label}"] = query["p50_ms"]
            result[f"query_p95_ms_{label}"] = query["p95_ms"]
            result[f"query_parts_p50_ms_{label}"] = query["parts_p50_ms"]
            result[f"query_p50_ms_{label}_server"] = served["p50_ms"]
            result[f"query_p95_ms_{label}_server"] = served["p95_ms"]
            write_result(partial, {**result, "growth": growth})
            if label == "10k":
                log(
                    f"cold start: --help, and ask from a cold process ({store.stored_chunks} chunks)"
                )
                result.update(_cold_start(work, store_env, asked[0]))
            if label == "100k":
                result["peak_rss_mb_100k"] = query["peak_rss_mb"]
                log("query at 100k with the onnx-int8 backend")
                onnx_env = {**store_env, "NEWSBOT_EMBEDDING_BACKEND": "onnx-int8"}
                onnx_query = run_probe(
                    "query_probe",
                    ["--questions", str(work / "questions.json")],
                    onnx_env,
                    work / "q-onnx.json",
                )
                result["query_p50_ms_100k_onnx"] = onnx_query["p50_ms"]
                result["query_p95_ms_100k_onnx"] = onnx_query["p95_ms"]
                result["query_parts_p50_ms_100k_onnx"] = onnx_query["parts_p50_ms"]
        result["growth"] = growth
        result.update(footprint(growth))
        result["growth_sentences_without_vector"] = store.sentences_without_vector
        result["growth_note"] = (
            "one store grown through the real ingest path (checks, chunking, Chroma, BM25 and "
            "sentence-vector writes) with replayed vectors: the BBC corpus, then copies with "
            "new ids, digits shifted and words swapped, vectors (chunks' and sentences') = "
            "original + Gaussian noise (cosine ~0.96); queried embedded and through a "
            "`chroma run` server on the same folder"
        )

        # -- eval under each backend --------------------------------------------------------
        if eval_set:
            log(f"eval: {eval_set} under torch and under onnx-int8")
            result.update(_eval_both(work, model_cache, eval_set))
    finally:
        result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        result["seconds"] = round(time.perf_counter() - started, 1)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    result["goals"] = goal_table(result)
    from benchmarks.performance.plot import plot_scaling

    result["plot"] = str(
        plot_scaling(result, results_dir / f"{stem.replace('latest', 'scaling')}.png")
    )
    write_result(results_dir / f"{stem}.json", result)
    partial.unlink(missing_ok=True)
    return result


def _query_served(
    data_dir: Path, store_env: dict[str, str], work: Path, label: str
) -> dict[str, Any]:
    """The query probe with the store's Chroma folder served by `chroma run` on loopback (as
    `NEWSBOT_CHROMA_URL` or a long-running newsbot command serves it); the server's own peak
    memory beside the probe's."""
    from retrieval.index.local_server import run_chroma, stop_chroma

    chroma, record = run_chroma(data_dir / "chroma")
    try:
        served = run_probe(
            "query_probe",
            ["--questions", str(work / "questions.json")],
            {**store_env, "NEWSBOT_CHROMA_URL": record.url},
            work / f"q{label}-server.json",
        )
        served["server_peak_rss_mb"] = _peak_rss_mb_of(chroma.pid)
    finally:
        stop_chroma(chroma)
    return served


def _peak_rss_mb_of(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _cold_start(work: Path, env: dict[str, str], question: str) -> dict[str, Any]:
    help_runs = _timed_runs([str(NEWSBOT), "--help"], env, 7)
    cold: dict[str, Any] = {"help_s": statistics.median(help_runs), "help_runs_s": help_runs}
    for backend, suffix in COLD_BACKENDS:
        backend_env = {**env, "NEWSBOT_EMBEDDING_BACKEND": backend}
        probe = run_probe("cold_ask", ["--question", question], backend_env, work / "cold.json")
        cold[f"cold_ask_s{suffix}"] = probe["process_wall_s"]
        parts = probe["parts_s"]
        cold[f"cold_ask_parts_s{suffix}"] = {
            **parts,
            "exit": probe["process_wall_s"] - sum(parts.values()),
        }
        cli = _timed_runs([str(NEWSBOT), "ask", question], backend_env, 1)
        cold[f"cold_ask_cli_s{suffix}"] = cli[0]
    return cold


def _eval_both(work: Path, model_cache: str, eval_set: str) -> dict[str, Any]:
    questions_file, corpus_file = EVAL_SETS[eval_set]
    reports = {}
    for backend in ("torch", "onnx-int8"):
        env = probe_environment(
            work / f"eval-{backend}", model_cache_dir=model_cache, embedding_backend=backend
        )
        completed = subprocess.run(
            [str(NEWSBOT), "eval", str(questions_file), "--corpus", str(corpus_file), "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        reports[backend] = json.loads(completed.stdout)
    table = {
        key: {
            "torch": reports["torch"][key],
            "onnx-int8": reports["onnx-int8"].get(key),
            "delta": (reports["onnx-int8"].get(key) or 0.0) - reports["torch"][key],
        }
        for key in EVAL_METRICS
    }
    return {
        "onnx_eval_set": eval_set,
        "onnx_eval": table,
        "onnx_eval_max_delta": max(abs(row["delta"]) for row in table.values()),
    }
