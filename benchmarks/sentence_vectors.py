"""Sentence vectors stored at ingest (issue 16), measured in one run: ingest throughput with
and without them, the answer time of new questions on a warm process with the table read and
without it (then the answerer embeds its candidate sentences), the model calls a question
makes, and the table's disk per chunk.

    NEWSBOT_MODEL_CACHE_DIR=... python benchmarks/sentence_vectors.py --articles 100 --questions 40
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from performance.corpus import BBC, questions, stored_forms


class Counting:
    """The model, counting its calls and texts (and saying its vector space)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.vector_space = model.vector_space
        self.calls: list[int] = []

    def encode(self, texts: list[str]) -> Any:
        self.calls.append(len(texts))
        return self.model.encode(texts)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1, help="ingests of each kind")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from retrieval.build import build_service, load_embeddings
    from retrieval.config import Settings

    forms = stored_forms(BBC, limit=args.articles)
    articles = [form.article for form in forms]
    asked = questions(forms, args.questions)
    root = Path(tempfile.mkdtemp(prefix="newsbot-sentence-vectors-"))
    settings = Settings(data_dir=root / "on")
    embeddings = load_embeddings(settings)
    embeddings.encode(["warm up"])
    report: dict[str, Any] = {
        "backend": settings.embedding_backend,
        "articles": len(articles),
        "questions": len(asked),
    }

    # ingest without the sentence vectors and with them, the model warm for both; with
    # --rounds N, N stores of each, the order alternating (off, on, on, off, ...), so a change
    # in the machine's load touches both
    services: dict[str, Any] = {}
    rates: dict[str, list[float]] = {"off": [], "on": []}
    for round_ in range(args.rounds):
        for mode in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
            service = build_service(
                settings.model_copy(update={"data_dir": root / f"{mode}{round_}"}),
                embeddings=embeddings,
            )
            if mode == "off":
                service.ingester.store_sentences = False
            started = time.perf_counter()
            service.add_many(articles)
            seconds = time.perf_counter() - started
            chunks = service.store.count_chunks("default")
            rates[mode].append(round(chunks / seconds, 1))
            report["chunks"] = chunks
            if round_ == 0:
                services[mode] = service
            else:
                service.close()
    for mode in ("off", "on"):
        report[f"ingest_chunks_per_s_{mode}"] = round(statistics.mean(rates[mode]), 1)
        report[f"ingest_chunks_per_s_{mode}_runs"] = rates[mode]
    service = services["on"]
    rows = service.store.sentences.count("default")
    report["sentence_rows"] = rows

    # new questions on a warm process: the table read, or not (then the candidates are
    # embedded); alternating which goes first, each from an empty memory of vectors
    vectors = service.retriever.vectors
    table = vectors.stored
    counting = Counting(embeddings)
    vectors.embeddings = counting
    for question in ("What happened?", "Who won the election?", "Why did shares fall?"):
        service.ask(question)
    times: dict[str, list[float]] = {"on": [], "off": []}
    calls: dict[str, list[int]] = {"on": [], "off": []}
    texts: dict[str, list[int]] = {"on": [], "off": []}
    same = 0
    for index, question in enumerate(asked):
        answers = {}
        for mode in ("on", "off") if index % 2 == 0 else ("off", "on"):
            vectors.stored = table if mode == "on" else None
            vectors.clear()
            counting.calls.clear()
            result = service.ask(question)
            times[mode].append(result.timings_ms["answer"])
            calls[mode].append(len(counting.calls))
            texts[mode].append(sum(counting.calls))
            answers[mode] = result.answer
        same += answers["on"] == answers["off"]
    for mode in ("off", "on"):
        report[f"answer_ms_p50_{mode}"] = round(statistics.median(times[mode]), 2)
        report[f"answer_ms_p95_{mode}"] = round(percentile(times[mode], 0.95), 2)
        report[f"model_calls_per_question_{mode}"] = round(statistics.mean(calls[mode]), 2)
        report[f"texts_embedded_per_question_{mode}"] = round(statistics.mean(texts[mode]), 2)
    report["same_answers"] = f"{same}/{len(asked)}"

    for item in services.values():
        item.close()
    sizes = {}
    for mode in ("off", "on"):
        path = root / f"{mode}0" / "lexical.sqlite3"
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM")
        sizes[mode] = path.stat().st_size
    report["table_bytes"] = sizes["on"] - sizes["off"]
    report["table_bytes_per_chunk"] = round((sizes["on"] - sizes["off"]) / report["chunks"])
    report["table_bytes_per_row"] = round((sizes["on"] - sizes["off"]) / rows)
    shutil.rmtree(root, ignore_errors=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", "utf-8")


if __name__ == "__main__":
    main()
