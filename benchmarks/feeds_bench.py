"""Polling feeds: 50 feeds of 40 entries each, served on 127.0.0.1 (tests/feed_site.py), into a
fresh store. Measures the time to the first complete ingest (every feed read, every page
fetched, extracted, embedded and stored: 2,000 articles) and the steady-state cost of a poll
with nothing new (50 conditional GETs answered 304).

    python benchmarks/feeds_bench.py                     # the real embedding model
    python benchmarks/feeds_bench.py --fake-embeddings   # polling and storing alone
    python benchmarks/feeds_bench.py --feeds 10 --entries 20 --json

Not part of `make test`. Nothing leaves the machine: the site and the fetches are loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from feed_site import feed_site, town_story  # noqa: E402

from retrieval.build import build_service  # noqa: E402
from retrieval.config import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--entries", type=int, default=40)
    parser.add_argument("--steady-polls", type=int, default=5)
    parser.add_argument("--fake-embeddings", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    embeddings = None
    if args.fake_embeddings:
        from fakes import FakeEmbeddings

        embeddings = FakeEmbeddings()
    with tempfile.TemporaryDirectory(prefix="newsbot-feeds-bench-") as data, feed_site() as site:
        for f in range(args.feeds):
            stories = [
                town_story(f * args.entries + e, prefix=f"/f{f}") for e in range(args.entries)
            ]
            site.add_feed(f"/feed{f}.xml", "rss" if f % 2 else "atom", f"Outlet {f}", stories)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(data),
            allow_private_urls=True,  # the site is on loopback
            feed_max_entries=max(100, args.entries),
        )
        service = build_service(settings, embeddings=embeddings)
        try:
            service.embeddings.embed_query("warm up")  # the model's load is not the feeds'
            for f in range(args.feeds):
                service.follow_feed(f"{site.base}/feed{f}.xml")
            requests_before = len(site.requested())
            started = time.perf_counter()
            reports = service.poll_feeds(due_only=False)
            first_s = time.perf_counter() - started
            articles = sum(len(r.added) for r in reports)
            assert all(r.error is None for r in reports), [r.error for r in reports if r.error]
            first_requests = len(site.requested()) - requests_before

            steady = []
            for _ in range(args.steady_polls):
                before = len(site.requested())
                started = time.perf_counter()
                again = service.poll_feeds(due_only=False)
                steady.append(time.perf_counter() - started)
                assert all(r.not_modified for r in again)
                assert site.requested()[before:] and all(
                    status == 304 for _, status in site.requested()[before:]
                )
            stored = len(service.list())
        finally:
            service.close()

    result = {
        "feeds": args.feeds,
        "entries_per_feed": args.entries,
        "embeddings": "fake" if args.fake_embeddings else settings.embedding_model,
        "first_ingest_s": round(first_s, 2),
        "first_ingest_articles": articles,
        "first_ingest_articles_per_s": round(articles / first_s, 1),
        "first_ingest_requests": first_requests,
        "steady_poll_ms_median": round(statistics.median(steady) * 1000, 1),
        "steady_poll_ms_max": round(max(steady) * 1000, 1),
        "steady_poll_requests": args.feeds,
        "articles_stored": stored,
        "cores": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<30}{value}")


if __name__ == "__main__":
    main()
