"""In a fresh process: ingest throughput of the default backend against torch's, the method of
`benchmarks/ingest_vs_torch.py` — the same articles through `service.add_many` into a store per
backend, both models loaded and warm first — with finer interleaving: the articles go in
batches, and each batch is ingested by one backend then the other (the order swapped every
batch), so a change in the machine's load touches both. Both stores use the same settings
otherwise (sentence rows as configured); only `embedding_backend` differs."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Literal

from benchmarks.performance.measure import write_result

Backend = Literal["torch", "onnx", "onnx-int8"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, required=True, help="JSONL articles")
    parser.add_argument("--articles", type=int, default=120)
    parser.add_argument("--batch", type=int, default=10, help="articles per interleaved batch")
    parser.add_argument("--work", type=Path, required=True, help="a folder for the two stores")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from retrieval.build import build_service, load_embeddings
    from retrieval.config import Settings
    from retrieval.ingest.articles import article_from_dict

    with args.corpus.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line, _ in zip(handle, range(args.articles), strict=False)]
    articles = [article_from_dict(record) for record in records]
    default = Settings().embedding_backend
    backends: list[Backend] = [default, "torch"] if default != "torch" else ["torch", "onnx"]
    settings = {
        backend: Settings(data_dir=args.work / backend, embedding_backend=backend)
        for backend in backends
    }
    models = {backend: load_embeddings(settings[backend]) for backend in backends}
    for model in models.values():
        model.encode(["warm up"])

    seconds = dict.fromkeys(backends, 0.0)
    chunks = dict.fromkeys(backends, 0)
    for index in range(0, len(articles), args.batch):
        batch = articles[index : index + args.batch]
        order = backends if (index // args.batch) % 2 == 0 else backends[::-1]
        for backend in order:
            service = build_service(settings[backend], embeddings=models[backend])
            try:
                started = time.perf_counter()
                results = service.add_many(batch)
                seconds[backend] += time.perf_counter() - started
                chunks[backend] += sum(result.chunks for result in results)
            finally:
                service.close()

    rates = {backend: chunks[backend] / seconds[backend] for backend in backends}
    write_result(
        args.out,
        {
            "default_backend": default,
            "articles": len(articles),
            "batch_articles": args.batch,
            "store_sentence_vectors": settings[default].store_sentence_vectors,
            "chunks": chunks,
            "seconds": seconds,
            "chunks_per_s": rates,
            "speedup": rates[backends[0]] / rates[backends[1]],
        },
    )


if __name__ == "__main__":
    main()
