"""Ingest with the default setup (onnx backend, sentence vectors stored) against the old
default (torch, no sentence rows): chunks per second, rounds alternated in one process, the
ratio new/old. Temporary stores; BBC articles from ../shared/data.

    python benchmarks/ingest_vs_torch.py [--articles 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BBC = ROOT.parent / "shared" / "data" / "bbc_news.jsonl"
OLD = "torch, no sentence rows (the old default)"
NEW = "onnx, sentence rows (the default)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from retrieval.build import build_service, load_embeddings
    from retrieval.config import Settings
    from retrieval.ingest.articles import article_from_dict

    records = [json.loads(line) for line in BBC.open(encoding="utf-8")][: args.articles]
    articles = [article_from_dict(r) for r in records]
    user = Settings()
    cache = user.model_cache_dir or user.data_dir / "models"  # the export, made once
    setups = {OLD: ("torch", False), NEW: ("onnx", True)}
    models = {}
    for name, (backend, _) in setups.items():
        settings = Settings(_env_file=None, embedding_backend=backend, model_cache_dir=cache)  # type: ignore[call-arg]
        models[name] = load_embeddings(settings)
        models[name].encode(["warm up"])
    rates: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(args.rounds):
        for name, (backend, sentences) in setups.items():
            folder = Path(tempfile.mkdtemp(prefix="newsbot-ingest-"))
            try:
                settings = Settings(  # type: ignore[call-arg]
                    _env_file=None,
                    data_dir=folder,
                    embedding_backend=backend,
                    store_sentence_vectors=sentences,
                )
                service = build_service(settings, embeddings=models[name])
                started = time.perf_counter()
                results = service.add_many(articles)
                seconds = time.perf_counter() - started
                rates[name].append(sum(r.chunks for r in results) / seconds)
                service.close()
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    for name, values in rates.items():
        print(f"{name:44} chunks/s {', '.join(f'{v:.1f}' for v in values)}")
    ratio = (sum(rates[NEW]) / len(rates[NEW])) / (sum(rates[OLD]) / len(rates[OLD]))
    print(f"{'new / old':44} {ratio:.2f}")


if __name__ == "__main__":
    main()
