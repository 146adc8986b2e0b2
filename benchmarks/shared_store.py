"""What sharing the store costs (issue 19): a question through the local Chroma server that a
long-running command starts, against the same question with the store embedded; the server's
start time and resident memory. One run, one machine, figures as ratios.

    python benchmarks/shared_store.py [--articles 150] [--questions 40] [--json]

BBC articles from ../shared/data (ingested once, embedded, in a temporary folder); questions
are their headlines turned round ("What happened: <headline>?"), asked of each mode in turn on
the same loaded model. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BBC = ROOT.parent / "shared" / "data" / "bbc_news.jsonl"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from retrieval.build import build_service, load_embeddings
    from retrieval.config import Settings
    from retrieval.index.local_server import read_record
    from retrieval.ingest.articles import article_from_dict

    records = [json.loads(line) for line in BBC.open(encoding="utf-8")][: args.articles]
    articles = [article_from_dict(r) for r in records]
    questions = [f"What happened: {a.title}?" for a in articles[: args.questions]]

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, data_dir=Path(folder))  # type: ignore[call-arg]
        embeddings = load_embeddings(settings)
        service = build_service(settings, embeddings=embeddings)
        service.add_many(articles)
        chunks = service.store.count_chunks("default")

        def run(service_: object) -> dict[str, list[float]]:
            times: dict[str, list[float]] = {"total": [], "retrieve": []}
            for question in questions:
                answer = service_.ask(question)  # type: ignore[attr-defined]
                times["total"].append(answer.timings_ms["total"])
                times["retrieve"].append(answer.timings_ms["retrieve"])
            return times

        run(service)  # warm: the model's first calls, Chroma's first loads
        embedded = run(service)
        service.close()

        started = time.perf_counter()
        served = build_service(settings, embeddings=embeddings, serve=True)
        start_s = time.perf_counter() - started
        record = read_record(settings.chroma_path)
        assert record is not None and served.store.local_server == record.url
        run(served)
        through_server = run(served)
        memory = {
            "supervisor_rss_mb": round(rss_mb(record.supervisor_pid), 1),
            "chroma_server_rss_mb": round(rss_mb(record.chroma_pid), 1),
        }
        served.close()

    result: dict[str, object] = {"chunks": chunks, "questions": len(questions)}
    for name, times in (("embedded", embedded), ("server", through_server)):
        for part in ("total", "retrieve"):
            result[f"{name}_{part}_p50_ms"] = round(statistics.median(times[part]), 1)
            result[f"{name}_{part}_p95_ms"] = round(percentile(times[part], 0.95), 1)
    result["server_over_embedded_total_p50"] = round(
        statistics.median(through_server["total"]) / statistics.median(embedded["total"]), 2
    )
    result["server_over_embedded_retrieve_p50"] = round(
        statistics.median(through_server["retrieve"]) / statistics.median(embedded["retrieve"]), 2
    )
    result["server_start_s"] = round(start_s, 2)
    result.update(memory)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:36} {value}")


if __name__ == "__main__":
    main()
