"""The Discord bot's small parts: options from settings, permissions, knowledge bases, the rate
limit, the conversation log, and turning uploads into articles."""

from __future__ import annotations

import json
import time
from pathlib import Path

import discord
import pytest
from click.testing import CliRunner
from fakes import Clock
from pydantic import ValidationError

from bot.cli import main
from bot.discord_bot.conversations import ConversationLog
from bot.discord_bot.rate_limit import RateLimiter
from bot.discord_bot.settings import (
    DiscordSettings,
    feeds_polled_by,
    knowledge_base_for,
    may_edit_articles,
    parse_shard_ids,
)
from retrieval.errors import ArticleError
from retrieval.feeds.records import FeedRecords
from retrieval.ingest.uploads import article_from_text, articles_from_file
from retrieval.types import Turn

# -- options and settings -------------------------------------------------------------------


def test_newsbot_discord_without_a_token_says_what_to_set() -> None:
    result = CliRunner().invoke(main, ["discord"], env={"DISCORD_TOKEN": ""})
    assert result.exit_code == 1
    assert result.output.startswith("error: set DISCORD_TOKEN")
    assert result.output.count("\n") == 1


def test_discord_settings_have_sensible_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISCORD_TOKEN", "NEWSBOT_DISCORD_SHARDS", "NEWSBOT_DISCORD_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    settings = DiscordSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.token is None and settings.shards is None
    assert settings.rate_limit == 5 and settings.add_permission == "manage_guild"


def test_discord_settings_load_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "s3cret-token")
    monkeypatch.setenv("NEWSBOT_DISCORD_RATE_LIMIT", "2")
    monkeypatch.setenv("NEWSBOT_DISCORD_ADD_PERMISSION", "everyone")
    monkeypatch.setenv("NEWSBOT_DISCORD_DM_KB", "default")
    monkeypatch.setenv("NEWSBOT_DISCORD_SYNC_GUILD", "1234567890")
    monkeypatch.setenv("NEWSBOT_DISCORD_SHARDS", "auto")
    settings = DiscordSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.token is not None
    assert settings.token.get_secret_value() == "s3cret-token"
    assert "s3cret" not in repr(settings)
    assert (settings.rate_limit, settings.add_permission) == (2, "everyone")
    assert (settings.dm_kb, settings.sync_guild, settings.shards) == ("default", 1234567890, "auto")
    monkeypatch.setenv("NEWSBOT_DISCORD_SHARDS", "4")
    assert DiscordSettings(_env_file=None).shards == 4  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWSBOT_DISCORD_ADD_PERMISSION", "moderators"),
        ("NEWSBOT_DISCORD_SHARDS", "0"),
        ("NEWSBOT_DISCORD_SHARDS", "many"),
        ("NEWSBOT_DISCORD_RATE_LIMIT", "-1"),
    ],
)
def test_invalid_discord_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        DiscordSettings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("text", "ids"),
    [("0", [0]), ("0-3", [0, 1, 2, 3]), ("0,2", [0, 2]), (" 4 - 5 , 1", [1, 4, 5]), ("1,1", [1])],
)
def test_shard_ids_are_read_as_ranges_and_lists(text: str, ids: list[int]) -> None:
    assert parse_shard_ids(text) == ids
    assert DiscordSettings(_env_file=None, shards=6, shard_ids=text).shard_list == ids  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("shards", "shard_ids", "says"),
    [
        (None, "0-1", "NEWSBOT_DISCORD_SHARDS"),  # a range without a count
        ("auto", "0", "NEWSBOT_DISCORD_SHARDS"),  # the count must be known
        (2, "2", "shard 2 is not below NEWSBOT_DISCORD_SHARDS=2"),
        (2, "1-0", "write shard ids as"),
        (2, "0;1", "write shard ids as"),
        (2, "", "write shard ids as"),
    ],
)
def test_shard_ids_that_cannot_be_run_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, shards: object, shard_ids: str, says: str
) -> None:
    if shards is not None:
        monkeypatch.setenv("NEWSBOT_DISCORD_SHARDS", str(shards))
    monkeypatch.setenv("NEWSBOT_DISCORD_SHARD_IDS", shard_ids)
    result = CliRunner().invoke(main, ["discord"], env={"DISCORD_TOKEN": "x"})
    assert result.exit_code == 1
    assert result.output.startswith("error: invalid setting") and says in result.output
    assert result.output.count("\n") == 1


