"""How the Discord bot behaves, as plain values derived once from settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import discord

if TYPE_CHECKING:
    from retrieval.config import Settings

__all__ = ["AddPermission", "DiscordOptions", "knowledge_base_for", "may_edit_articles"]

AddPermission = Literal["manage_guild", "administrator", "everyone"]


@dataclass(frozen=True)
class DiscordOptions:
    rate_limit: int = 5  # questions per user per minute; 0 = unlimited
    guild_rate_limit: int = 60  # questions per server per minute; 0 = unlimited
    add_permission: AddPermission = "manage_guild"
    dm_kb: str | None = None
    sync_guild: int | None = None  # None = sync slash commands globally
    shards: int | Literal["auto"] | None = None  # None = no sharding
    # discord.py waits this long after the last GUILD_CREATE before it is ready; tests shorten it.
    guild_ready_timeout: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DiscordOptions:
        shards = settings.discord_shards
        return cls(
            rate_limit=settings.discord_rate_limit,
            guild_rate_limit=settings.discord_guild_rate_limit,
            add_permission=settings.discord_add_permission,
            dm_kb=settings.discord_dm_kb,
            sync_guild=settings.discord_sync_guild,
            shards="auto" if shards == "auto" else int(shards) if shards else None,
        )

    @property
    def required_permissions(self) -> discord.Permissions | None:
        """What Discord should require by default to see the editing commands (None: anyone).

        Server admins can change this per role in Server Settings → Integrations; the bot
        checks again itself, because that setting is only a default it cannot rely on.
        """
        if self.add_permission == "everyone":
            return None
        return discord.Permissions(**{self.add_permission: True})


def knowledge_base_for(guild_id: int | None, dm_kb: str | None) -> str | None:
    """Each server its own knowledge base; direct messages only the configured one (or none)."""
    return f"guild-{guild_id}" if guild_id is not None else dm_kb


def may_edit_articles(permissions: discord.Permissions, policy: AddPermission) -> bool:
    """Whether a member with these (channel-resolved) permissions may add or remove articles."""
    if policy == "everyone" or permissions.administrator:
        return True
    return policy == "manage_guild" and permissions.manage_guild
