"""What `newsbot check` and the mark of an interrupted write cost. Ingests the BBC set (2,225
articles) with a zero-cost stand-in for the model (only the store side is measured), then
times: one write lock taken and left (with the mark written and emptied) against the bare
`flock`; opening the store clean; the cheap count check of an opening after an interrupted
write; a full check; and a repair of 20 orphan passages and one article's lost passages.
Run: `python benchmarks/store_check.py [JSONL]` (default: the BBC set)."""

from __future__ import annotations

import fcntl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_store_memory import BBC, StandInModel

from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.check import counts_agree
from retrieval.index.store import open_store

KB = "default"


def best_ms(run: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """(median, best) of `repeat` runs, in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def show(what: str, run: Callable[[], object]) -> None:
    median, best = best_ms(run)
    print(f"{what}: {median:.0f} ms (median of 5; best {best:.0f})")


def main() -> None:
    source = sys.argv[1] if len(sys.argv) > 1 else str(BBC)
    workdir = Path(tempfile.mkdtemp())
    settings = Settings(_env_file=None, data_dir=workdir / "data")
    service = build_service(settings, embeddings=StandInModel())
    service.ingest([source], kb=KB, batch_articles=1000)
    store = service.store
    chunks = store.count_chunks(KB)
    print(f"store: {len(service.list(kb=KB))} articles, {chunks} passages")

    lock = store._writes
    parts = store._parts(KB)
    n = 2000

    def taken() -> None:
        for _ in range(n):
            with lock.held():
                pass

    assert lock._file is not None
    handle = lock._file

    def bare() -> None:
        for _ in range(n):
            fcntl.flock(handle, fcntl.LOCK_EX)
            fcntl.flock(handle, fcntl.LOCK_UN)

    held_ms, _ = best_ms(taken)
    bare_ms, _ = best_ms(bare)
    print(
        f"write lock taken and left: {held_ms / n * 1000:.1f} us with the mark, "
        f"{bare_ms / n * 1000:.1f} us bare flock"
    )
    show("full check", lambda: store.check(KB))
    show("count check (an opening after an interrupted write)", lambda: counts_agree(parts))
    service.close()

    def reopen() -> None:
        open_store(chroma_path=settings.chroma_path).close()

    show("open and close the store, clean", reopen)
    marked = settings.data_dir / ".newsbot-write.lock"

    def reopen_marked() -> None:
        marked.write_text("writing: process 1\n")
        reopen()

    show("open and close after an interrupted write (counts agree)", reopen_marked)

    service = build_service(settings, embeddings=StandInModel())
    store = service.store
    some = service.list(kb=KB)[0].id
    collection = store._collection(KB, "chunks")
    got = collection.get(limit=20, include=["embeddings", "documents", "metadatas"])
    collection.add(
        ids=[f"ghost{i}:0" for i in range(len(got["ids"]))],
        embeddings=got["embeddings"],
        documents=got["documents"],
        metadatas=[{**meta, "article_id": f"ghost{i}"} for i, meta in enumerate(got["metadatas"])],
    )
    collection.delete(where={"article_id": some})
    start = time.perf_counter()
    [outcome] = service.check(repair=True)
    repair_ms = (time.perf_counter() - start) * 1000
    assert outcome.after is not None and outcome.after.clean, outcome
    print(f"repair of {outcome.found.damage()}: {repair_ms:.0f} ms (a check, the mending, a check)")
    service.close()


if __name__ == "__main__":
    main()
