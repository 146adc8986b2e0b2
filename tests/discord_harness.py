"""What the end-to-end Discord tests share: the real service, thin wrappers around it that
implement the same interface, and helpers to drive the fake Discord and read what the bot sent.

The service is the real one (embedding model, embedded Chroma in a temporary folder), built once
per test module on the run's one loaded model (the `embeddings` fixture of conftest.py). Every
FakeDiscord starts with two fresh guilds, so each test works on knowledge bases no other test
has touched. Register the `news_service` fixture in a test module with
``from discord_harness import news_service_fixture  # noqa: F401``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from importlib import resources
from typing import Any

import pytest
from fake_discord import Call, FakeDiscord, FakeGuild, running_bot, shard_of

from bot.discord_bot import DiscordSettings, NewsBot, build_bot
from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.ingest.articles import article_from_dict
from retrieval.service import NewsService
from retrieval.types import (
    ABSTAIN_TEXT,
    AddResult,
    Answer,
    Article,
    Citation,
    Feed,
    Feedback,
    PollReport,
    ServerSettings,
    StoredArticle,
    Turn,
)

SEED = article_from_dict(
    json.loads(resources.files("retrieval").joinpath("demo/seed_article.json").read_text("utf-8"))
)
FESTIVAL_TEXT = (
    "The annual Lake Zurich swim festival drew 3,000 swimmers on Sunday, organisers said. "
    "The crossing covers 1.5 kilometres from Mönchhof to Kilchberg. "
    "Water temperature was 23 degrees, ideal for the race."
)


# -- the service: real, and thin wrappers that implement the same interface ------------------


@pytest.fixture(name="news_service", scope="module")
def news_service_fixture(
    tmp_path_factory: pytest.TempPathFactory, embeddings: SentenceEmbeddings
) -> Iterator[NewsService]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("newsbot-discord"),
        chroma_url=None,
        llm="extractive",
        allow_private_urls=True,  # the URL test serves its page from 127.0.0.1
    )
    service = build_service(settings, embeddings=embeddings)
    yield service
    service.close()


class DelegatingService:
    """Passes every call to the real service; subclasses change what they test."""

    def __init__(self, inner: NewsService) -> None:
        self.inner = inner

    def ask(
        self, question: str, *, kb: str, k: int | None = None, history: Sequence[Turn] = ()
    ) -> Answer:
        return self.inner.ask(question, kb=kb, k=k, history=history)

    def add(self, article: Article, *, kb: str) -> AddResult:
        return self.inner.add(article, kb=kb)

    def fetch(self, url: str) -> Article:
        return self.inner.fetch(url)

    def list(self, *, kb: str) -> list[StoredArticle]:
        return self.inner.list(kb=kb)

    def remove(self, article_id: str, *, kb: str) -> bool:
        return self.inner.remove(article_id, kb=kb)

    def server_settings(self, guild_id: int) -> ServerSettings:
        return self.inner.server_settings(guild_id)

    def save_server_settings(self, guild_id: int, settings: ServerSettings) -> None:
        self.inner.save_server_settings(guild_id, settings)

    def record_feedback(self, feedback: Feedback) -> Feedback:
        return self.inner.record_feedback(feedback)

    def feedback(self, guild_id: int, *, limit: int = 10) -> list[Feedback]:
        return self.inner.feedback(guild_id, limit=limit)

    def follow_feed(
        self, url: str, *, kb: str, guild_id: int | None = None, interval_s: int | None = None
    ) -> tuple[Feed, bool]:
        return self.inner.follow_feed(url, kb=kb, guild_id=guild_id, interval_s=interval_s)

    def feeds_followed(self, *, kb: str | None = None, guild_id: int | None = None) -> list[Feed]:
        return self.inner.feeds_followed(kb=kb, guild_id=guild_id)

    def unfollow_feed(
        self, feed: str, *, kb: str | None = None, guild_id: int | None = None
    ) -> Feed | None:
        return self.inner.unfollow_feed(feed, kb=kb, guild_id=guild_id)

    def poll_feeds(
        self,
        *,
        due_only: bool = True,
        on_report: Callable[[PollReport], None] | None = None,
        guilds: Callable[[int | None], bool] | None = None,
    ) -> list[PollReport]:
        return self.inner.poll_feeds(due_only=due_only, on_report=on_report, guilds=guilds)

    def latest(self, topic: str | None = None, *, kb: str, days: int = 7) -> list[Citation]:
        return self.inner.latest(topic, kb=kb, days=days)


class RecordingService(DelegatingService):
    """Records every question with the history it came with, and the answer."""

    def __init__(self, inner: NewsService) -> None:
        super().__init__(inner)
        self.asked: list[tuple[str, list[Turn], Answer]] = []

    def ask(
        self, question: str, *, kb: str, k: int | None = None, history: Sequence[Turn] = ()
    ) -> Answer:
        answer = super().ask(question, kb=kb, k=k, history=history)
        self.asked.append((question, list(history), answer))
        return answer


class FailingOnceService(DelegatingService):
    """Its first question blows up, as a bug or a dead disk would; the rest are answered."""

    def __init__(self, inner: NewsService) -> None:
        super().__init__(inner)
        self.failures_left = 1

    def ask(
        self, question: str, *, kb: str, k: int | None = None, history: Sequence[Turn] = ()
    ) -> Answer:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("the index is on fire")
        return super().ask(question, kb=kb, k=k, history=history)


class LongAnswerService(DelegatingService):
    """Answers at great length: 40 long cited sentences and 12 sources with long quotes."""

    def ask(
        self, question: str, *, kb: str, k: int | None = None, history: Sequence[Turn] = ()
    ) -> Answer:
        sentence = "The delegation met again and " + "talked at length " * 12 + "about it."
        text = " ".join(f"{sentence} [{i % 12 + 1}]" for i in range(40))
        citations = [
            Citation(
                n=n,
                article_id=f"a{n}",
                title=f"Title {n} " + "x" * 180,
                source="Wire",
                url=f"https://example.com/{n}",
                published_at="2024-01-02",
                quote="A long quote " * 40,
                chunk_id=f"a{n}:0",
            )
            for n in range(1, 13)
        ]
        return Answer(question, text, False, citations, [], "long")


# -- helpers ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def discord_bot(
    service: Any, *, guilds: list[FakeGuild] | None = None, **options: Any
) -> AsyncIterator[tuple[FakeDiscord, NewsBot]]:
    """A fake Discord (with `guilds`, else two) with the newsbot bot connected to it."""
    async with FakeDiscord(guilds) as fake:
        bot = build_bot(
            service=service, options=DiscordSettings(guild_ready_timeout=0.05, **options)
        )
        async with running_bot(bot, fake):
            yield fake, bot
        assert fake.blocked == []
        assert [c for c in fake.calls if c.status >= 400] == []


def guild_on(shard: int, shard_count: int) -> FakeGuild:
    """A server whose events Discord sends to `shard` (of `shard_count`)."""
    guild = FakeGuild(f"Shard {shard} server")
    while shard_of(guild.id, shard_count) != shard:
        guild = FakeGuild(f"Shard {shard} server", id=guild.id + (1 << 22))
    return guild


def kb_of(fake: FakeDiscord, guild: int = 0) -> str:
    return f"guild-{fake.guilds[guild].id}"


def unescape(text: str) -> str:
    """Undo Discord markdown escaping, to compare shown text with the article."""
    return re.sub(r"\\(.)", r"\1", text)


def quotes_in(call: Call) -> list[str]:
    """The verbatim quotes shown in the sources embeds (without the '…' of a shortened one)."""
    descriptions = "\n".join(e.get("description") or "" for e in call.json.get("embeds", []))
    return [
        unescape(m.group(1)).removesuffix("…")
        for m in re.finditer(r"^> \*\*\[\d+\]\*\* “(.*)”$", descriptions, re.M)
    ]


def cited_numbers(call: Call) -> set[int]:
    descriptions = "\n".join(e.get("description") or "" for e in call.json.get("embeds", []))
    return {int(n) for n in re.findall(r"^> \*\*\[(\d+)\]\*\*", descriptions, re.M)}


async def slash(
    fake: FakeDiscord, command: str, options: dict[str, Any], **kwargs: Any
) -> tuple[Call, str]:
    """Run a slash command; return the bot's interaction callback and the interaction token."""
    payload = await fake.send_interaction(command, options, **kwargs)
    token = payload["token"]
    callback = await fake.wait_for_call(
        lambda c: c.matches("POST", f"/interactions/*/{token}/callback")
    )
    return callback, token


