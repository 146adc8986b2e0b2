"""Does ingest memory grow with the corpus? Ingest the BBC set and print resident memory every
200 articles: with a zero-cost stand-in for the model (deterministic random unit vectors), the
store side alone; with `--model`, the real model too (the first 800 articles, ~4 min here).
Run: `python benchmarks/ingest_store_memory.py [--model] [JSONL]` (default: the BBC set)."""

from __future__ import annotations

import hashlib
import resource
import sys
import tempfile
from pathlib import Path

import numpy as np

from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.types import AddResult

BBC = Path(__file__).resolve().parents[2] / "shared" / "data" / "bbc_news.jsonl"


class StandInModel(SentenceEmbeddings):
    """The same vector for the same text, at no cost: only the store side is measured."""

    def __init__(self) -> None:
        super().__init__(model_name="stand-in", batch_size=32)

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = [
            np.random.default_rng(int(hashlib.md5(t.encode()).hexdigest()[:8], 16))
            .standard_normal(384)
            .astype(np.float32)
            for t in texts
        ]
        vectors = np.stack(rows)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def dimension(self) -> int:
        return 384


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--model"]
    real = "--model" in sys.argv[1:]
    source = args[0] if args else str(BBC)
    workdir = Path(tempfile.mkdtemp())
    if real:  # the first 800 articles: the real model takes ~4 min for them here
        head = Path(source).read_text("utf-8").splitlines(keepends=True)[:800]
        source = str(workdir / "head.jsonl")
        Path(source).write_text("".join(head), "utf-8")
    settings = Settings(data_dir=workdir / "data")
    service = build_service(settings, embeddings=None if real else StandInModel())
    done = 0

    def on_result(_: AddResult) -> None:
        nonlocal done
        done += 1
        if done % 200 == 0:
            print(f"{done} articles: {rss_mb():.0f} MB", flush=True)

    print(f"start: {rss_mb():.0f} MB")
    service.ingest([source], kb="default", batch_articles=1000, on_result=on_result)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"end: {rss_mb():.0f} MB (peak {peak:.0f} MB)")


if __name__ == "__main__":
    main()
