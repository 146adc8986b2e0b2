"""Discord abuse: rate limits per user and per server, editing permission checked by the bot
itself, no way from one server into another's knowledge base, and no way to reach local files
or private addresses (or to switch that protection off) through /add_article."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from discord_harness import (
    FESTIVAL_TEXT,
    SEED,
    ask_slash,
    discord_bot,
    followup,
    kb_of,
    news_service_fixture,  # noqa: F401 (registers the `news_service` fixture)
    slash,
)
from fakes import Clock, FakeEmbeddings
from loopback_http import serve

from bot.discord_bot import DiscordSettings
from bot.discord_bot.cogs import AskCog, LibraryCog
from bot.discord_bot.conversations import ConversationLog
from bot.discord_bot.rate_limit import RateLimiter
from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.errors import ArticleError
from retrieval.service import NewsService

# -- rate limits -------------------------------------------------------------------------------


def ask_cog(user_limit: int, guild_limit: int, clock: Clock) -> AskCog:
    return AskCog(
        None,  # type: ignore[arg-type]
        service=None,  # type: ignore[arg-type]
        options=DiscordSettings(),
        limiter=RateLimiter(user_limit, clock=clock),
        guild_limiter=RateLimiter(guild_limit, clock=clock),
        conversations=ConversationLog(),
    )


def test_a_server_has_its_own_limit_across_all_its_members() -> None:
    clock = Clock()
    cog = ask_cog(user_limit=2, guild_limit=5, clock=clock)
    guild, other_guild = 11, 22
    granted = [cog._wait(user, guild) == 0.0 for user in range(1, 9)]
    assert granted == [True] * 5 + [False] * 3  # eight members, one question each: five pass
    assert cog._wait(99, other_guild) == 0.0  # another server is not held back
    assert cog._wait(100, None) == 0.0  # direct messages count per user only
    clock.now += 61
    assert cog._wait(6, guild) == 0.0  # the window slides


def test_one_members_flood_is_stopped_by_their_own_limit_first() -> None:
    clock = Clock()
    cog = ask_cog(user_limit=2, guild_limit=5, clock=clock)
    assert [cog._wait(1, 11) == 0.0 for _ in range(10)] == [True, True] + [False] * 8
    assert all(cog._wait(user, 11) == 0.0 for user in (2, 3, 4))  # the server still has room


def test_the_server_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DiscordSettings(_env_file=None).guild_rate_limit == 60  # type: ignore[call-arg]
    monkeypatch.setenv("NEWSBOT_DISCORD_GUILD_RATE_LIMIT", "7")
    assert DiscordSettings(_env_file=None).guild_rate_limit == 7  # type: ignore[call-arg]


@pytest.mark.server
async def test_a_busy_server_is_slowed_down_and_the_others_are_not(
    news_service: NewsService,
) -> None:
    async with discord_bot(news_service, rate_limit=10, guild_rate_limit=2) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        news_service.add(SEED, kb=kb_of(fake, 1))
        await ask_slash(fake, "Who is Li Shangfu?")
        await ask_slash(fake, "Who is Lloyd Austin?", user=fake.admin)
        callback, _ = await slash(fake, "ask", {"question": "Who is Patrick Ryder?"})
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
        assert "try again in" in callback.json["data"]["content"]
        answer = await ask_slash(fake, "Who is Patrick Ryder?", guild_id=fake.guilds[1].id)
        assert "Ryder" in answer.json["content"]


# -- permissions, checked by the bot whatever Discord shows ----------------------------------


@pytest.mark.server
@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("add_article", {"text": FESTIVAL_TEXT}),
        ("add_article", {"url": "https://example.com/a"}),
        ("remove_article", {"id": SEED.id}),
    ],
)
async def test_a_crafted_interaction_without_the_permission_changes_nothing(
    news_service: NewsService, command: str, options: dict[str, Any]
) -> None:
    """Manage Server is not enough when the policy says administrators; and the member's
    permissions come from Discord's interaction, not from anything the member typed."""
    async with discord_bot(news_service, add_permission="administrator") as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        callback, _ = await slash(fake, command, options, user=fake.admin)
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
        assert "only administrators" in callback.json["data"]["content"]
        assert [a.id for a in news_service.list(kb=kb_of(fake))] == [SEED.id]
        # administrator (0x8) in the interaction's resolved permissions is what lets one in
        _, token = await slash(fake, "add_article", {"text": FESTIVAL_TEXT}, permissions="8")
        await followup(fake, token, "Added")


# -- one server cannot reach another's articles ------------------------------------------------


