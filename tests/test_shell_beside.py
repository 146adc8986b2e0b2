"""The shell keeps working while the bot or a chat runs (issue 19): end to end, with the real
`newsbot` command in other processes, the real model, and the running one's own local Chroma
server on 127.0.0.1 (retrieval/index/local_server.py)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from discord_harness import ask_slash, discord_bot, kb_of
from feed_site import FeedSite, feed_site, town_story

from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.index.store import open_store
from retrieval.ingest.articles import make_article
from retrieval.types import Article

pytestmark = [pytest.mark.model, pytest.mark.server]

NEWSBOT = Path(sys.executable).with_name("newsbot")  # the console script of this venv
HARBOUR = make_article(
    title="Port Ellery harbour reopens after storm repairs",
    text=(
        "The harbour at Port Ellery reopened on Tuesday after four months of storm repairs. "
        "The repairs cost 14 million pounds, paid by the county and the fishing cooperative. "
        "Harbour master Ada Quinn said the first trawlers would land their catch on Friday."
    ),
    source="Ellery Gazette",
    published_at="2026-11-24",
)
QUESTION = "How much did the Port Ellery harbour repairs cost?"


def newsbot(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The `newsbot` command in its own process, on this test's data folder (from the
    environment: see conftest's `_isolated_environment`)."""
    return subprocess.run(
        [str(NEWSBOT), *args], capture_output=True, text=True, timeout=timeout, env=os.environ
    )


