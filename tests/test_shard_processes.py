"""Several bot processes, each a range of the shards, sharing one Chroma server (issue 16).

End to end: a real `chroma run` on 127.0.0.1, the fake Discord of tests/fake_discord.py in
this process, and two real `newsbot discord` processes (NEWSBOT_DISCORD_SHARDS=2, one with
NEWSBOT_DISCORD_SHARD_IDS=0, the other with 1) with NEWSBOT_CHROMA_URL pointing at that
server. Each process runs the real CLI, with two changes made by the bootstrap below: discord.py's
URLs point at the fake, and the embedder is the fake one of tests/fakes.py (every process must
embed alike; meaning is not what is tested). The servers are chosen so that one is on each shard
(Discord's Sharding Formula: shard = (server id >> 22) % shard count)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from discord_harness import followup, guild_on, slash
from fake_discord import Call, FakeDiscord, FakeGuild
from test_chroma_server import chroma_url  # noqa: F401  (the module's `chroma run` fixture)

from retrieval.index.local_server import read_record

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
SHARDS = 2
# A test run started in the background by a shell without job control (`make test &`) starts
# with SIGINT ignored, and its children inherit that: the bot would not see the Ctrl-C this
# test sends. Python installs its KeyboardInterrupt handler only where SIGINT was not ignored.
BOOTSTRAP = textwrap.dedent(
    """
    import os, signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import retrieval.build
    from fakes import FakeEmbeddings

    retrieval.build.load_embeddings = lambda settings: FakeEmbeddings()
    if root := os.environ.get("TEST_FAKE_DISCORD"):  # http://127.0.0.1:PORT
        import yarl
        from discord.asset import Asset
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        assert root.startswith("http://127.0.0.1:"), root
        Route.BASE = f"{root}/api/v10"
        Asset.BASE = root
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(root.replace("http", "ws", 1) + "/ws")
    from bot.cli import main

    main(sys.argv[1:], prog_name="newsbot")
    """
)
HARBOUR = (
    "Port Ellery harbour reopened on Tuesday after four months of storm repairs. "
    "The harbour repairs cost 14 million pounds, paid by the county and the fishing "
    "cooperative."
)
ORCHARD = (
    "The Wexcombe cider orchard planted 900 new apple trees this winter. "
    "The orchard expects its first cider pressing from the new apple trees in 2029."
)


def newsbot_env(chroma: str, **extra: str) -> dict[str, str]:
    path = os.pathsep.join(
        filter(None, [str(ROOT / "tests"), str(ROOT), os.environ.get("PYTHONPATH")])
    )
    return {
        **os.environ,
        "PYTHONPATH": path,
        "NEWSBOT_CHROMA_URL": chroma,
        "ANONYMIZED_TELEMETRY": "False",
        **extra,
    }


def newsbot(chroma: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A shell's `newsbot` command, on the same Chroma server."""
    return subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, *args],
        env=newsbot_env(chroma),
        capture_output=True,
        text=True,
        timeout=300,
    )


class BotProcess:
    """`newsbot discord` running some of the shards, its output in a log file."""

    def __init__(self, fake: FakeDiscord, chroma: str, shard_ids: str, log: Path) -> None:
        self.log = log
        env = newsbot_env(
            chroma,
            TEST_FAKE_DISCORD=fake.root_url,
            DISCORD_TOKEN="fake-token",
            NEWSBOT_DISCORD_SHARDS=str(SHARDS),
            NEWSBOT_DISCORD_SHARD_IDS=shard_ids,
            NEWSBOT_DISCORD_GUILD_READY_TIMEOUT="0.2",
        )
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", BOOTSTRAP, "discord"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(120)  # a bound on a stop, on a loaded machine
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@pytest.fixture
def bots() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for bot in started:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait()


async def connected(fake: FakeDiscord, bot: BotProcess, shards: list[tuple[int, int]]) -> None:
    """Until the fake has exactly these gateway connections (then the servers arrive)."""
    for _ in range(600):
        if sorted(fake.connected_shards) == shards:
            await asyncio.sleep(1.5)  # GUILD_CREATEs, then on_ready after its ready timeout
            return
        assert bot.process.poll() is None, f"the bot exited:\n{bot.output()[-3000:]}"
        await asyncio.sleep(0.1)
    raise AssertionError(f"connections {fake.connected_shards}; the bot:\n{bot.output()[-3000:]}")


