"""Crash safety: a process killed with SIGKILL in the middle of an ingest or a removal leaves
every article fully present (record, all chunks, matching lexical rows) or absent; running it
again completes it, and questions still find their passages. What is pinned is the store's, so
the worker and the test both embed with the fake embedder (the vectors must agree between them),
and the questions are asked of the retriever (what an answer makes of the passages is the
answerer's, tested on the real model elsewhere)."""

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
from dataclasses import replace
from pathlib import Path

import pytest
from crash_points import KILL_POINTS

from retrieval.ingest.articles import make_article
from retrieval.service import NewsService
from retrieval.types import Article

SEED = 20261128  # fixed, so a failure can be replayed
# ingest_group_chunks=1: every article its own write, so a kill can land between two of them
CHUNKING = {"chunk_size": 200, "chunk_overlap": 40, "ingest_group_chunks": 1}
TOWNS = ["Arden", "Bexley", "Corran", "Dunmore", "Elstow", "Fenwick", "Garth", "Holloway",
         "Ilkley", "Jarrow", "Kelso", "Ledbury", "Morley", "Nairn", "Oakham", "Penrith"]  # fmt: skip

WORKER = textwrap.dedent(
    """
    import json, sys
    from retrieval.ingest.articles import article_from_dict
    from retrieval.config import Settings
    from retrieval.build import build_service
    from fakes import FakeEmbeddings

    data_dir, job, payload = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    settings = Settings(_env_file=None, data_dir=data_dir, **payload["settings"])
    service = build_service(
        settings, embeddings=FakeEmbeddings(), serve=payload.get("serve", False)
    )
    if job in ("ingest", "update"):
        if payload.get("kill_at"):
            from crash_points import kill_inside_update
            kill_inside_update(payload["kill_at"], payload["at_article"])
        articles = [article_from_dict(record) for record in payload["articles"]]
        service.embeddings.embed_query("warm up")
        print("ready", flush=True)
        step = "added" if job == "ingest" else "updated"
        service.add_many(articles, on_result=lambda r: print(step, r.article_id, flush=True))
    else:
        print("ready", flush=True)
        for article_id in payload["ids"]:
            service.remove(article_id)
            print("removed", article_id, flush=True)
    print("done", flush=True)
    """
)


def town_articles() -> list[Article]:
    """Short articles of about four chunks each, each about its own town and numbers."""
    articles = []
    for i, town in enumerate(TOWNS):
        text = " ".join(
            [
                f"The {town} council voted on Monday to rebuild the old bridge over the river.",
                f"Work in {town} will start in spring and cost {i + 2} million pounds in all.",
                f"Residents of {town} said the crossing had been closed for {i + 3} months.",
                f"The mayor of {town} promised that the library would reopen by the summer.",
                f"Traffic through {town} fell by {10 + i} percent while the bridge was shut.",
                f"A second vote in {town} will decide the fate of the market hall next year.",
            ]
        )
        articles.append(make_article(text=text, title=f"{town} rebuilds its bridge", where=town))
    return articles


def kill_midway(
    data_dir: Path, job: str, payload: dict, step: str, after: int | None, rng: random.Random
) -> list[str]:
    """Run the worker, SIGKILL it a random moment after its `after`-th `step` line (None: it
    kills itself, at its payload's `kill_at`); return the ids it reported finished."""
    tests = str(Path(__file__).parent)  # for `fakes`
    path = os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": path}
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(data_dir), job, json.dumps(payload)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    done: list[str] = []
    try:
        for line in process.stdout:
            word, *rest = line.split()
            if word == step:
                done.append(rest[0])
                if after is not None and len(done) == after:
                    time.sleep(rng.uniform(0.0, 0.03))  # somewhere inside the next write
                    process.send_signal(signal.SIGKILL)
                    break
            assert word != "done", "the worker finished before it could be killed"
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    return done


