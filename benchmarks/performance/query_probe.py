"""In a fresh process, as the bot runs: build the service on a store, warm up, then ask each
question once (warm, in-process, extractive) and time it; then time the parts of the same
questions (query embedding, dense search, BM25, reading the passages kept, the answerer) to
show where time goes. The vectors the warm-up cached are cleared first, so each timed question
is new to the process (its passages' sentences may have been seen with an earlier question, as
in a bot's day); the parts start from an empty cache for each question."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.performance.measure import peak_rss_mb, percentile, write_result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from retrieval.build import build_service
    from retrieval.config import Settings

    questions = json.loads(args.questions.read_text("utf-8"))
    service = build_service(Settings())
    service.embeddings.encode(["warm up"])
    for question in questions[: args.warmup]:
        service.ask(question)
    # each timed question new to the process, as the warm-up's are not
    service.retriever.vectors.clear()

    totals, retrieve, answer, abstained = [], [], [], 0
    for question in questions:
        started = time.perf_counter()
        result = service.ask(question)
        totals.append((time.perf_counter() - started) * 1000)
        retrieve.append(result.timings_ms["retrieve"])
        answer.append(result.timings_ms["answer"])
        abstained += result.abstained

    parts: dict[str, list[float]] = {
        "embed_query": [],
        "dense": [],
        "bm25": [],
        "passages": [],
        "answerer": [],
    }
    depth = service.retriever.candidates
    for question in questions:
        service.retriever.vectors.clear()
        t0 = time.perf_counter()
        vector = service.retriever.vectors.encode([question])[0].tolist()
        t1 = time.perf_counter()
        service.store.dense_ranking("default", vector, depth)
        t2 = time.perf_counter()
        service.store.lexical_search("default", question, depth)
        t3 = time.perf_counter()
        passages = service.retrieve(question)  # (its question vector is cached by now)
        t4 = time.perf_counter()
        service.store.get_passages("default", [p.chunk_id for p in passages])
        t5 = time.perf_counter()
        service.pipeline.answerer.answer(question, passages)
        t6 = time.perf_counter()
        for key, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t5 - t4, t6 - t5), strict=True):
            parts[key].append(seconds * 1000)

    chunks = service.store.count_chunks("default")
    service.close()
    write_result(
        args.out,
        {
            "chunks": chunks,
            "questions": len(questions),
            "p50_ms": percentile(totals, 50),
            "p95_ms": percentile(totals, 95),
            "retrieve_p50_ms": percentile(retrieve, 50),
            "answer_p50_ms": percentile(answer, 50),
            "parts_p50_ms": {key: percentile(values, 50) for key, values in parts.items()},
            "abstained": abstained,
            "peak_rss_mb": peak_rss_mb(),
        },
    )


if __name__ == "__main__":
    main()