async def followup(fake: FakeDiscord, token: str, contains: str = "") -> Call:
    return await fake.wait_for_call(
        lambda c: (
            c.matches("POST", f"/webhooks/*/{token}")
            and contains in (c.json.get("content") or "") + json.dumps(c.json.get("embeds"))
        )
    )


async def ask_slash(fake: FakeDiscord, question: str, **kwargs: Any) -> Call:
    """/ask and the bot's (last) answer message: the one carrying the sources, if any."""
    callback, token = await slash(fake, "ask", {"question": question}, **kwargs)
    assert callback.json["type"] == 5  # deferred at once
    return await fake.wait_for_call(
        lambda c: (
            c.matches("POST", f"/webhooks/*/{token}")
            and (bool(c.json.get("embeds")) or ABSTAIN_TEXT in c.json.get("content", ""))
        )
    )


async def mention(fake: FakeDiscord, text: str, guild: int = 0, **kwargs: Any) -> dict[str, Any]:
    channel = fake.guilds[guild].channel_id
    return await fake.send_message(channel, f"{fake.mention(fake.bot_user)} {text}", **kwargs)


async def reply_to(fake: FakeDiscord, message: dict[str, Any]) -> Call:
    return await fake.wait_for_call(
        lambda c: (
            c.matches("POST", f"/channels/{message['channel_id']}/messages")
            and str((c.json.get("message_reference") or {}).get("message_id")) == message["id"]
        )
    )


def sent_message(fake: FakeDiscord, call: Call) -> dict[str, Any]:
    """The message the fake created for a POST the bot made."""
    return next(
        m
        for m in reversed(fake.messages.values())
        if m["author"]["id"] == fake.bot_user["id"] and m["content"] == call.json.get("content")
    )