def article_state(service: NewsService, kb: str, article: Article) -> str:
    """'present' (record, every chunk, the same lexical rows) or 'absent' (no record, and
    nothing of it retrievable); anything else fails the test."""
    store = service.store
    expected = {c.id for c in service.ingester.chunk(article)}
    if store.has_article(kb, article.id):
        chunks = store._collection(kb, "chunks").get(where={"article_id": article.id}, include=[])
        table = store.lexical._table(kb)
        rows = store.lexical._db.execute(
            f"SELECT chunk_id FROM {table} WHERE article_id = ?", (article.id,)
        ).fetchall()
        assert set(chunks["ids"]) == expected, f"{article.title}: chunks missing in Chroma"
        assert {r[0] for r in rows} == expected, f"{article.title}: lexical rows differ"
        assert article.id in {a.id for a in service.list(kb=kb)}
        return "present"
    assert article.id not in {a.id for a in service.list(kb=kb)}
    town = article.title.split()[0]
    leaked = [p for p in service.retrieve(f"{town} bridge council", kb, k=20)]
    assert all(p.article_id != article.id for p in leaked), f"{town}: orphan chunk retrieved"
    return "absent"


@pytest.mark.parametrize(
    "serve",
    [
        False,  # the store embedded in the killed process
        # the killed process served the store (issue 19): its local Chroma server was
        # writing for it, and stops once its last user is gone
        pytest.param(True, marks=pytest.mark.server, id="served"),
    ],
)
def test_an_ingest_killed_midway_leaves_whole_articles_and_can_be_rerun(
    make_fake_service: Callable[..., NewsService], tmp_path: Path, serve: bool
) -> None:
    rng = random.Random(SEED)
    articles = town_articles()
    after = rng.randint(4, len(articles) - 4)
    payload = {
        "serve": serve,
        "settings": CHUNKING,
        "articles": [{"id": a.id, "title": a.title, "text": a.text} for a in articles],
    }
    reported = kill_midway(tmp_path / "store", "ingest", payload, "added", after, rng)

    service = make_fake_service("store", **CHUNKING)
    states = {a.id: article_state(service, "default", a) for a in articles}
    assert all(states[article_id] == "present" for article_id in reported)
    assert "absent" in states.values()  # the kill did land inside the batch
    assert states[articles[-1].id] == "absent"

    results = service.add_many(articles)  # running the ingest again completes it
    assert [r.status for r in results] == [
        "unchanged" if states[a.id] == "present" else "added" for a in articles
    ]
    assert all(article_state(service, "default", a) == "present" for a in articles)
    assert service.store.lexical.count("default") == service.store.count_chunks("default")
    [found] = service.retrieve("How long was the Kelso crossing closed?", k=1)
    assert "Kelso said the crossing had been closed for 13 months" in found.text


