"""The Discord bot's settings (`NEWSBOT_DISCORD_*`, and `DISCORD_TOKEN`), and who may do what."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import discord
from pydantic import Field, PositiveInt, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "AddPermission",
    "DiscordSettings",
    "feeds_polled_by",
    "knowledge_base_for",
    "may_edit_articles",
    "parse_shard_ids",
    "shard_of",
]

AddPermission = Literal["manage_guild", "administrator", "everyone"]


class DiscordSettings(BaseSettings):
    """How the Discord bot behaves; read once by `run_bot`, then handed to the bot."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_DISCORD_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    token: SecretStr | None = Field(
        default=None,
        validation_alias="DISCORD_TOKEN",
        description="The Discord bot token (DISCORD_TOKEN).",
    )
    rate_limit: int = Field(
        default=5,
        ge=0,
        description="Questions each Discord user may ask per minute (0 = no limit).",
    )
    guild_rate_limit: int = Field(
        default=60,
        ge=0,
        description="Questions all the members of one Discord server together may ask per "
        "minute (0 = no limit); keeps one busy or hostile server from starving the others.",
    )
    add_rate_limit: int = Field(
        default=20,
        ge=0,
        description="Adds each Discord user may make per hour (0 = no limit): /add_article "
        "and /follow_feed each count as one, refused before anything is fetched.",
    )
    guild_add_rate_limit: int = Field(
        default=60,
        ge=0,
        description="Adds all the members of one Discord server together may make per hour "
        "(0 = no limit); /add_article and /follow_feed each count as one.",
    )
    add_permission: AddPermission = Field(
        default="manage_guild",
        description="Who may add and remove a server's articles: members with Manage Server, "
        "administrators only, or everyone.",
    )
    dm_kb: str | None = Field(
        default=None,
        description="Knowledge base that direct messages to the bot use; unset = DMs are declined.",
    )
    sync_guild: int | None = Field(
        default=None,
        description="Sync slash commands to this one server id only (shows at once; for "
        "development); unset = sync them globally.",
    )
    shards: Literal["auto"] | PositiveInt | None = Field(
        default=None,
        description="Sharding: unset = one gateway connection; 'auto' = as many shards as "
        "Discord recommends; a number = that many (Discord requires shards from 2,500 servers).",
    )
    shard_ids: str | None = Field(
        default=None,
        description="The shards this process runs, as '0-3' or '0,2' (several bot processes, "
        "each a range, sharing one Chroma server); needs NEWSBOT_DISCORD_SHARDS set to the "
        "total count. Unset = all of them.",
    )
    max_feeds: int = Field(
        default=10,
        ge=0,
        description="Feeds one Discord server may follow at most (/follow_feed).",
    )
    poll_feeds: bool = Field(
        default=True,
        description="Poll the followed feeds from the bot (each on its interval) and post "
        "new headlines where servers asked; off when `newsbot watch` polls them instead.",
    )
    feed_poll_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between the bot's looks for feeds that are due (each feed has "
        "its own interval, NEWSBOT_FEED_INTERVAL_S).",
    )
    guild_ready_timeout: float = Field(
        default=2.0,
        gt=0,
        description="Seconds discord.py waits after the last server arrives before the bot is "
        "ready (tests shorten it).",
    )

    @field_validator("shard_ids")
    @classmethod
    def _shard_ids_form(cls, value: str | None) -> str | None:
        if value is not None and parse_shard_ids(value) is None:
            raise ValueError("write shard ids as '0-3' or '0,2' (numbers from 0)")
        return value

    @model_validator(mode="after")
    def _shard_ids_in_count(self) -> DiscordSettings:
        if self.shard_ids is None:
            return self
        if not isinstance(self.shards, int):
            raise ValueError(
                "NEWSBOT_DISCORD_SHARD_IDS needs NEWSBOT_DISCORD_SHARDS set to the total "
                "number of shards (a number, not 'auto')"
            )
        outside = [i for i in self.shard_list or () if i >= self.shards]
        if outside:
            raise ValueError(
                f"shard {outside[0]} is not below NEWSBOT_DISCORD_SHARDS={self.shards} "
                f"(shards are numbered 0 to {self.shards - 1})"
            )
        return self

    @property
    def shard_list(self) -> list[int] | None:
        """The shards this process runs (None: all of them)."""
        return None if self.shard_ids is None else parse_shard_ids(self.shard_ids)

    @property
    def required_permissions(self) -> discord.Permissions | None:
        """What Discord should require by default to see the editing commands (None: anyone).

        Server admins can change this per role in Server Settings → Integrations; the bot
        checks again itself, because that setting is only a default it cannot rely on.
        """
        if self.add_permission == "everyone":
            return None
        return discord.Permissions(**{self.add_permission: True})


_SHARD_PART = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


def parse_shard_ids(text: str) -> list[int] | None:
    """'0-3' → [0, 1, 2, 3]; '0,2' → [0, 2]; parts may mix ('0-1,4'). None if malformed."""
    ids: set[int] = set()
    for part in text.split(","):
        found = _SHARD_PART.fullmatch(part)
        if found is None:
            return None
        first = int(found.group(1))
        last = int(found.group(2)) if found.group(2) else first
        if last < first:
            return None
        ids.update(range(first, last + 1))
    return sorted(ids)


def shard_of(guild_id: int, shard_count: int) -> int:
    """Which shard Discord sends a server's events to (the gateway docs' sharding formula)."""
    return (guild_id >> 22) % shard_count


def feeds_polled_by(options: DiscordSettings) -> Callable[[int | None], bool] | None:
    """Which feeds this bot process polls, by the server that follows them: all (None)
    unless it runs a range of the shards; then its own servers' feeds, and the shell's
    (no server) only if it runs shard 0. Several processes on one data folder would each
    claim any due feed (leases keep them from polling one twice), but a process can only
    see the channels of its own servers, so it could not announce another's new articles."""
    shards, count = options.shard_list, options.shards
    if shards is None or not isinstance(count, int):
        return None
    mine = frozenset(shards)

    def polls(guild_id: int | None) -> bool:
        return 0 in mine if guild_id is None else shard_of(guild_id, count) in mine

    return polls


def knowledge_base_for(guild_id: int | None, dm_kb: str | None) -> str | None:
    """Each server its own knowledge base; direct messages only the configured one (or none)."""
    return f"guild-{guild_id}" if guild_id is not None else dm_kb


def may_edit_articles(permissions: discord.Permissions, policy: AddPermission) -> bool:
    """Whether a member with these (channel-resolved) permissions may add or remove articles."""
    if policy == "everyone" or permissions.administrator:
        return True
    return policy == "manage_guild" and permissions.manage_guild
