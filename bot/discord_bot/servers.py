"""Each server's own settings (ask channel, threads, a channel's knowledge base), read through a
small cache: the bot looks at them for every message, and only its own commands change them."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any

from bot.discord_bot.news import NewsAPI
from retrieval.types import ServerSettings

__all__ = ["KB_NAME", "ServerSettingsCache", "channel_kb"]

# A channel's knowledge base is named within its server's ("guild-<id>-<name>"), so no server
# can name another's; the store allows 41 characters in all, and a server id takes up to 20.
KB_NAME = re.compile(r"[a-z0-9_-]{1,15}")


def channel_kb(guild_id: int, channel: Any, settings: ServerSettings) -> str:
    """The knowledge base `channel` uses: its own (by name) if set, a thread its parent's,
    else the server's."""
    channel_id = getattr(channel, "parent_id", None) or getattr(channel, "id", None)
    name = settings.channel_kbs.get(channel_id) if channel_id is not None else None
    return f"guild-{guild_id}-{name}" if name else f"guild-{guild_id}"


class ServerSettingsCache:
    """`ServerSettings` per server, loaded from the service once and kept. One bot process
    changes them (through its commands), so the cache is always current for it."""

    def __init__(self, service: NewsAPI) -> None:
        self.service = service
        self._settings: dict[int, ServerSettings] = {}

    async def get(self, guild_id: int) -> ServerSettings:
        if guild_id not in self._settings:
            self._settings[guild_id] = await asyncio.to_thread(
                self.service.server_settings, guild_id
            )
        return self._settings[guild_id]

    async def change(self, guild_id: int, **changes: Any) -> ServerSettings:
        settings = replace(await self.get(guild_id), **changes)
        await asyncio.to_thread(self.service.save_server_settings, guild_id, settings)
        self._settings[guild_id] = settings
        return settings

    async def kb(self, guild_id: int, channel: Any) -> str:
        return channel_kb(guild_id, channel, await self.get(guild_id))
