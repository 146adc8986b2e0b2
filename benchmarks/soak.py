"""A soak of the Discord bot (issue 17): members of several servers ask questions with
follow-ups while admins add and remove articles and feeds are polled; in the middle the bot
process is SIGKILLed and started again.

Everything runs on this machine, on loopback only: the fake Discord of tests/fake_discord.py
(gateway and REST) in this process, a feed site (tests/feed_site.py) in a thread of it, and
the real bot — `newsbot discord`, through benchmarks/soak_bot.py, which only points discord.py
at the fake and adds a loop monitor — as a separate process, on a store ingested with BBC
articles (../shared/data/bbc_news.jsonl) and the default embedding backend (onnx).

What it drives, per server: 10 members (50 in 5 servers by default) open conversations with
/ask or an @mention (the server has threads on, so each opens a thread), and follow them up in
the thread or by replying to the /ask answer; an admin adds an article (/add_article text:)
every few seconds and removes every third one it added; the server follows a feed of its own,
to which the site adds a story every few seconds, and the bot announces the new headlines.
At most `--concurrency` questions are in flight at once (the machine has two cores).
The rate limits are raised (10,000 a user, 100,000 a server per minute) so that no member is
refused: the soak measures answering, and the limiter has tests of its own.

What it reports:
- every question answered exactly once: an answer is the bot message carrying the 👍/👎
  buttons (the last message of every answer), matched to the question by the interaction
  token, the replied-to message, or the thread started from the question; lost = none,
  doubled = more than one, apologies counted apart.
- p50/p95 latency from sending the interaction or message to the answer arriving at the fake.
- the bot's resident memory (sampled from /proc/PID/status every second), its asyncio task
  and thread counts, and the longest block of its event loop (soak_bot.py's monitor).
- the kill: questions in flight when it landed are cut (Discord does not deliver an event
  twice, so the new process never sees them; the member asks again, counted as re-asked);
  after the restart, follow-ups in threads opened before the kill must be read with the
  thread's earlier turns ("Read as: …"); once the bot is stopped, the store is opened and
  every article checked whole (record, every chunk in Chroma, the same lexical rows), every
  article an admin was told was added present (unless removed after), every removed one
  absent, and no feed story stored or announced twice.

    python benchmarks/soak.py [--questions 1000 --members 50 --guilds 5] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_discord import Call, FakeDiscord, FakeGuild  # noqa: E402
from feed_site import FeedSite, feed_site, town_story  # noqa: E402

from bot.discord_bot.messages import APOLOGY, READ_AS  # noqa: E402

BBC = ROOT.parent / "shared" / "data" / "bbc_news.jsonl"
VOTE = "newsbot:vote:"
OPENERS = [
    "What happened with {title}?",
    "What is the news about {title}?",
    "Tell me about {title}.",
]
FOLLOW_UPS = [
    "Why did that happen?",
    "What else happened then?",
    "Who said that?",
    "When was that?",
]


@dataclass
class SoakConfig:
    questions: int = 1000
    members: int = 50
    guilds: int = 5
    articles_per_guild: int = 30  # ingested before the bot starts
    concurrency: int = 4  # questions in flight at once
    kill: bool = True  # SIGKILL the bot once, at half the questions
    admin_every_s: float = 4.0  # an /add_article (every third action a removal) per server
    story_every_s: float = 3.0  # a new story in one of the feeds
    feed_interval_s: int = 4  # NEWSBOT_FEED_INTERVAL_S
    cross_kill_follow_ups: int = 2  # per server: follow-ups in threads opened before the kill
    answer_timeout_s: float = 180.0
    seed: int = 17
    model_cache: str | None = None  # NEWSBOT_MODEL_CACHE_DIR for the exported ONNX model
    work_dir: str | None = None  # kept if given (logs, store); a temporary folder otherwise


def quick_config(**overrides: Any) -> SoakConfig:
    """--quick: 2 servers of 5 members, 40 questions, one kill — about two minutes here."""
    values: dict[str, Any] = {
        "questions": 40,
        "members": 10,
        "guilds": 2,
        "articles_per_guild": 8,
        "admin_every_s": 2.0,
        "story_every_s": 2.0,
        "feed_interval_s": 2,
        "cross_kill_follow_ups": 2,
    }
    return SoakConfig(**(values | overrides))


# -- what was asked and what came back ---------------------------------------------------------


@dataclass
class Question:
    n: int
    guild: int
    kind: str  # slash, mention, thread, reply
    text: str
    key: tuple[str, str] = ("", "")  # what the answer is found by: ("token", t) / ("msg", id)
    generation: int = 0  # which bot process it was sent to (0 before the kill, 1 after)
    sent: float = 0.0
    answered: float | None = None
    cut: bool = False  # in flight when the bot was killed
    re_ask_of: int | None = None
    across_kill: bool = False  # a follow-up in a thread opened before the kill
    read_as: str | None = None
    opener_subject: str = ""


@dataclass
class Conversation:
    guild: int
    opener: Question
    answer_message: dict[str, Any] | None = None  # the /ask answer (replies go to it)
    thread_id: str | None = None
    generation: int = 0


@dataclass
class AdminOp:
    guild: int
    kind: str  # add, remove
    article_id: str | None
    title: str
    generation: int
    reply: str | None = None
    in_flight_at_kill: bool = False


class CallIndex(list[Call]):
    """FakeDiscord.calls, indexed as they arrive: the bot's answers by what they answer, and
    the follow-ups of each interaction by token (a linear scan per wait would be quadratic)."""

    def __init__(self, soak: Soak) -> None:
        super().__init__()
        self.soak = soak

    def append(self, call: Call) -> None:
        super().append(call)
        self.soak.on_call(call, time.perf_counter())


def _components(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in body.get("components") or [] for c in row.get("components") or []]


def _read_as(body: dict[str, Any]) -> str | None:
    for embed in body.get("embeds") or []:
        footer = (embed.get("footer") or {}).get("text") or ""
        if footer.startswith(READ_AS):
            return footer.removeprefix(READ_AS)
    for line in (body.get("content") or "").splitlines():
        if line.startswith(f"*({READ_AS}"):
            return line[2 + len(READ_AS) : -2]
    return None


class Soak:
    def __init__(self, config: SoakConfig, work: Path) -> None:
        self.config = config
        self.work = work
        self.rng = random.Random(config.seed)
        self.guilds = [FakeGuild(f"Server {g}") for g in range(config.guilds)]
        self.fake = FakeDiscord(self.guilds)
        self.fake.calls = CallIndex(self)
        self.members = [self.fake.add_user(f"member{i}") for i in range(config.members)]
        self.answers: dict[tuple[str, str], list[tuple[float, Call]]] = defaultdict(list)
        self.apologies: dict[tuple[str, str], int] = defaultdict(int)
        self.followups: dict[str, list[Call]] = defaultdict(list)  # token -> webhook POSTs
        self.waiters: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.questions: list[Question] = []
        self.conversations: list[Conversation] = []
        self.admin_ops: list[AdminOp] = []
        self.generation = 0
        self.asked = 0  # questions counted against --questions (re-asks are not)
        self.answered_count = 0
        self.kill_at = config.questions // 2 if config.kill else None
        self.bot_up = asyncio.Event()
        self.dead: list[asyncio.Event] = []  # per bot process: set once it is gone
        self.callbacks: dict[str, Call] = {}  # token -> the interaction's callback
        self.threads_missing = 0  # /ask answered, but its thread never started
        self.done = asyncio.Event()
        self.slots = asyncio.Semaphore(config.concurrency)
        self.proc: subprocess.Popen[bytes] | None = None
        self.kill_task: asyncio.Task[None] | None = None
        self.settle_s = 0.0
        self.driver_lags: list[float] = []
        self.load_start = os.getloadavg()[0]
        self.lifetimes: list[dict[str, Any]] = []  # per bot process: pid, start, end, RSS
        self.rss: list[tuple[float, int, int]] = []  # (t, pid, kB)
        self.stories: dict[int, list[tuple[str, str, float]]] = defaultdict(list)
        self.site: FeedSite | None = None
        self.started = 0.0
        self.base_titles: dict[int, list[str]] = {}
        self.to_add: dict[int, list[dict[str, Any]]] = {}

    # -- the fake's record -----------------------------------------------------------------

    def on_call(self, call: Call, t: float) -> None:
        if call.method != "POST" or call.status >= 400:
            return
        body = call.json or {}
        key: tuple[str, str] | None = None
        if m := re.fullmatch(r"/interactions/\d+/([^/]+)/callback", call.path):
            self.callbacks[m.group(1)] = call
            self._wake(("admin", m.group(1)))
        elif m := re.fullmatch(r"/webhooks/\d+/([^/]+)", call.path):
            key = ("token", m.group(1))
            self.followups[m.group(1)].append(call)
            self._wake(("admin", m.group(1)))
        elif m := re.fullmatch(r"/channels/(\d+)/messages", call.path):
            ref = (body.get("message_reference") or {}).get("message_id")
            key = ("msg", str(ref if ref is not None else m.group(1)))
        if key is None:
            return
        if any(str(c.get("custom_id", "")).startswith(VOTE) for c in _components(body)):
            self.answers[key].append((t, call))
            self._wake(key)
        elif APOLOGY in (body.get("content") or ""):
            self.apologies[key] += 1
            self._wake(key)

    def _wake(self, key: tuple[str, str]) -> None:
        waiter = self.waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, key: tuple[str, str], generation: int, timeout: float) -> bool:
        """Until `key` is answered (True), the bot is killed or the time is up (False)."""
        if self.answers.get(key) or self.apologies.get(key):
            return True
        waiter = asyncio.get_running_loop().create_future()
        self.waiters[key] = waiter
        killed = asyncio.ensure_future(self.dead[generation].wait())
        try:
            await asyncio.wait({waiter, killed}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            killed.cancel()
            self.waiters.pop(key, None)
        return bool(self.answers.get(key) or self.apologies.get(key))

    # -- asking --------------------------------------------------------------------------------

    def _take(self) -> bool:
        if self.asked >= self.config.questions:
            return False
        self.asked += 1
        return True

    def _answered_one(self) -> None:
        """The kill comes once half the questions are answered: in the middle of the load."""
        self.answered_count += 1
        if self.kill_at is not None and self.answered_count == self.kill_at:
            self.kill_task = asyncio.get_running_loop().create_task(self.kill_and_restart())

    async def ask(self, q: Question, send: Any) -> Question:
        """Send one question (retrying it after a kill that cut it); its answer's time."""
        while True:
            await self.bot_up.wait()
            async with self.slots:
                await self.bot_up.wait()
                q.generation = self.generation
                q.sent = time.perf_counter()
                q.n = len(self.questions)
                self.questions.append(q)
                key = await send(q)
                q.key = key
                ok = await self._wait(key, q.generation, self.config.answer_timeout_s)
            if ok:
                self._answered_one()
                q.answered = min(t for t, _ in self.answers[key]) if self.answers[key] else None
                if self.answers[key]:
                    q.read_as = _read_as(self.answers[key][0][1].json or {})
                return q
            if not self.dead[q.generation].is_set():
                return q  # lost: no answer in time, and no kill to blame
            q.cut = True  # the member asks again, the same way, once the bot is back
            q = Question(
                n=0,
                guild=q.guild,
                kind=q.kind,
                text=q.text,
                re_ask_of=q.n,
                across_kill=q.across_kill,
                opener_subject=q.opener_subject,
            )

    async def send_slash(self, q: Question, user: dict[str, Any]) -> tuple[str, str]:
        payload = await self.fake.send_interaction(
            "ask", {"question": q.text}, guild_id=self.guilds[q.guild].id, user=user
        )
        return ("token", payload["token"])

    async def send_message(
        self, q: Question, user: dict[str, Any], channel: str | int, reference: Any = None
    ) -> tuple[str, str]:
        text = q.text
        if q.kind == "mention":
            text = f"{self.fake.mention(self.fake.bot_user)} {text}"
        msg = await self.fake.send_message(channel, text, author=user, message_reference=reference)
        # a mention: the bot starts a thread from it (the thread has its id) and answers
        # there; a reply or a message in a thread: the answer replies to it
        return ("msg", msg["id"])

    async def member(self, index: int) -> None:
        user = self.members[index]
        guild = index % self.config.guilds
        rng = random.Random(self.config.seed * 1000 + index)
        titles = self.base_titles[guild]
        while not self.done.is_set() and self._take():
            title = rng.choice(titles)
            kind = rng.choice(["slash", "mention"])
            opener = Question(0, guild, kind, rng.choice(OPENERS).format(title=title))
            opener.opener_subject = title
            conv = Conversation(guild, opener, generation=self.generation)

            async def send_opener(q: Question, conv: Conversation = conv) -> tuple[str, str]:
                conv.generation = self.generation
                if q.kind == "slash":
                    return await self.send_slash(q, user)
                return await self.send_message(q, user, self.guilds[guild].channel_id)

            opener = await self.ask(opener, send_opener)
            if opener.answered is None or not self.answers[opener.key]:
                continue
            conv.opener = opener
            self.conversations.append(conv)
            answer = self.answers[opener.key][0][1].message or {}
            conv.answer_message = answer if opener.kind == "slash" else None
            conv.thread_id = answer.get("id") if opener.kind == "slash" else opener.key[1]
            await asyncio.sleep(rng.uniform(0, 0.3))
            for _ in range(rng.choice([0, 1, 1, 2])):
                if not self._take():
                    break
                await self.follow_up(conv, user, rng)

    async def follow_up(
        self, conv: Conversation, user: dict[str, Any], rng: random.Random, *, across: bool = False
    ) -> Question | None:
        kind = "reply" if conv.answer_message and rng.random() < 0.5 and not across else "thread"
        if kind == "thread" and not await self._thread_exists(conv):
            self.threads_missing += 1
            return None
        q = Question(0, conv.guild, kind, rng.choice(FOLLOW_UPS), across_kill=across)
        q.opener_subject = conv.opener.opener_subject

        async def send(q: Question) -> tuple[str, str]:
            if q.kind == "reply" and conv.answer_message:
                channel = conv.answer_message["channel_id"]
                return await self.send_message(q, user, channel, int(conv.answer_message["id"]))
            return await self.send_message(q, user, conv.thread_id or "")

        return await self.ask(q, send)

    async def _thread_exists(self, conv: Conversation) -> bool:
        """Whether the conversation's thread is there (waiting up to 20 s for the bot to start
        it: after an /ask it does so once the answer is sent)."""
        guild = self.guilds[conv.guild]
        for _ in range(400):
            if conv.thread_id and int(conv.thread_id) in guild.threads:
                return True
            await asyncio.sleep(0.05)
        return False

    async def across_the_kill(self) -> None:
        """After the restart: follow-ups in threads opened (and answered) before the kill."""
        while len(self.dead) < 2:
            await asyncio.sleep(0.2)
        await self.bot_up.wait()
        rng = random.Random(self.config.seed + 1)
        jobs = []
        for g in range(self.config.guilds):
            before = [c for c in self.conversations if c.guild == g and c.generation == 0]
            for conv in rng.sample(before, min(self.config.cross_kill_follow_ups, len(before))):
                user = self.members[g]
                jobs.append(self.follow_up(conv, user, rng, across=True))
        await asyncio.gather(*jobs)

    # -- admins and feeds ----------------------------------------------------------------------

    async def command(self, name: str, options: dict[str, Any], guild: int) -> str:
        """An admin's slash command; the bot's reply (callback or follow-up) text."""
        generation = self.generation
        payload = await self.fake.send_interaction(
            name, options, guild_id=self.guilds[guild].id, user=self.fake.admin
        )
        token = payload["token"]
        for _ in range(1200):
            callback = self.callbacks.get(token)
            if callback is not None and callback.json["type"] == 4:
                return str(callback.json["data"].get("content") or "")
            if self.followups.get(token):
                return str(self.followups[token][0].json.get("content") or "")
            waiter = asyncio.get_running_loop().create_future()
            self.waiters[("admin", token)] = waiter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, 0.5)
            if self.dead[generation].is_set():
                raise ConnectionAbortedError(name)
        raise AssertionError(f"/{name}: no reply in 10 minutes")

    async def admin(self, guild: int) -> None:
        rng = random.Random(self.config.seed * 7 + guild)
        added: list[AdminOp] = []
        actions = 0
        while not self.done.is_set():
            await asyncio.sleep(self.config.admin_every_s * rng.uniform(0.7, 1.3))
            await self.bot_up.wait()
            actions += 1
            if actions % 3 == 0 and added:
                target = added.pop(rng.randrange(len(added)))
                op = AdminOp(guild, "remove", target.article_id, target.title, self.generation)
                options: dict[str, Any] = {"id": target.article_id}
                name = "remove_article"
            else:
                if not self.to_add[guild]:
                    continue
                record = self.to_add[guild].pop(0)
                op = AdminOp(guild, "add", record["id"], record["title"], self.generation)
                options = {"text": record["text"], "title": record["title"]}
                name = "add_article"
            self.admin_ops.append(op)
            try:
                op.reply = await self.command(name, options, guild)
            except ConnectionAbortedError:
                op.in_flight_at_kill = True
                await self.bot_up.wait()
                if op.kind == "add":  # the admin adds it again
                    retry = AdminOp(guild, "add", op.article_id, op.title, self.generation)
                    self.admin_ops.append(retry)
                    retry.reply = await self.command(name, options, guild)
                    op = retry
                else:
                    continue
            if op.kind == "add" and op.reply and (m := re.search(r"id `([^`]+)`", op.reply)):
                op.article_id = m.group(1)
                added.append(op)

    async def feeder(self) -> None:
        assert self.site is not None
        n = 0
        while not self.done.is_set():
            await asyncio.sleep(self.config.story_every_s)
            g = n % self.config.guilds
            story = town_story(1000 + n, prefix=f"/g{g}/news")
            self.site.add_story(f"/g{g}/feed.xml", story)
            self.stories[g].append((story.title, f"{self.site.base}{story.path}", time.time()))
            n += 1

    async def feeds_settled(self, limit_s: float = 180.0) -> float:
        """Wait until each feed has been fetched twice since its last story was added (and
        since the restart): a feed is fetched again only once its previous poll finished,
        so the poll that read every story has finished. A poll is slow while questions keep
        the cores busy."""
        assert self.site is not None
        started = time.perf_counter()
        feeds = [f"/g{g}/feed.xml" for g in range(self.config.guilds)]
        before = {path: len(self.site.requested(path)) for path in feeds}
        while time.perf_counter() - started < limit_s:
            if all(len(self.site.requested(path)) >= before[path] + 2 for path in feeds):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # the announcement of the last poll
        return time.perf_counter() - started

    # -- the bot process ----------------------------------------------------------------------

    def bot_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "SOAK_FAKE_DISCORD": self.fake.root_url,
                "SOAK_STATS": str(self.work / "bot-stats.jsonl"),
                "DISCORD_TOKEN": "fake-token",
                "NEWSBOT_DATA_DIR": str(self.work / "data"),
                "NEWSBOT_ALLOW_PRIVATE_URLS": "true",  # the feed site is on 127.0.0.1
                "NEWSBOT_FEED_INTERVAL_S": str(self.config.feed_interval_s),
                "NEWSBOT_DISCORD_FEED_POLL_S": "1",
                "NEWSBOT_DISCORD_RATE_LIMIT": "10000",
                "NEWSBOT_DISCORD_GUILD_RATE_LIMIT": "100000",
                "NEWSBOT_DISCORD_GUILD_READY_TIMEOUT": "0.2",
                "ANONYMIZED_TELEMETRY": "False",
            }
        )
        if self.config.model_cache:
            env["NEWSBOT_MODEL_CACHE_DIR"] = self.config.model_cache
        return env

    async def start_bot(self) -> None:
        log = (self.work / f"bot-{len(self.lifetimes)}.log").open("wb")
        before = {id(s) for s in self.fake._sessions}
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "soak_bot.py")],
            env=self.bot_env(),
            cwd=self.work,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started = time.perf_counter()
        while not any(id(s) not in before and s.intents for s in self.fake._sessions):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited ({self.proc.returncode}); see {log.name}")
            if time.perf_counter() - started > 300:
                raise RuntimeError(f"the bot did not connect in 300 s; see {log.name}")
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # GUILD_CREATEs, then on_ready after the ready timeout
        self.lifetimes.append(
            {"pid": self.proc.pid, "start": time.time(), "connect_s": time.perf_counter() - started}
        )
        self.dead.append(asyncio.Event())
        self.generation = len(self.dead) - 1
        self.bot_up.set()

    async def kill_and_restart(self) -> None:
        assert self.proc is not None
        await asyncio.sleep(0.5)  # let the questions just sent reach the bot: a kill mid-load
        self.bot_up.clear()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.lifetimes[-1]["end"] = time.time()
        self.lifetimes[-1]["killed"] = True
        self.dead[-1].set()
        await asyncio.sleep(0.5)  # the fake sees the socket close
        await self.start_bot()

    async def stop_bot(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(self.proc.wait, 60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.lifetimes[-1]["end"] = time.time()
        self.lifetimes[-1]["exit"] = self.proc.returncode

    async def driver_loop_lag(self) -> None:
        """The same 50 ms tick as the bot's monitor, on this (driver's) loop: a control. When
        both loops are late together, the machine was short of CPU, not the bot's loop held."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.05)
            self.driver_lags.append(loop.time() - started - 0.05)

    async def sample_rss(self) -> None:
        while True:
            proc = self.proc
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(OSError):
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                    kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
                    self.rss.append((time.time(), proc.pid, kb))
            await asyncio.sleep(1.0)

    # -- the run ---------------------------------------------------------------------------------

    def ingest(self) -> None:
        """The store the bot starts from: each server its BBC articles; and the ones its admin
        will add later, kept apart."""
        from retrieval.build import build_service
        from retrieval.config import Settings
        from retrieval.ingest.articles import article_from_dict

        records = [json.loads(line) for line in BBC.read_text("utf-8").splitlines() if line]
        self.rng.shuffle(records)
        short = [r for r in records if len(r["text"]) < 3000]
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=self.work / "data",
            chroma_url=None,
            model_cache_dir=Path(self.config.model_cache) if self.config.model_cache else None,
        )
        service = build_service(settings)
        try:
            per = self.config.articles_per_guild
            adds = max(8, self.config.questions // self.config.guilds // 2)
            for g, guild in enumerate(self.guilds):
                base = short[g * per : (g + 1) * per]
                later_from = self.config.guilds * per + g * adds
                self.to_add[g] = short[later_from : later_from + adds]
                service.add_many([article_from_dict(r) for r in base], kb=f"guild-{guild.id}")
                self.base_titles[g] = [r["title"] for r in base]
        finally:
            service.close()

    async def setup_servers(self) -> None:
        assert self.site is not None
        for g, guild in enumerate(self.guilds):
            story = town_story(g, prefix=f"/g{g}/news")
            url = self.site.add_feed(f"/g{g}/feed.xml", "rss", f"Server {g} Gazette", [story])
            self.stories[g].append((story.title, f"{self.site.base}{story.path}", time.time()))
            await self.command("set_threads", {"enabled": True}, g)
            await self.command("announce_feeds", {"channel": str(guild.channel_id)}, g)
            reply = await self.command("follow_feed", {"url": url}, g)
            assert "Following" in reply, reply

    async def run(self) -> dict[str, Any]:
        await asyncio.to_thread(self.ingest)
        with feed_site() as site:
            self.site = site
            async with self.fake:
                sampler = asyncio.create_task(self.sample_rss())
                lagger = asyncio.create_task(self.driver_loop_lag())
                try:
                    await self.start_bot()
                    await self.setup_servers()
                    self.started = time.perf_counter()
                    background = [
                        asyncio.create_task(self.admin(g)) for g in range(self.config.guilds)
                    ]
                    background.append(asyncio.create_task(self.feeder()))
                    across = asyncio.create_task(self.across_the_kill())
                    await asyncio.gather(*(self.member(i) for i in range(self.config.members)))
                    if self.kill_task is not None:
                        await self.kill_task
                        await across
                    else:
                        across.cancel()
                    self.done.set()
                    for task in background:
                        task.cancel()
                    await asyncio.gather(*background, return_exceptions=True)
                    elapsed = time.perf_counter() - self.started
                    self.settle_s = await self.feeds_settled()
                    await self.stop_bot()
                    with (self.work / "fake-messages.jsonl").open("w", encoding="utf-8") as out:
                        for message in self.fake.messages.values():
                            out.write(json.dumps(message) + "\n")
                finally:
                    if self.proc is not None and self.proc.poll() is None:
                        self.proc.kill()
                        self.proc.wait()
                    sampler.cancel()
                    lagger.cancel()
                return self.report(elapsed)

    # -- the report ------------------------------------------------------------------------------

    def report(self, elapsed: float) -> dict[str, Any]:
        kept = [q for q in self.questions if not q.cut]
        answered = [q for q in kept if q.answered is not None]
        lost = [q for q in kept if not self.answers.get(q.key) and not self.apologies.get(q.key)]
        doubled = [q for q in self.questions if len(self.answers.get(q.key, [])) > 1]
        cut = [q for q in self.questions if q.cut]
        cut_answered = [q for q in cut if self.answers.get(q.key)]
        latencies = sorted((q.answered - q.sent) * 1000 for q in answered if q.answered)
        across = [q for q in kept if q.across_kill]
        continued = [q for q in across if q.read_as and q.read_as != q.text]
        store = verify_store(self.work / "data", self)
        stats_file = self.work / "bot-stats.jsonl"
        lines = stats_file.read_text("utf-8").splitlines() if stats_file.exists() else []
        stats = [json.loads(line) for line in lines if line.strip()]
        result: dict[str, Any] = {
            "config": asdict(self.config) | {"work_dir": str(self.work)},
            "elapsed_s": round(elapsed, 1),
            "feeds_settled_s": round(self.settle_s, 1),
            "load_average_1min": {
                "start": round(self.load_start, 2),
                "end": round(os.getloadavg()[0], 2),
            },
            "driver_loop": {
                "block_max_ms": round(max(self.driver_lags, default=0) * 1000, 1),
                "blocks_over_100ms": sum(lag > 0.1 for lag in self.driver_lags),
                "ticks": len(self.driver_lags),
            },
            "questions": {
                "asked": len([q for q in self.questions if q.re_ask_of is None]),
                "re_asked_after_kill": len([q for q in self.questions if q.re_ask_of is not None]),
                "sent": len(self.questions),  # asked + re-asked
                "answered": len(answered),
                "lost": len(lost),
                "doubled": len(doubled),
                "apologies": sum(self.apologies.values()),
                "cut_by_kill": len(cut),
                "cut_answered_later": len(cut_answered),
                "by_kind": {
                    k: len([q for q in answered if q.kind == k])
                    for k in ("slash", "mention", "thread", "reply")
                },
                "lost_examples": [asdict(q) for q in lost[:3]],
                "doubled_examples": [asdict(q) for q in doubled[:3]],
            },
            "latency_ms": _percentiles(latencies),
            "latency_ms_by_process": {
                str(g): _percentiles(
                    sorted(
                        (q.answered - q.sent) * 1000
                        for q in answered
                        if q.answered and q.generation == g
                    )
                )
                for g in range(self.generation + 1)
            },
            "threads_across_kill": {"follow_ups": len(across), "continued": len(continued)},
            "follow_ups_without_thread": self.threads_missing,
            "processes": [self._lifetime(life, stats) for life in self.lifetimes],
            "admin": {
                "adds": len([o for o in self.admin_ops if o.kind == "add"]),
                "removes": len([o for o in self.admin_ops if o.kind == "remove"]),
                "in_flight_at_kill": [
                    f"{o.kind} {o.article_id}" for o in self.admin_ops if o.in_flight_at_kill
                ],
            },
            "store": store,
        }
        return result

    def _lifetime(self, life: dict[str, Any], stats: list[dict[str, Any]]) -> dict[str, Any]:
        pid = life["pid"]
        # from the moment it connected (the model and the store are loaded by then)
        rss = [kb / 1024 for t, p, kb in self.rss if p == pid and t >= life["start"]]
        mine = [s for s in stats if s["pid"] == pid]
        quarter = max(1, len(rss) // 4)
        lifetime: dict[str, Any] = {
            "pid": pid,
            "killed": bool(life.get("killed")),
            "seconds": round(life.get("end", time.time()) - life["start"], 1),
            "connect_s": round(life["connect_s"], 1),
            "rss_mb": {
                "first_quarter_median": round(statistics.median(rss[:quarter]), 1) if rss else None,
                "last_quarter_median": round(statistics.median(rss[-quarter:]), 1) if rss else None,
                "max": round(max(rss), 1) if rss else None,
                "samples": len(rss),
            },
        }
        if mine:
            q = max(1, len(mine) // 4)
            lifetime["asyncio_tasks"] = _series([s["tasks"] for s in mine], q)
            lifetime["threads"] = _series([s["threads"] for s in mine], q)
            lifetime["loop_block_max_ms"] = max(s["loop_block_max_ms"] for s in mine)
            lifetime["loop_blocks_over_100ms"] = sum(s["blocks_over_100ms"] for s in mine)
            lifetime["loop_ticks"] = sum(s["ticks"] for s in mine)
            lifetime["loop_blocks_seen_in"] = self._blocks(pid)
        return lifetime

    def _blocks(self, pid: int) -> dict[str, int]:
        """Where the watchdog found the loop's thread in each block over 100 ms, by its
        innermost frame: `selectors.py` means the loop had nothing to run and was waiting
        for the CPU (the GIL, or a core) after its select returned, not running a callback."""
        path = self.work / "bot-stats.jsonl.blocks"
        if not path.exists():
            return {}
        places: dict[str, int] = defaultdict(int)
        for block in path.read_text("utf-8").split("--- ")[1:]:
            head, _, stack = block.partition("\n")
            if head.split()[-1] != str(pid):
                continue
            frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', stack)
            if not frames:
                continue
            file, line, name = frames[-1]
            where = "waiting in select (CPU/GIL)" if file.endswith("selectors.py") else ""
            places[where or f"{Path(file).name}:{line} {name}"] += 1
        return dict(places)


def _series(values: list[int], quarter: int) -> dict[str, Any]:
    return {
        "first_quarter_max": max(values[:quarter]),
        "last_quarter_max": max(values[-quarter:]),
        "max": max(values),
        "last": values[-1],
    }


def _percentiles(ms: list[float]) -> dict[str, float | None]:
    if not ms:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    return {
        "n": len(ms),
        "p50": round(ms[len(ms) // 2], 1),
        "p95": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 1),
        "max": round(ms[-1], 1),
    }


def verify_store(data_dir: Path, soak: Soak) -> dict[str, Any]:
    """Open the store the bot left (after it stopped) and check it article by article."""
    from retrieval.build import build_service
    from retrieval.config import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        chroma_url=None,
        model_cache_dir=Path(soak.config.model_cache) if soak.config.model_cache else None,
    )
    service = build_service(settings)
    store = service.store
    broken: list[str] = []
    missing: list[str] = []
    not_removed: list[str] = []
    feed_duplicates: list[str] = []
    feed_missing: list[str] = []
    announced_twice: list[str] = []
    articles = 0
    try:
        for g, guild in enumerate(soak.guilds):
            kb = f"guild-{guild.id}"
            stored = service.list(kb=kb)
            articles += len(stored)
            for a in stored:
                chunks = store._collection(kb, "chunks").get(where={"article_id": a.id}, include=[])
                table = store.lexical._table(kb)
                rows = store.lexical._db.execute(
                    f"SELECT chunk_id FROM {table} WHERE article_id = ?", (a.id,)
                ).fetchall()
                if not (len(chunks["ids"]) == a.chunks == len(rows) > 0) or set(chunks["ids"]) != {
                    r[0] for r in rows
                }:
                    broken.append(f"{kb}/{a.id}")
            if store.lexical.count(kb) != store.count_chunks(kb):
                broken.append(f"{kb}: lexical rows {store.lexical.count(kb)} != chunks")
            ids = {a.id for a in stored}
            # article id -> its last admin action: "add" or "remove" as acknowledged, or
            # "uncertain" when the last was in flight at the kill (done or not: either way,
            # the article is whole or absent, checked above)
            final: dict[str, str] = {}
            for op in soak.admin_ops:
                if op.guild == g and op.article_id:
                    final[op.article_id] = (
                        "uncertain" if op.in_flight_at_kill else op.kind if op.reply else ""
                    )
            for article_id, kind in final.items():
                if kind == "add" and article_id not in ids:
                    missing.append(f"{kb}/{article_id}")
                if kind == "remove" and article_id in ids:
                    not_removed.append(f"{kb}/{article_id}")
            urls = [a.url for a in stored if a.url]
            for _, url, _ in soak.stories[g]:
                n = urls.count(url)
                if n > 1:
                    feed_duplicates.append(url)
                elif n == 0:
                    feed_missing.append(url)
            posts = [
                m["content"]
                for m in soak.fake.channel_messages(guild.channel_id)
                if m["author"]["id"] == soak.fake.bot_user["id"] and not m.get("components")
            ]
            for _, url, _ in soak.stories[g]:
                if sum(p.count(f"]({url})") + p.count(f"](<{url}>)") for p in posts) > 1:
                    announced_twice.append(url)
    finally:
        service.close()
    announced = sum(
        1
        for g, guild in enumerate(soak.guilds)
        for _, url, _ in soak.stories[g]
        if any(url in m["content"] for m in soak.fake.channel_messages(guild.channel_id))
    )
    return {
        "articles": articles,
        "not_whole": broken,
        "acknowledged_adds_missing": missing,
        "acknowledged_removes_present": not_removed,
        "feed_stories": sum(len(s) for s in soak.stories.values()),
        "feed_stories_stored_twice": feed_duplicates,
        "feed_stories_not_stored": feed_missing,
        "feed_stories_announced": announced,
        "feed_stories_announced_twice": announced_twice,
    }


@contextlib.contextmanager
def work_dir(config: SoakConfig) -> Iterator[Path]:
    if config.work_dir:
        path = Path(config.work_dir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="newsbot-soak-") as tmp:
            yield Path(tmp)


def run_soak(config: SoakConfig) -> dict[str, Any]:
    with work_dir(config) as work:
        return asyncio.run(Soak(config, work).run())


def render(result: dict[str, Any]) -> str:
    q, lat, store = result["questions"], result["latency_ms"], result["store"]
    c = result["config"]
    lines = [
        f"soak: {c['questions']} questions, {c['members']} members in {c['guilds']} servers, "
        f"{c['concurrency']} in flight at most, kill at half: {c['kill']} "
        f"({result['elapsed_s']} s)",
        f"  answered {q['answered']}  lost {q['lost']}  doubled {q['doubled']}  "
        f"apologies {q['apologies']}  (by kind: {q['by_kind']})",
        f"  cut by the kill {q['cut_by_kill']} (answered later by anyone: "
        f"{q['cut_answered_later']}), re-asked {q['re_asked_after_kill']}",
        f"  latency interaction → answer: p50 {lat['p50']} ms  p95 {lat['p95']} ms  "
        f"max {lat['max']} ms",
    ]
    for g, gl in result["latency_ms_by_process"].items():
        lines.append(f"    bot process {g}: p50 {gl['p50']} ms  p95 {gl['p95']} ms  (n={gl['n']})")
    across = result["threads_across_kill"]
    lines.append(
        f"  threads across the kill: {across['continued']} of {across['follow_ups']} follow-ups "
        "read with the thread's earlier turns"
    )
    for p in result["processes"]:
        rss = p["rss_mb"]
        lines.append(
            f"  process {p['pid']} ({'killed' if p['killed'] else 'stopped'} after "
            f"{p['seconds']} s): RSS {rss['first_quarter_median']} → "
            f"{rss['last_quarter_median']} MB (max {rss['max']})"
        )
        if "asyncio_tasks" in p:
            t, th = p["asyncio_tasks"], p["threads"]
            lines.append(
                f"    asyncio tasks {t['first_quarter_max']} → {t['last_quarter_max']} "
                f"(max {t['max']}), threads {th['first_quarter_max']} → "
                f"{th['last_quarter_max']} (max {th['max']}); loop blocked at most "
                f"{p['loop_block_max_ms']} ms ({p['loop_blocks_over_100ms']} of "
                f"{p['loop_ticks']} ticks over 100 ms)"
            )
            if p.get("loop_blocks_seen_in"):
                lines.append(f"    blocks over 100 ms seen in: {p['loop_blocks_seen_in']}")
    d, load = result["driver_loop"], result["load_average_1min"]
    lines.append(
        f"  control: the driver's own loop blocked at most {d['block_max_ms']} ms "
        f"({d['blocks_over_100ms']} of {d['ticks']} ticks over 100 ms); load average "
        f"{load['start']} → {load['end']} on {os.cpu_count()} cores"
    )
    a = result["admin"]
    lines.append(
        f"  admins: {a['adds']} adds, {a['removes']} removes (in flight at the kill: "
        f"{', '.join(a['in_flight_at_kill']) or 'none'})"
    )
    lines.append(
        f"  store: {store['articles']} articles; not whole {len(store['not_whole'])}, "
        f"acknowledged adds missing {len(store['acknowledged_adds_missing'])}, removes "
        f"still present {len(store['acknowledged_removes_present'])}; feed stories "
        f"{store['feed_stories']}: stored twice {len(store['feed_stories_stored_twice'])}, "
        f"not stored {len(store['feed_stories_not_stored'])}, announced "
        f"{store['feed_stories_announced']}, announced twice "
        f"{len(store['feed_stories_announced_twice'])}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--questions", type=int, default=None, help="default 1000 (--quick 40)")
    parser.add_argument("--members", type=int, default=None, help="default 50 (--quick 10)")
    parser.add_argument("--guilds", type=int, default=None, help="servers; default 5 (--quick 2)")
    parser.add_argument("--concurrency", type=int, default=None, help="questions in flight (4)")
    parser.add_argument("--no-kill", action="store_true", help="no SIGKILL and restart")
    parser.add_argument("--quick", action="store_true", help="40 questions in 2 servers")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    parser.add_argument("--work-dir", help="keep the store and the bot's logs here")
    parser.add_argument(
        "--model-cache",
        default=os.environ.get("NEWSBOT_MODEL_CACHE_DIR"),
        help="where the exported ONNX model is cached (default: NEWSBOT_MODEL_CACHE_DIR, else "
        "the usual place, DATA_DIR/models of your settings), so it is not exported again",
    )
    args = parser.parse_args()
    overrides = {
        k: v
        for k, v in {
            "questions": args.questions,
            "members": args.members,
            "guilds": args.guilds,
            "concurrency": args.concurrency,
        }.items()
        if v is not None
    }
    if args.model_cache is None:
        from retrieval.config import Settings

        settings = Settings()
        args.model_cache = str(settings.model_cache_dir or settings.data_dir / "models")
    overrides |= {"kill": not args.no_kill, "model_cache": args.model_cache}
    overrides["work_dir"] = args.work_dir
    config = quick_config(**overrides) if args.quick else SoakConfig(**overrides)
    result = run_soak(config)
    result["cores"] = os.cpu_count() or 0
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(json.dumps(result) if args.json else render(result))


if __name__ == "__main__":
    main()