def test_a_removal_killed_midway_leaves_whole_articles_and_can_be_rerun(
    make_fake_service: Callable[..., NewsService], tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    articles = town_articles()
    service = make_fake_service("store", **CHUNKING)
    service.add_many(articles)
    service.close()  # the embedded store admits one process at a time

    doomed = [a.id for a in articles[:10]]
    after = rng.randint(3, 7)
    payload = {"settings": CHUNKING, "ids": doomed}
    reported = kill_midway(tmp_path / "store", "remove", payload, "removed", after, rng)

    service = make_fake_service("store", **CHUNKING)
    states = {a.id: article_state(service, "default", a) for a in articles}
    assert all(states[article_id] == "absent" for article_id in reported)
    assert all(states[a.id] == "present" for a in articles[10:])
    assert states[doomed[-1]] == "present"  # killed before the end

    for article_id in doomed:  # running the removal again completes it
        service.remove(article_id)
    assert {a.id for a in service.list()} == {a.id for a in articles[10:]}
    assert all(article_state(service, "default", a) == "absent" for a in articles[:10])
    [found] = service.retrieve("By how much did traffic through Penrith fall?", k=1)
    assert "Traffic through Penrith fell by 25 percent" in found.text
    gone = service.retrieve("How long was the Arden crossing closed?", k=20)
    assert gone and all(p.article_id not in doomed for p in gone)


def corrected(article: Article) -> Article:
    """A corrected version of a town article: the same id, other figures, one more sentence
    (so another number of chunks)."""
    town = article.title.split()[0]
    text = article.text.replace("voted on Monday", "voted on Tuesday").replace(
        " million pounds", " million euros"
    )
    text += f" This article was corrected: the {town} vote was on Tuesday, not Monday."
    return replace(article, text=text)


def version_state(service: NewsService, kb: str, old: Article, new: Article) -> str:
    """'old' or 'new': which version the record names, every chunk and BM25 row of that version
    there, and nothing of the other retrievable; anything else fails the test."""
    store = service.store
    stored_article = service.get(old.id, kb=kb)
    assert stored_article is not None, f"{old.title}: the article is gone"
    assert stored_article.text in (old.text, new.text), f"{old.title}: a text of neither version"
    which = "new" if stored_article.text == new.text else "old"
    stored, _ = store.lookup(kb, old.id, stored_article.text)
    assert stored is not None
    expected = stored.chunk_ids()
    assert len(expected) == len(service.ingester.chunk(stored_article))
    in_chroma = store._collection(kb, "chunks").get(where={"article_id": old.id}, include=[])
    table = store.lexical._table(kb)
    rows = store.lexical._db.execute(
        f"SELECT chunk_id FROM {table} WHERE article_id = ?", (old.id,)
    ).fetchall()
    assert expected <= set(in_chroma["ids"]), f"{old.title}: chunks of the {which} missing"
    assert expected <= {r[0] for r in rows}, f"{old.title}: BM25 rows of the {which} missing"
    visible = store.get_passages(kb, in_chroma["ids"])
    assert set(visible) == expected, f"{old.title}: chunks of both versions visible"
    town = old.title.split()[0]
    for passage in service.retrieve(f"{town} bridge council vote", kb, k=20):
        if passage.article_id == old.id:
            assert passage.text in stored_article.text, f"{town}: a passage of the other version"
    return which


def leftover_free(service: NewsService, kb: str, article: Article) -> bool:
    stored, _ = service.store.lookup(kb, article.id, article.text)
    assert stored is not None
    in_chroma = service.store._collection(kb, "chunks").get(
        where={"article_id": article.id}, include=[]
    )
    table = service.store.lexical._table(kb)
    rows = service.store.lexical._db.execute(
        f"SELECT chunk_id FROM {table} WHERE article_id = ?", (article.id,)
    ).fetchall()
    return (
        not stored.leftovers and set(in_chroma["ids"]) == {r[0] for r in rows} == stored.chunk_ids()
    )


@pytest.mark.parametrize("kill_at", [*KILL_POINTS, "random"])
def test_an_update_killed_midway_leaves_the_old_or_the_new_version_whole(
    make_fake_service: Callable[..., NewsService], tmp_path: Path, kill_at: str
) -> None:
    rng = random.Random(SEED + 2 + KILL_POINTS.index(kill_at) if kill_at in KILL_POINTS else 0)
    old = town_articles()
    new = [corrected(a) for a in old]
    service = make_fake_service("store", **CHUNKING)
    service.add_many(old)
    service.close()

    at_article = 3  # the fourth update to be written is killed at `kill_at`
    payload = {
        "settings": CHUNKING,
        "articles": [{"id": a.id, "title": a.title, "text": a.text} for a in new],
        "kill_at": None if kill_at == "random" else kill_at,
        "at_article": at_article + 1,
    }
    after = rng.randint(4, len(new) - 4) if kill_at == "random" else None
    reported = kill_midway(tmp_path / "store", "update", payload, "updated", after, rng)

    service = make_fake_service("store", **CHUNKING)
    states = {a.id: version_state(service, "default", a, b) for a, b in zip(old, new, strict=True)}
    assert all(states[article_id] == "new" for article_id in reported)
    assert states[old[-1].id] == "old"  # killed before the end
    if kill_at != "random":
        assert reported == [a.id for a in old[:at_article]]
        swapped = kill_at not in ("before_rows", "before_swap")
        assert states[old[at_article].id] == ("new" if swapped else "old")
        assert all(states[a.id] == "old" for a in old[at_article + 1 :])

    results = service.add_many(new)  # running the update again completes it
    assert [r.status for r in results] == [
        "unchanged" if states[a.id] == "new" else "updated" for a in old
    ]
    assert all(
        version_state(service, "default", a, b) == "new" for a, b in zip(old, new, strict=True)
    )
    assert all(leftover_free(service, "default", b) for b in new)
    assert service.store.lexical.count("default") == service.store.count_chunks("default")
    [found] = service.retrieve("When did the Kelso council vote on the bridge?", k=1)
    assert "vote was on Tuesday, not Monday" in found.text or "voted on Tuesday" in found.text
    assert not service.store.lexical_search("default", "pounds", 5)  # the old figures, gone
