"""In a fresh process: the raw encode rate of the chunk texts (the configured backend's own
encoder directly — sentence-transformers, or the onnxruntime session — the model's limit here) and `newsbot ingest` of the same corpus, interleaved — half the raw
encode before the ingest and half after — so a change in the machine's load touches both.
Memory is sampled during the ingest. Writes the chunk vectors for the bench to reuse."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.performance.measure import MemorySampler, peak_rss_mb, write_result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--texts", type=Path, required=True, help="JSON list of chunk texts")
    parser.add_argument("--vectors", type=Path, required=True, help="where to save them (.npy)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import numpy as np

    from bot.cli import Context, main
    from retrieval.build import build_service
    from retrieval.config import Settings

    settings = Settings()
    service = build_service(settings)
    model = service.embeddings.model  # the SentenceTransformer, or the onnxruntime encoder
    onnx = settings.embedding_backend != "torch"
    service.embeddings.encode(["warm up"])
    texts = json.loads(args.texts.read_text("utf-8"))
    half = len(texts) // 2

    def raw(part: list[str]) -> tuple[np.ndarray, float]:
        started = time.perf_counter()
        if onnx:  # the default backend: the encoder's own batches, no ingest around them
            vectors = model.encode(part, service.embeddings.batch_size)
            return np.asarray(vectors, dtype=np.float32), time.perf_counter() - started
        vectors = model.encode(
            part,
            batch_size=settings.embedding_batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32), time.perf_counter() - started

    first, raw_first_s = raw(texts[:half])
    with MemorySampler() as memory:
        started = time.perf_counter()
        main.main(
            ["ingest", str(args.corpus)],
            obj=Context(_settings=settings, _service=service),
            standalone_mode=False,
        )
        ingest_s = time.perf_counter() - started
    second, raw_second_s = raw(texts[half:])
    np.save(args.vectors, np.concatenate([first, second]))
    stored = service.store.count_chunks("default")
    service.close()
    write_result(
        args.out,
        {
            "chunks": len(texts),
            "stored_chunks": stored,
            "raw_s": raw_first_s + raw_second_s,
            "raw_halves_s": [raw_first_s, raw_second_s],
            "ingest_s": ingest_s,
            "peak_rss_mb_ingest": max(mb for _, mb in memory.samples),
            "rss_mb_by_quarter_of_ingest": memory.by_quarter(),
            "peak_rss_mb_process": peak_rss_mb(),
        },
    )


if __name__ == "__main__":
    main()
