"""Several newsbot processes on one data directory (issue 19). A long-running process serves
its embedded store through a local `chroma run` on 127.0.0.1; the others connect to it; with
none running, a command opens the store embedded and one that finds it held waits.

Each process here is a real one: a worker (below) that builds the service on the fake embedder
(the vectors must agree between processes; meaning is not what is tested) and obeys JSON lines
on stdin. What is pinned is the store's: who serves, who connects, what each one sees, and what
a SIGKILL leaves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.index.local_server import RECORD_FILE, read_record
from retrieval.ingest.articles import make_article
from retrieval.types import Article

pytestmark = pytest.mark.server  # each test runs a Chroma server (in a subprocess)

KB = "default"
WORKER = textwrap.dedent(
    """
    import json, sys
    from retrieval.build import build_service
    from retrieval.config import Settings
    from retrieval.ingest.articles import article_from_dict
    from fakes import FakeEmbeddings

    data_dir, serve, wait_s = sys.argv[1], sys.argv[2] == "serve", float(sys.argv[3])
    settings = Settings(_env_file=None, data_dir=data_dir, store_wait_s=wait_s,
                        chunk_size=200, chunk_overlap=40, ingest_group_chunks=1)
    try:
        service = build_service(settings, embeddings=FakeEmbeddings(), serve=serve)
    except Exception as error:  # what the CLI would print
        print(json.dumps({"error": str(error)}), flush=True)
        sys.exit(3)
    print(json.dumps({"open": service.store.local_server}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "add":
            results = service.add_many([article_from_dict(a) for a in command["articles"]])
            reply = [[r.article_id, r.status] for r in results]
        elif op == "search":
            reply = [p.article_id for p in service.retrieve(command["q"], k=command.get("k", 4))]
        elif op == "list":
            reply = sorted(a.id for a in service.list())
        elif op == "remove":
            reply = service.remove(command["id"])
        elif op == "close":
            break
        print(json.dumps({op: reply}), flush=True)
    service.close()
    print(json.dumps({"closed": True}), flush=True)
    """
)


class Worker:
    """A newsbot process on the data directory, driven line by line."""

    def __init__(self, data_dir: Path, *, serve: bool, wait_s: float = 60.0) -> None:
        tests = str(Path(__file__).parent)  # for `fakes`
        path = os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(data_dir), "serve" if serve else "-", str(wait_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": path},
        )

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the worker stopped: {self.stderr()}"
        return dict(json.loads(line))

    def opened(self) -> str | None:
        """The local server's address it uses, or None when it has the store embedded."""
        reply = self.read()
        assert "open" in reply, reply
        return reply["open"]

    def send(self, op: str, **args: Any) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        return self.read()[op]

    def add(self, *articles: Article) -> dict[str, str]:
        records = [{"id": a.id, "title": a.title, "text": a.text} for a in articles]
        return dict(self.send("add", articles=records))

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"op": "close"}) + "\n")
            self.process.stdin.flush()
            assert self.read() == {"closed": True}
        self.process.wait(60)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        assert self.process.stderr is not None
        return self.process.stderr.read()[-2000:]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.process.kill()
        worker.process.wait(30)


def start(workers: list[Worker], data_dir: Path, **options: Any) -> Worker:
    worker = Worker(data_dir, **options)
    workers.append(worker)
    return worker


def town(name: str, cost: int) -> Article:
    text = (
        f"The {name} council voted on Monday to rebuild the old bridge over the river. "
        f"Work in {name} will start in spring and cost {cost} million pounds in all. "
        f"Residents of {name} said the crossing had been closed for months."
    )
    return make_article(text=text, title=f"{name} rebuilds its bridge", where=name)