@pytest.mark.server
async def test_another_servers_article_cannot_be_removed_or_listed_by_any_id(
    news_service: NewsService,
) -> None:
    async with discord_bot(news_service) as (fake, _):
        theirs = kb_of(fake, 1)
        news_service.add(SEED, kb=theirs)
        chunk_id = news_service.retrieve("Li Shangfu", theirs, 1)[0].chunk_id
        for article_id in (SEED.id, f"`{SEED.id}`", chunk_id, f"{theirs}/{SEED.id}",
                           f"../{theirs}/{SEED.id}", "*", "%", "' OR 1=1 --"):  # fmt: skip
            _, token = await slash(fake, "remove_article", {"id": article_id}, user=fake.admin)
            assert (
                "No article with id" in (await followup(fake, token, "No article")).json["content"]
            )
        assert [a.id for a in news_service.list(kb=theirs)] == [SEED.id]
        _, token = await slash(fake, "articles", {}, user=fake.admin)
        listing = await followup(fake, token)
        assert SEED.id not in str(listing.json) and "Shangri-La" not in str(listing.json)
        answer = await ask_slash(fake, "Who is Li Shangfu?")
        assert SEED.id not in str(answer.json)


# -- URLs from Discord --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewsService]:
    """A service with the shipped defaults: private URLs refused (nothing here is asked, so
    the fake embedder does)."""
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("default"))  # type: ignore[call-arg]
    assert settings.allow_private_urls is False
    service = build_service(settings, embeddings=FakeEmbeddings())  # type: ignore[arg-type]
    yield service
    service.close()


@pytest.mark.parametrize(
    "source", ["/etc/passwd", "file:///etc/passwd", "~/.ssh/id_rsa", ".env", "FILE:/etc/hosts"]
)
def test_the_service_fetches_urls_only_never_paths(
    default_service: NewsService, source: str
) -> None:
    with pytest.raises(ArticleError, match="only http:// and https://"):
        default_service.fetch(source)


@pytest.mark.server
async def test_add_article_refuses_a_loopback_url_with_the_shipped_settings(
    default_service: NewsService,
) -> None:
    hits: list[str] = []

    class Recording(dict):
        def get(self, path: str, default: Any = None) -> Any:
            hits.append(path)
            return super().get(path, default)

    page = f"<html><body><article><p>{FESTIVAL_TEXT}</p></article></body></html>".encode()
    with serve(Recording({"/swim": (200, {"Content-Type": "text/html"}, page)})) as base:
        async with discord_bot(default_service) as (fake, _):
            for url in (f"{base}/swim", f"http://localhost:{base.rsplit(':', 1)[1]}/swim"):
                _, token = await slash(fake, "add_article", {"url": url}, user=fake.admin)
                reply = (await followup(fake, token, "couldn't")).json["content"]
                assert "refusing to fetch from a private or local address" in reply
            assert default_service.list(kb=kb_of(fake)) == []
    assert hits == []  # refused before connecting


def test_no_command_can_switch_private_urls_on() -> None:
    """What a member can send is the commands' parameters: none of them is a setting."""
    cogs = [
        LibraryCog(service=None, options=DiscordSettings()),  # type: ignore[arg-type]
        ask_cog(1, 1, Clock()),
    ]
    parameters = {
        (command.name, parameter.display_name)
        for cog in cogs
        for command in cog.__cog_app_commands__
        for parameter in command.parameters  # type: ignore[union-attr]
    }
    assert parameters == {
        ("add_article", "url"),
        ("add_article", "text"),
        ("add_article", "title"),
        ("add_article", "file"),
        ("add_article", "published_at"),
        ("add_article", "source"),
        ("articles", "page"),
        ("remove_article", "id"),
        ("ask", "question"),
    }
    assert "allow_private_urls" not in DiscordSettings.model_fields
    settings_fields: set[str] = set(Settings.model_fields)
    assert not {name for _, name in parameters} & settings_fields - {"title"}


class RecordingCalls:
    """The real service, recording the name of every method the bot calls on it."""

    def __init__(self, inner: NewsService) -> None:
        self.inner = inner
        self.called: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.called.append(name)
            return attribute(*args, **kwargs)

        return call


@pytest.mark.server
async def test_no_path_or_file_url_sent_to_the_bot_reads_a_local_file(
    default_service: NewsService, tmp_path: Path
) -> None:
    """A member names a file on the bot's machine every way a path can be written: each is
    refused, nothing is read, stored or shown, and the bot never asks the service to load."""
    secret = tmp_path / "secret.txt"  # in the bot's working directory, too
    secret.write_text("Launch codes\n\nThe launch code is 0451-SECRET.", "utf-8")
    sources = [str(secret), f"file://{secret}", f"FILE:{secret}", "secret.txt", "./secret.txt"]
    service = RecordingCalls(default_service)
    replies: dict[str, str] = {}
    async with discord_bot(service) as (fake, _):
        for source in sources:
            callback, token = await slash(fake, "add_article", {"url": source}, user=fake.admin)
            if callback.json["type"] == 5:  # deferred: the bot went on with the source
                replies[source] = (await followup(fake, token)).json["content"]
            else:
                replies[source] = callback.json["data"]["content"]
        assert default_service.list(kb=kb_of(fake)) == []
        assert "0451-SECRET" not in json.dumps([call.json for call in fake.calls])
    assert not {"load", "ingest", "fetch", "add"} & set(service.called)
    assert all("must be a web address" in reply for reply in replies.values()), replies
