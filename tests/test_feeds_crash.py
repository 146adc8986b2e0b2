"""Crash safety of polling: a poll SIGKILLed at random moments leaves every article whole or
absent and the feed's position consistent; the next poll completes it without duplicates,
and the one after costs a 304. The worker and the test embed with the fake embedder (the
vectors must agree between them); the feed and its pages are on 127.0.0.1."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from feed_site import feed_site, town_story

from retrieval.service import NewsService

pytestmark = pytest.mark.server

SEED = 20261215  # fixed, so a failure can be replayed
SETTINGS = {
    "allow_private_urls": True,
    "chunk_size": 200,
    "chunk_overlap": 40,
    "ingest_group_chunks": 1,  # every article its own write, so a kill can land between two
    "feed_workers": 1,
}
STORIES = 16

WORKER = textwrap.dedent(
    """
    import sys
    from retrieval.config import Settings
    from retrieval.build import build_service
    from fakes import FakeEmbeddings
    import json

    data_dir, settings, due_only = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "due"
    service = build_service(
        Settings(_env_file=None, data_dir=data_dir, **settings), embeddings=FakeEmbeddings()
    )
    store = service.store
    write = store.add_articles

    def add_articles(kb, items, *more, **options):
        written = write(kb, items, *more, **options)
        print("stored", items[0][0].id, flush=True)
        return written

    store.add_articles = add_articles
    print("ready", flush=True)
    service.poll_feeds(due_only=due_only)
    print("done", flush=True)
    """
)


def poll_and_kill(data_dir: Path, after: int, rng: random.Random, *, due_only: bool = False) -> int:
    """Run a poll in a child process and SIGKILL it a random moment after its `after`-th
    stored article; how many it reported stored (or -1 if it finished first). `due_only`:
    the poll the bot and `newsbot watch` make (the due feeds, claimed), else every feed."""
    tests = str(Path(__file__).parent)  # for `fakes`
    path = os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": path}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WORKER,
            str(data_dir),
            json.dumps(SETTINGS),
            "due" if due_only else "all",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    stored = 0
    try:
        for line in process.stdout:
            if line.startswith("stored"):
                stored += 1
                if stored == after:
                    time.sleep(rng.uniform(0.0, 0.03))  # somewhere in what follows
                    process.send_signal(signal.SIGKILL)
                    break
            if line.startswith("done"):
                return -1
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    return stored


def check_whole(service: NewsService) -> None:
    """Every stored article has its record, all its chunks and the same lexical rows."""
    store = service.store
    for stored in service.list():
        article = service.get(stored.id)
        assert article is not None
        expected = {c.id for c in service.ingester.chunk(article)}
        chunks = store._collection("default", "chunks").get(
            where={"article_id": stored.id}, include=[]
        )
        table = store.lexical._table("default")
        rows = store.lexical._db.execute(
            f"SELECT chunk_id FROM {table} WHERE article_id = ?", (stored.id,)
        ).fetchall()
        assert set(chunks["ids"]) == expected, f"{stored.title}: chunks missing"
        assert {r[0] for r in rows} == expected, f"{stored.title}: lexical rows differ"


def test_a_poll_killed_midway_is_completed_by_the_next_without_duplicates(
    make_fake_service: Callable[..., NewsService], tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    with feed_site() as site:
        stories = [town_story(n) for n in range(STORIES)]
        url = site.add_feed("/feed.xml", "rss", "Valley Gazette", stories)
        service = make_fake_service("store", **SETTINGS)
        service.follow_feed(url)
        service.close()  # the embedded store admits one process at a time

        kills = sorted(rng.sample(range(1, STORIES), 3))
        done = 0
        for after in kills:  # three kills, each further into the feed than the last
            stored = poll_and_kill(tmp_path / "store", after - done, rng)
            assert stored > 0, "the poll finished before it could be killed"
            service = make_fake_service("store", **SETTINGS)
            check_whole(service)
            [feed] = service.feeds_followed()
            # the feed's position: no entry marked read without its article
            marked = service.feeds.records._db.execute(  # type: ignore[union-attr]
                "SELECT article_id FROM feed_entries WHERE feed_id = ?", (feed.id,)
            ).fetchall()
            assert {m[0] for m in marked} <= {a.id for a in service.list()}
            assert service.feeds.records.validators(feed.id) == (None, None)  # type: ignore[union-attr]
            done = len(service.list())
            assert done < STORIES
            service.close()

        service = make_fake_service("store", **SETTINGS)
        [report] = service.poll_feeds(due_only=False)
        assert report.error is None
        articles = service.list()
        assert len(articles) == STORIES
        assert sorted(a.url or "" for a in articles) == sorted(
            f"{site.base}{s.path}" for s in stories
        )
        check_whole(service)
        [feed] = service.feeds_followed()
        assert feed.entries_seen == STORIES
        [again] = service.poll_feeds(due_only=False)
        assert again.not_modified
        assert service.store.lexical.count("default") == service.store.count_chunks("default")


def test_a_feed_whose_poller_was_killed_is_due_again_at_once(
    make_fake_service: Callable[..., NewsService], tmp_path: Path
) -> None:
    """The poll of a due feed claims it for 30 minutes, so that no other poller reads it
    meanwhile; a poller SIGKILLed mid-poll must not keep it for that long: a restarted bot
    polls it at its next look (found by the soak, benchmarks/soak.py)."""
    rng = random.Random(SEED + 1)
    with feed_site() as site:
        stories = [town_story(n) for n in range(8)]
        url = site.add_feed("/feed.xml", "rss", "Valley Gazette", stories)
        service = make_fake_service("store", **SETTINGS)
        service.follow_feed(url)
        service.close()

        assert poll_and_kill(tmp_path / "store", 3, rng, due_only=True) > 0

        service = make_fake_service("store", **SETTINGS)
        [report] = service.poll_feeds()  # due only, as the bot's loop polls
        assert report.error is None
        articles = service.list()
        assert sorted(a.url or "" for a in articles) == sorted(
            f"{site.base}{s.path}" for s in stories
        )
        check_whole(service)
        assert service.poll_feeds() == []  # due again only after its interval

        # a claim held by a live poller (this process) still keeps the others off it
        records = service.feeds.records  # type: ignore[union-attr]
        records._db.execute("UPDATE feeds SET next_poll_at = 0")
        assert len(records.claim(now=time.time(), lease_s=1800)) == 1
        assert records.claim(now=time.time(), lease_s=1800) == []