def test_a_process_with_some_shards_polls_its_own_servers_feeds(tmp_path: Path) -> None:
    on_0, on_1 = 8 << 22, 7 << 22  # shard (id >> 22) % 2: 0 and 1
    records = FeedRecords(tmp_path / "feeds.sqlite3")
    for guild_id in (on_0, on_1, None):
        records.add(
            kb="k", url=f"https://x.test/{guild_id}", title="", guild_id=guild_id, interval_s=60
        )
    first = DiscordSettings(_env_file=None, shards=2, shard_ids="0")  # type: ignore[call-arg]
    second = DiscordSettings(_env_file=None, shards=2, shard_ids="1")  # type: ignore[call-arg]
    claimed = records.claim(now=time.time(), lease_s=1800, guilds=feeds_polled_by(second))
    assert [f.guild_id for f in claimed] == [on_1]
    claimed = records.claim(now=time.time(), lease_s=1800, guilds=feeds_polled_by(first))
    assert sorted(f.guild_id or 0 for f in claimed) == [0, on_0]  # and the shell's feed
    assert feeds_polled_by(DiscordSettings(_env_file=None, shards=2)) is None  # type: ignore[call-arg]
    assert records.claim(now=time.time(), lease_s=1800) == []  # all three are claimed
    records.close()


@pytest.mark.parametrize(
    ("guild_id", "dm_kb", "kb"),
    [(42, None, "guild-42"), (42, "default", "guild-42"), (None, "default", "default"), (None, None, None)],
)  # fmt: skip
def test_each_server_has_its_own_knowledge_base(
    guild_id: int | None, dm_kb: str | None, kb: str | None
) -> None:
    assert knowledge_base_for(guild_id, dm_kb) == kb


@pytest.mark.parametrize(
    ("permissions", "policy", "allowed"),
    [
        (discord.Permissions.none(), "manage_guild", False),
        (discord.Permissions(manage_guild=True), "manage_guild", True),
        (discord.Permissions(administrator=True), "manage_guild", True),
        (discord.Permissions(manage_guild=True), "administrator", False),
        (discord.Permissions(administrator=True), "administrator", True),
        (discord.Permissions.none(), "everyone", True),
    ],
)
def test_who_may_edit_articles(
    permissions: discord.Permissions, policy: str, allowed: bool
) -> None:
    assert may_edit_articles(permissions, policy) is allowed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "required"),
    [("manage_guild", 0x20), ("administrator", 0x8), ("everyone", None)],
)
def test_discord_hides_editing_commands_from_others_by_default(
    policy: str, required: int | None
) -> None:
    permissions = DiscordSettings(add_permission=policy).required_permissions  # type: ignore[arg-type]
    assert (permissions.value if permissions else None) == required


# -- rate limit ------------------------------------------------------------------------------


def test_rate_limit_is_a_sliding_window_per_user() -> None:
    clock = Clock()
    limiter = RateLimiter(2, window_s=60, clock=clock)
    assert limiter.acquire(1) == 0
    clock.now += 10
    assert limiter.acquire(1) == 0
    clock.now += 10
    assert limiter.acquire(1) == pytest.approx(40)  # the first question leaves the window at 60 s
    assert limiter.acquire(2) == 0  # someone else is not held back
    clock.now += 40
    assert limiter.acquire(1) == 0
    assert limiter.acquire(1) == pytest.approx(10)  # the refusal above was not counted


def test_a_rate_limit_of_zero_means_no_limit() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.acquire(1) == 0 for _ in range(100))


