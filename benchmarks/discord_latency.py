"""How long the Discord bot takes to answer `/ask`: from the INTERACTION_CREATE the fake Discord
sends to the bot's answer arriving back at it (the deferral, the service, the followup POST).

The real bot and the real service (embedding model, embedded Chroma in a temporary folder,
the demo article) against tests/fake_discord.py on 127.0.0.1. One warm-up question, then N
timed ones, one at a time; prints the median and more as JSON. `service_median_ms` is the
service's own share (timed around `ask`), so `overhead_median_ms` is what Discord handling adds.

    .venv/bin/python benchmarks/discord_latency.py [--n 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_discord import FakeDiscord, running_bot  # noqa: E402

from bot.discord_bot import DiscordSettings, build_bot  # noqa: E402
from retrieval.build import build_service  # noqa: E402
from retrieval.config import Settings  # noqa: E402
from retrieval.ingest.articles import article_from_dict  # noqa: E402
from retrieval.service import NewsService  # noqa: E402

QUESTIONS = [
    "Why did China decline the meeting?",
    "Who did Lloyd Austin want to meet?",
    "What did the Pentagon say?",
    "What sanctions did the US impose on Li Shangfu?",
]


class TimedService:
    """The service, with the time each `ask` took (in its worker thread) written down."""

    def __init__(self, inner: NewsService) -> None:
        self.inner = inner
        self.ask_s: list[float] = []

    def ask(self, question: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.inner.ask(question, **kwargs)
        finally:
            self.ask_s.append(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def measure(service: NewsService, n: int) -> dict[str, float]:
    timed = TimedService(service)
    async with FakeDiscord() as fake:
        options = DiscordSettings(rate_limit=0, guild_ready_timeout=0.05)
        bot = build_bot(service=timed, options=options)  # type: ignore[arg-type]
        async with running_bot(bot, fake):
            seed = resources.files("retrieval").joinpath("demo/seed_article.json")
            article = article_from_dict(json.loads(seed.read_text("utf-8")))
            service.add(article, kb=f"guild-{fake.guilds[0].id}")
            deferred: list[float] = []
            answered: list[float] = []
            for i in range(n + 1):
                started = time.perf_counter()
                payload = await fake.send_interaction(
                    "ask", {"question": QUESTIONS[i % len(QUESTIONS)]}
                )
                token = payload["token"]
                await fake.wait_for_call(
                    lambda c, t=token: c.matches("POST", f"/interactions/*/{t}/callback")
                )
                deferred.append(time.perf_counter() - started)
                await fake.wait_for_call(
                    lambda c, t=token: c.matches("POST", f"/webhooks/*/{t}"), timeout=30
                )
                answered.append(time.perf_counter() - started)
            # drop the warm-up
            deferred, answered, asked = deferred[1:], answered[1:], timed.ask_s[1:]
    ms = sorted(x * 1000 for x in answered)
    overhead = [(a - s) * 1000 for a, s in zip(answered, asked, strict=True)]
    return {
        "n": n,
        "answer_median_ms": round(statistics.median(ms), 1),
        "answer_p90_ms": round(ms[max(0, int(0.9 * n) - 1)], 1),
        "answer_min_ms": round(ms[0], 1),
        "answer_max_ms": round(ms[-1], 1),
        "defer_median_ms": round(statistics.median(x * 1000 for x in deferred), 1),
        "service_median_ms": round(statistics.median(x * 1000 for x in asked), 1),
        "overhead_median_ms": round(statistics.median(overhead), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="timed questions (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(_env_file=None, data_dir=Path(data_dir), chroma_url=None)  # type: ignore[call-arg]
        service = build_service(settings)
        try:
            service.embeddings.embed_query("warm up")
            result = asyncio.run(measure(service, args.n))
        finally:
            service.close()
    result["cores"] = os.cpu_count() or 0
    print(json.dumps(result))


if __name__ == "__main__":
    main()
