"""Feeds a server follows (/follow_feed, /feeds, /unfollow_feed, /announce_feeds), the
bot's own poll of them (a `discord.ext.tasks` loop) with the headlines it announces, and
/latest."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.discord_bot.cogs.ask import defer
from bot.discord_bot.cogs.library import refused_by_limit
from bot.discord_bot.feed_messages import (
    announcement,
    feed_choice_name,
    feeds_embed,
    latest_embed,
)
from bot.discord_bot.messages import NO_MENTIONS, escape
from bot.discord_bot.news import NewsAPI
from bot.discord_bot.rate_limit import AddLimit
from bot.discord_bot.servers import ServerSettingsCache
from bot.discord_bot.settings import DiscordSettings, feeds_polled_by
from retrieval.service import is_url
from retrieval.types import PollReport

__all__ = ["FeedsCog"]

log = logging.getLogger("newsbot.discord")

AUTOCOMPLETE_CHOICES = 25  # Discord shows at most 25 suggestions
MANAGERS_ONLY = "Sorry, only members with Manage Server can change the feeds. Nothing was changed."


class FeedsCog(commands.Cog, name="Feeds"):
    def __init__(
        self,
        bot: commands.Bot,
        *,
        service: NewsAPI,
        options: DiscordSettings,
        servers: ServerSettingsCache,
        add_limit: AddLimit | None = None,
    ) -> None:
        self.bot = bot
        self.service = service
        self.options = options
        self.servers = servers
        self.add_limit = add_limit or AddLimit(0, 0)
        self.poll_feeds.change_interval(seconds=options.feed_poll_s)

    async def cog_load(self) -> None:
        if self.options.poll_feeds:
            self.poll_feeds.start()

    async def cog_unload(self) -> None:
        self.poll_feeds.cancel()

    # -- the poll ----------------------------------------------------------------------------
    @tasks.loop(seconds=60)
    async def poll_feeds(self) -> None:
        """Poll the feeds that are due (each on its own interval), then announce each
        server's new articles in one message, in its announcement channel if it has one.
        A failure is logged and the loop goes on at its next tick."""
        try:
            reports = await asyncio.to_thread(
                self.service.poll_feeds, guilds=feeds_polled_by(self.options)
            )
            await self.announce(reports)
        except Exception:
            log.exception("polling the feeds failed")

    @poll_feeds.before_loop
    async def _when_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def announce(self, reports: list[PollReport]) -> None:
        by_server: dict[int, list[PollReport]] = defaultdict(list)
        for report in reports:
            if report.added and report.feed.guild_id is not None:
                by_server[report.feed.guild_id].append(report)
        for guild_id, theirs in by_server.items():
            channel_id = (await self.servers.get(guild_id)).announce_channel_id
            text = announcement(theirs)
            channel = self.bot.get_channel(channel_id) if channel_id else None
            if text is None or not isinstance(channel, discord.abc.Messageable):
                continue
            try:
                await channel.send(text, allowed_mentions=NO_MENTIONS, suppress_embeds=True)
            except discord.HTTPException:
                log.warning("could not announce new articles in channel %s", channel_id)

    # -- following ---------------------------------------------------------------------------
    async def _not_manager(self, interaction: discord.Interaction) -> bool:
        permissions = interaction.permissions
        if permissions.manage_guild or permissions.administrator:
            return False
        await interaction.response.send_message(MANAGERS_ONLY, ephemeral=True)
        return True

    @app_commands.command(name="follow_feed")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(url="The feed's address (RSS or Atom), http or https")
    async def follow_feed(
        self, interaction: discord.Interaction, url: app_commands.Range[str, 1, 2000]
    ) -> None:
        """Follow a news feed: its new articles are added to this channel's knowledge base."""
        if await self._not_manager(interaction) or interaction.guild_id is None:
            return
        url = url.strip()
        if not is_url(url):
            await interaction.response.send_message(
                "`url:` must be a web address starting with http:// or https://.", ephemeral=True
            )
            return
        guild_id = interaction.guild_id
        followed = await asyncio.to_thread(self.service.feeds_followed, guild_id=guild_id)
        cap = self.options.max_feeds
        if len(followed) >= cap and url not in {f.url for f in followed}:
            await interaction.response.send_message(
                f"This server follows {cap} feeds, the most it may; /unfollow_feed one first.",
                ephemeral=True,
            )
            return
        if await refused_by_limit(interaction, self.add_limit):  # following fetches the feed
            return
        await defer(interaction, private=True)
        kb = await self.servers.kb(guild_id, interaction.channel)
        feed, created = await asyncio.to_thread(
            self.service.follow_feed, url, kb=kb, guild_id=guild_id
        )
        name = escape(feed.name[:200])
        channel = (await self.servers.get(guild_id)).announce_channel_id
        where = (
            f" New headlines will be posted in <#{channel}>."
            if channel
            else " /announce_feeds names a channel for their headlines."
        )
        text = (
            f"Following **{name}**: its new articles are added as they appear.{where}"
            if created
            else f"Already following **{name}**; it is active."
        )
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="feeds")
    @app_commands.guild_only()
    async def feeds(self, interaction: discord.Interaction) -> None:
        """The feeds this server follows, and how their last polls went."""
        if interaction.guild_id is None:
            return
        await defer(interaction, private=True)
        followed = await asyncio.to_thread(
            self.service.feeds_followed, guild_id=interaction.guild_id
        )
        await interaction.followup.send(
            embed=feeds_embed(followed, self.options.max_feeds),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="unfollow_feed")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(feed="The feed: type part of its name or address")
    async def unfollow_feed(
        self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]
    ) -> None:
        """Stop following a feed (the articles it brought stay)."""
        if await self._not_manager(interaction) or interaction.guild_id is None:
            return
        await defer(interaction, private=True)
        removed = await asyncio.to_thread(
            self.service.unfollow_feed, feed, guild_id=interaction.guild_id
        )
        text = (
            f"Stopped following **{escape(removed.name[:200])}**; its articles stay."
            if removed
            else "This server follows no such feed; /feeds lists them."
        )
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @unfollow_feed.autocomplete("feed")
    async def _followed(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """This server's feeds whose name or address contains what was typed; the value is
        the feed's number."""
        permissions = interaction.permissions
        if interaction.guild_id is None or not (
            permissions.manage_guild or permissions.administrator
        ):
            return []
        followed = await asyncio.to_thread(
            self.service.feeds_followed, guild_id=interaction.guild_id
        )
        typed = typed.strip().lower()
        return [
            app_commands.Choice(name=feed_choice_name(f), value=str(f.id))
            for f in followed
            if typed in f.name.lower() or typed in f.url.lower()
        ][:AUTOCOMPLETE_CHOICES]

    @app_commands.command(name="announce_feeds")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(channel="Where to post new articles' headlines; leave empty to stop")
    async def announce_feeds(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """Choose the channel where headlines of articles from the feeds are posted."""
        if await self._not_manager(interaction) or interaction.guild_id is None:
            return
        await self.servers.change(
            interaction.guild_id, announce_channel_id=channel.id if channel else None
        )
        await interaction.response.send_message(
            f"Headlines of new articles from the feeds will be posted in {channel.mention}, "
            "one message per poll."
            if channel
            else "Headlines of new articles are no longer posted.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    # -- what's new --------------------------------------------------------------------------
    @app_commands.command(name="latest")
    @app_commands.guild_only()
    @app_commands.describe(
        topic="Only articles about this (optional)", days="How many days back (default 7)"
    )
    async def latest(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 1, 200] | None = None,
        days: app_commands.Range[int, 1, 365] = 7,
    ) -> None:
        """The newest articles, newest first: dated, linked, and what each reports."""
        if interaction.guild_id is None:
            return
        await defer(interaction, private=False)
        kb = await self.servers.kb(interaction.guild_id, interaction.channel)
        found = await asyncio.to_thread(self.service.latest, topic, kb=kb, days=days)
        interaction.extras["answered"] = True
        await interaction.followup.send(
            embed=latest_embed(found, topic=topic, days=days), allowed_mentions=NO_MENTIONS
        )