async def add_text(fake: FakeDiscord, guild: FakeGuild, text: str, title: str) -> None:
    options = {"text": text, "title": title}
    _, token = await slash(fake, "add_article", options, guild_id=guild.id, user=fake.admin)
    added = await followup(fake, token, "Added")
    assert f"**{title}**" in added.json["content"]


async def ask(fake: FakeDiscord, guild: FakeGuild, question: str) -> list[Call]:
    """/ask in `guild`; every message sent for it (the answer must come once, from one bot)."""
    callback, token = await slash(fake, "ask", {"question": question}, guild_id=guild.id)
    assert callback.json["type"] == 5  # deferred
    await fake.wait_for_call(
        lambda c: c.matches("POST", f"/webhooks/*/{token}") and bool(c.json.get("embeds")),
        timeout=60,
    )
    await asyncio.sleep(1.0)  # time for a second answer, were another process to give one
    callbacks = [c for c in fake.calls if c.matches("POST", f"/interactions/*/{token}/callback")]
    assert len(callbacks) == 1  # one process took the interaction
    return [c for c in fake.calls if c.matches("POST", f"/webhooks/*/{token}")]


async def test_two_bot_processes_each_a_shard_share_one_chroma_server(
    chroma_url: str,  # noqa: F811
    bots: list[BotProcess],
    tmp_path: Path,
) -> None:
    first, second = guild_on(0, SHARDS), guild_on(1, SHARDS)
    async with FakeDiscord([first, second]) as fake:
        bots.append(BotProcess(fake, chroma_url, "0", tmp_path / "shard-0.log"))
        await connected(fake, bots[0], [(0, SHARDS)])  # only its own shard's connection
        bots.append(BotProcess(fake, chroma_url, "1", tmp_path / "shard-1.log"))
        await connected(fake, bots[1], [(0, SHARDS), (1, SHARDS)])
        assert [s.shard for s in fake._sessions] == [(0, SHARDS), (1, SHARDS)]

        await add_text(fake, first, HARBOUR, "Port Ellery harbour reopens")  # via shard 0's bot
        await add_text(fake, second, ORCHARD, "Wexcombe orchard plants apple trees")  # shard 1's
        harbour = await ask(fake, first, "How much did the Port Ellery harbour repairs cost?")
        orchard = await ask(fake, second, "How many apple trees did the Wexcombe orchard plant?")
        for sent, title in ((harbour, "Port Ellery"), (orchard, "Wexcombe")):
            answers = [c for c in sent if c.json.get("embeds")]
            assert len(answers) == 1, [c.json for c in sent]  # answered exactly once
            assert title in json.dumps(answers[0].json["embeds"])  # from the server's own kb
        # each server's knowledge base is its own, on the one Chroma server
        assert "Wexcombe" not in json.dumps([c.json for c in harbour])
        assert "Port Ellery" not in json.dumps([c.json for c in orchard])

        # no process started a local Chroma server of its own: all went to the one given
        data_dir = Path(os.environ["NEWSBOT_DATA_DIR"])
        assert read_record(data_dir / "chroma") is None
        # a shell on the same Chroma server sees what each bot process added
        for guild, title in ((first, "Port Ellery"), (second, "Wexcombe")):
            listed = newsbot(chroma_url, "articles", "--kb", f"guild-{guild.id}")
            assert listed.returncode == 0, listed.stderr
            assert title in listed.stdout

        # stopped, shard 1's bot leaves shard 0's answering alone
        assert bots[1].stop() == 0, bots[1].output()[-3000:]
        await asyncio.sleep(0.5)
        assert fake.connected_shards == [(0, SHARDS)]
        again = await ask(fake, first, "Who paid for the Port Ellery harbour repairs?")
        assert len([c for c in again if c.json.get("embeds")]) == 1
        assert bots[0].stop() == 0, bots[0].output()[-3000:]
    for bot in bots:
        assert "Traceback" not in bot.output(), bot.output()[-3000:]


def test_shard_ids_need_a_shard_count(chroma_url: str) -> None:  # noqa: F811
    """A user's mistake: one line, a non-zero exit, no traceback; nothing started."""
    result = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, "discord"],
        env=newsbot_env(chroma_url, DISCORD_TOKEN="fake-token", NEWSBOT_DISCORD_SHARD_IDS="0-1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "NEWSBOT_DISCORD_SHARDS" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