def article_file(folder: Path, *articles: Article) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{articles[0].id}.jsonl"
    lines = [
        json.dumps(
            {
                "id": a.id,
                "title": a.title,
                "text": a.text,
                "source": a.source,
                "published_at": a.published_at,
            }
        )
        for a in articles
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def shell_follows_a_feed(site: FeedSite, kb: str) -> str:
    """A second shell follows a feed and polls it once; the question its story answers."""
    story = town_story(0)
    url = site.add_feed("/feed.xml", "rss", "Valley Gazette", [story])
    followed = newsbot("feeds", "add", url, "--kb", kb)
    assert followed.returncode == 0, followed.stderr
    polled = newsbot("watch", "--once")
    assert polled.returncode == 0, polled.stderr + polled.stdout
    listed = newsbot("articles", "--kb", kb)
    assert story.title in listed.stdout, listed.stdout + listed.stderr
    return f"How much will the bridge work in {story.title.split()[0]} cost?"


def shell_adds_asks_lists_and_removes(tmp_path: Path, kb: str) -> None:
    """What an admin does in a second shell; each a separate `newsbot` process."""
    added = newsbot("ingest", str(article_file(tmp_path / "in", HARBOUR)), "--kb", kb)
    assert added.returncode == 0, added.stderr
    assert "added 1" in added.stdout
    asked = newsbot("ask", QUESTION, "--json", "--kb", kb)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert "14 million" in answer["answer"]
    assert {c["article_id"] for c in answer["citations"]} == {HARBOUR.id}
    listed = newsbot("articles", "--kb", kb)
    assert listed.returncode == 0 and HARBOUR.title in listed.stdout, listed.stderr


class Terminal:
    """A command in a pseudo-terminal, as a user runs it."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            list(args), stdin=slave, stdout=slave, stderr=slave, env=os.environ, close_fds=True
        )
        os.close(slave)
        self.output = ""

    def expect(self, pattern: str, timeout: float = 300) -> str:
        """Read until `pattern` (a regex) appears in what came since the last match."""
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.output)) is None:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {pattern!r}; got:\n{self.output[-2000:]}"
            ready, _, _ = select.select([self.master], [], [], min(left, 1.0))
            if ready:
                try:
                    self.output += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:  # the command ended
                    assert self.process.poll() is not None
        seen, self.output = self.output[: found.end()], self.output[found.end() :]
        return seen

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)
        os.close(self.master)


@pytest.fixture
def loopback_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed and its pages are on 127.0.0.1, which newsbot fetches only when allowed."""
    monkeypatch.setenv("NEWSBOT_ALLOW_PRIVATE_URLS", "true")


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for each in opened:
        each.close()


def test_while_chat_runs_a_second_shell_adds_asks_lists_removes_and_follows_a_feed(
    tmp_path: Path, terminal: list[Terminal], loopback_pages: None
) -> None:
    chat = Terminal(str(NEWSBOT), "chat")
    terminal.append(chat)
    chat.expect(r"you> ")  # demo article loaded, the store served

    shell_adds_asks_lists_and_removes(tmp_path, "default")
    chat.send(QUESTION)
    answered = chat.expect(r"you> ")
    assert "14 million" in answered and "Port Ellery" in answered
    with feed_site() as site:
        bridge = shell_follows_a_feed(site, "default")
    chat.send(bridge)
    assert "2 million pounds" in chat.expect(r"you> ")

    removed = newsbot("remove", HARBOUR.id)
    assert removed.returncode == 0, removed.stderr
    chat.send(QUESTION)
    assert "14 million" not in chat.expect(r"you> ")
    chat.send("/quit")
    assert chat.process.wait(60) == 0


async def test_while_the_discord_bot_runs_the_shell_adds_and_the_bot_answers_from_it(
    tmp_path: Path, embeddings: SentenceEmbeddings, loopback_pages: None
) -> None:
    settings = Settings(_env_file=None, data_dir=Path(os.environ["NEWSBOT_DATA_DIR"]))  # type: ignore[call-arg]
    service = build_service(settings, embeddings=embeddings, serve=True)  # as `newsbot discord`
    try:
        assert service.store.local_server is not None
        # (the feed is polled by the shell's `watch --once`, not by the bot's own loop)
        async with discord_bot(service, poll_feeds=False) as (fake, _):
            kb = kb_of(fake)
            shell_adds_asks_lists_and_removes(tmp_path, kb)  # (blocking: the bot waits)
            answer = await ask_slash(fake, QUESTION)
            assert "14 million" in answer.json["content"]
            assert "Port Ellery" in json.dumps(answer.json["embeds"])
            with feed_site() as site:
                bridge = shell_follows_a_feed(site, kb)
            answer = await ask_slash(fake, bridge)
            assert "2 million pounds" in answer.json["content"]
    finally:
        service.close()


def test_two_ingests_at_once_store_every_article_once(tmp_path: Path) -> None:
    towns = [
        make_article(
            title=f"{town} rebuilds its bridge",
            text=f"The {town} council voted to rebuild the bridge for {n} million pounds. "
            f"Residents of {town} said the crossing had been closed for {n + 2} months.",
        )
        for n, town in enumerate(["Arden", "Bexley", "Corran", "Dunmore", "Elstow", "Fenwick"])
    ]
    first = article_file(tmp_path / "a", *towns[:4])
    second = article_file(tmp_path / "b", *towns[2:])  # two articles in both
    shells = [
        subprocess.Popen(
            [str(NEWSBOT), "ingest", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        for path in (first, second)
    ]
    outputs = [shell.communicate(timeout=300) for shell in shells]
    assert [shell.returncode for shell in shells] == [0, 0], outputs
    added = sum(int(re.search(r"added (\d+)", out).group(1)) for out, _ in outputs)  # type: ignore[union-attr]
    assert added == len(towns)  # each article added by one of them, left alone by the other

    settings = Settings(_env_file=None, data_dir=Path(os.environ["NEWSBOT_DATA_DIR"]))  # type: ignore[call-arg]
    store = open_store(chroma_path=settings.chroma_path)
    try:
        stored = store.list_articles("default")
        assert sorted(a.id for a in stored) == sorted(a.id for a in towns)
        chunks = store.count_chunks("default")
        assert chunks == sum(a.chunks for a in stored)  # no article's chunks written twice
        assert store.lexical_search("default", "bridge council", 50)
        assert store.lexical.count("default") == chunks
    finally:
        store.close()