def wait_until(condition: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_serving_process_shares_its_store_and_sees_what_others_add(
    tmp_path: Path, workers: list[Worker]
) -> None:
    chroma = tmp_path / "chroma"
    bot = start(workers, tmp_path, serve=True)
    url = bot.opened()
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert bot.add(town("Arden", 3))

    shell = start(workers, tmp_path, serve=False)
    assert shell.opened() == url  # connected, not refused
    kelso = town("Kelso", 7)
    assert shell.add(kelso) == {kelso.id: "added"}
    assert shell.send("list") == sorted([town("Arden", 3).id, kelso.id])
    # the serving process answers from the other's article on its next question: Chroma and
    # the BM25 index (its word counts cached before) both see it
    assert bot.send("search", q="Kelso bridge cost", k=1) == [kelso.id]
    assert shell.send("remove", id=kelso.id) is True
    assert kelso.id not in bot.send("search", q="Kelso bridge cost", k=4)
    shell.close()

    bot.close()  # the last user: the server stops and the directory is free again
    wait_until(lambda: not (chroma / RECORD_FILE).exists())
    after = start(workers, tmp_path, serve=False)
    assert after.opened() is None  # embedded, as with nothing running
    assert after.send("list") == [town("Arden", 3).id]
    after.close()


def test_two_long_running_processes_share_one_server_and_it_outlives_the_first(
    tmp_path: Path, workers: list[Worker]
) -> None:
    bot = start(workers, tmp_path, serve=True)
    url = bot.opened()
    chat = start(workers, tmp_path, serve=True)
    assert chat.opened() == url
    bot.close()
    time.sleep(1.5)  # past the supervisor's look for remaining users
    arden = town("Arden", 3)
    assert chat.add(arden) == {arden.id: "added"}
    assert chat.send("search", q="Arden bridge", k=1) == [arden.id]
    chat.close()


def test_a_short_command_waits_for_another_then_goes_on(
    tmp_path: Path, workers: list[Worker]
) -> None:
    first = start(workers, tmp_path, serve=False)
    assert first.opened() is None
    impatient = start(workers, tmp_path, serve=False, wait_s=0.5)
    reply = impatient.read()
    assert impatient.process.wait(60) == 3
    assert "still in use by process" in reply["error"]
    assert "NEWSBOT_STORE_WAIT_S" in reply["error"]

    patient = start(workers, tmp_path, serve=False, wait_s=60)
    assert patient.process.stderr is not None
    told = patient.process.stderr.readline()  # said once, on stderr, as it starts waiting
    assert told.startswith("waiting for process") and "to finish with the store" in told
    first.close()
    assert patient.opened() is None
    patient.close()


def test_a_killed_serving_process_stops_the_server_and_leaves_a_usable_store(
    tmp_path: Path, workers: list[Worker]
) -> None:
    chroma = tmp_path / "chroma"
    bot = start(workers, tmp_path, serve=True)
    bot.opened()
    arden = town("Arden", 3)
    bot.add(arden)
    record = read_record(chroma)
    assert record is not None
    bot.kill()  # its users' lock goes with it: the supervisor stops the server
    wait_until(lambda: not (chroma / RECORD_FILE).exists())
    wait_until(lambda: not Path(f"/proc/{record.chroma_pid}").exists())
    after = start(workers, tmp_path, serve=False)
    assert after.opened() is None
    assert after.send("search", q="Arden bridge", k=1) == [arden.id]
    after.close()


def test_a_killed_supervisor_leaves_a_stale_record_that_the_next_opener_clears(
    tmp_path: Path, workers: list[Worker]
) -> None:
    chroma = tmp_path / "chroma"
    bot = start(workers, tmp_path, serve=True)
    bot.opened()
    arden = town("Arden", 3)
    bot.add(arden)
    record = read_record(chroma)
    assert record is not None
    os.kill(record.supervisor_pid, signal.SIGKILL)  # its server is told to stop (PDEATHSIG)
    wait_until(lambda: not Path(f"/proc/{record.chroma_pid}").exists())
    bot.kill()
    assert (chroma / RECORD_FILE).exists()  # nobody removed it
    after = start(workers, tmp_path, serve=True)
    url = after.opened()
    assert url is not None
    assert after.send("search", q="Arden bridge", k=1) == [arden.id]
    after.close()


def test_processes_whose_server_was_killed_carry_on_with_a_new_one(
    tmp_path: Path, workers: list[Worker]
) -> None:
    chroma = tmp_path / "chroma"
    bot = start(workers, tmp_path, serve=True)
    bot.opened()
    shell = start(workers, tmp_path, serve=False)
    shell.opened()
    arden = town("Arden", 3)
    bot.add(arden)
    record = read_record(chroma)
    assert record is not None
    os.kill(record.chroma_pid, signal.SIGKILL)  # the server alone dies; its users live on
    wait_until(lambda: not (chroma / RECORD_FILE).exists())  # its supervisor gave up
    # the next call of each finds it gone, opens the store again, and is made again
    assert bot.send("search", q="Arden bridge", k=1) == [arden.id]
    kelso = town("Kelso", 7)
    assert shell.add(kelso) == {kelso.id: "added"}
    again = read_record(chroma)
    assert again is not None and again.chroma_pid != record.chroma_pid
    assert bot.send("search", q="Kelso bridge", k=1) == [kelso.id]
    shell.close()
    bot.close()