def test_rate_limit_forgets_idle_users() -> None:
    clock = Clock()
    limiter = RateLimiter(1, window_s=60, clock=clock)
    for user in range(10_001):
        limiter.acquire(user)
    clock.now += 61
    limiter.acquire(-1)
    assert len(limiter._asked) == 1


# -- conversation log ------------------------------------------------------------------------


def test_the_log_rebuilds_a_reply_chain_oldest_first() -> None:
    log = ConversationLog()
    log.remember([1, 2], Turn("What did China decline?", "A meeting."), follows=None)
    log.remember([3], Turn("why? (What did China decline?)", "Strained relations."), follows=2)
    assert 1 in log and 3 in log and 4 not in log
    assert [t.question for t in log.history(3)] == [
        "What did China decline?",
        "why? (What did China decline?)",
    ]
    assert [t.question for t in log.history(1)] == ["What did China decline?"]
    assert log.history(99) == [] and log.history(None) == []


def test_the_log_is_bounded() -> None:
    log = ConversationLog(max_messages=3, max_turns=2)
    for n in range(1, 6):
        log.remember([n], Turn(f"q{n}"), follows=n - 1 or None)
    assert len(log) == 3 and 2 not in log
    assert [t.question for t in log.history(5)] == ["q4", "q5"]


# -- uploads ---------------------------------------------------------------------------------

BODY = "The council approved the new bridge on Monday. Work starts in spring."


@pytest.mark.parametrize(
    ("filename", "data", "title"),
    [
        ("a.txt", f"Bridge approved\n{BODY}", "Bridge approved"),
        ("a.md", f"# Bridge approved\n\n{BODY}", "Bridge approved"),
        ("A.MD", f"# Bridge approved\n\n{BODY}", "Bridge approved"),
        ("a.json", json.dumps({"title": "Bridge approved", "text": BODY}), "Bridge approved"),
        (
            "a.html",
            f"<html><head><title>Bridge approved</title></head><body><article><h1>Bridge "
            f"approved</h1><p>{BODY}</p></article></body></html>",
            "Bridge approved",
        ),
    ],
)
def test_articles_from_each_kind_of_file(filename: str, data: str, title: str) -> None:
    [article] = articles_from_file(filename, data.encode())
    assert article.title == title and "new bridge" in article.text


def test_a_json_list_is_several_articles_and_a_title_renames_one() -> None:
    records = [{"title": f"T{n}", "text": f"{BODY} ({n})"} for n in range(3)]
    assert [a.title for a in articles_from_file("x.json", json.dumps(records).encode())] == [
        "T0",
        "T1",
        "T2",
    ]
    [article] = articles_from_file("x.txt", BODY.encode(), title="  Better title ")
    assert article.title == "Better title"


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("a.pdf", b"%PDF-1.4", "unsupported file type"),
        ("a.txt", b"", "empty"),
        ("a.txt", b"\x00\x01binary", "binary"),
        ("a.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("a.json", b"{not json", "invalid JSON"),
        ("a.json", b"[]", "no articles"),
        ("a.json", b'{"title": "no text"}', "text"),
        ("a.json", json.dumps([{"text": "x"}] * 101).encode(), "at most 100"),
    ],
)
def test_bad_uploads_are_explained(filename: str, data: bytes, message: str) -> None:
    with pytest.raises(ArticleError, match=message):
        articles_from_file(filename, data)


def test_pasted_text_takes_its_headline_from_a_short_first_line_or_the_title() -> None:
    assert article_from_text(f"Bridge approved\n{BODY}").title == "Bridge approved"
    assert article_from_text(BODY, "Council vote").title == "Council vote"
    with pytest.raises(ArticleError):
        article_from_text("   ")


def test_the_bots_log_leaves_out_httpx_request_lines() -> None:
    import logging

    from bot.discord_bot.app import setup_logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        setup_logging()
        assert logging.getLogger("newsbot.discord").isEnabledFor(logging.INFO)
        assert logging.getLogger("discord.gateway").isEnabledFor(logging.INFO)
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)  # a line per search
        assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        logging.getLogger("httpx").setLevel(logging.NOTSET)
