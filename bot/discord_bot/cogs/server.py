"""The server's own settings (Manage Server): the ask channel, threads for answers, a channel's
knowledge base; /help for everyone; /feedback_report for the server's managers."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.messages import NO_MENTIONS, SOURCES_COLOUR, escape, plural
from bot.discord_bot.news import NewsAPI
from bot.discord_bot.servers import KB_NAME, ServerSettingsCache
from bot.discord_bot.settings import DiscordSettings
from retrieval.types import ServerSettings

__all__ = ["ServerCog", "help_text"]

MANAGE_SERVER = discord.Permissions(manage_guild=True)
REPORT_VOTES = 15


def help_text(settings: ServerSettings) -> str:
    """What the bot does, how to ask, and this server's settings."""
    ask_channel = f"<#{settings.ask_channel_id}>" if settings.ask_channel_id else "none"
    kbs = ", ".join(f"<#{c}> → `{n}`" for c, n in settings.channel_kbs.items()) or "none"
    return "\n".join(
        [
            "**newsbot** answers questions about the news articles this server has added, and "
            "quotes the passages it rests on, word for word and dated. When the articles do "
            "not answer, it says so.",
            "",
            "**Ask** with `/ask`, by mentioning me, or in the ask channel (each question gets "
            "its own thread). Follow up in the thread, or reply to an answer: “who is he?” "
            "means whoever the last answer named. 👍/👎 under an answer tell the server's "
            "managers how it did.",
            "**Articles**: `/articles` lists them; members with Manage Server add and remove "
            "them with `/add_article` and `/remove_article`.",
            "**What's new**: `/latest` lists the newest articles (on a topic, if given), dated "
            "and linked. `/feeds` lists the news feeds this server follows; managers follow and "
            "unfollow them with `/follow_feed` and `/unfollow_feed`, and choose where new "
            "headlines are posted with `/announce_feeds`.",
            "",
            f"**This server**: ask channel {ask_channel} · threads for `/ask` and mentions "
            f"{'on' if settings.threads else 'off'} · channels with their own articles: {kbs}",
            "Managers change these with `/set_ask_channel`, `/set_threads` and "
            "`/set_channel_kb`, and read the votes with `/feedback_report`.",
        ]
    )


class ServerCog(commands.Cog, name="Server"):
    def __init__(
        self, *, service: NewsAPI, options: DiscordSettings, servers: ServerSettingsCache
    ) -> None:
        self.service = service
        self.options = options
        self.servers = servers

    async def _not_manager(self, interaction: discord.Interaction) -> bool:
        """Refuse, privately, a member without Manage Server (Discord's default permission
        on these commands is only a default a server can change)."""
        permissions = interaction.permissions
        if permissions.manage_guild or permissions.administrator:
            return False
        await interaction.response.send_message(
            "Sorry, only members with Manage Server can change or read this. Nothing was changed.",
            ephemeral=True,
        )
        return True

    async def _changed(self, interaction: discord.Interaction, note: str) -> None:
        await interaction.response.send_message(note, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="set_ask_channel")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(channel="Where every message is a question; leave empty to turn off")
    async def set_ask_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """Choose the ask channel: every message there is answered in a thread of its own."""
        if await self._not_manager(interaction) or interaction.guild_id is None:
            return
        await self.servers.change(
            interaction.guild_id, ask_channel_id=channel.id if channel else None
        )
        await self._changed(
            interaction,
            f"Every message in {channel.mention} is now a question, answered in a thread."
            if channel
            else "There is no ask channel now.",
        )

    @app_commands.command(name="set_threads")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(enabled="Answer /ask and mentions in a new thread each")
    async def set_threads(self, interaction: discord.Interaction, enabled: bool) -> None:
        """Turn threads on or off for answers to /ask and mentions."""
        if await self._not_manager(interaction) or interaction.guild_id is None:
            return
        await self.servers.change(interaction.guild_id, threads=enabled)
        await self._changed(
            interaction,
            "Answers to /ask and mentions now open a thread."
            if enabled
            else "Answers to /ask and mentions stay in the channel.",
        )

    @app_commands.command(name="set_channel_kb")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(
        name="Name of the channel's own set of articles (a-z, 0-9, - and _; up to 15); "
        "leave empty for the server's",
        channel="Which channel (default: this one)",
    )
    async def set_channel_kb(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 15] | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Give a channel its own set of articles (its questions and /add_article use it)."""
        if await self._not_manager(interaction) or interaction.guild_id is None:
            return
        name = name.strip().lower() if name else None
        if name is not None and not KB_NAME.fullmatch(name):
            await interaction.response.send_message(
                "`name:` may use a-z, 0-9, - and _ (up to 15). Nothing was changed.",
                ephemeral=True,
            )
            return
        channel_id = channel.id if channel else interaction.channel_id
        assert channel_id is not None
        kbs = dict((await self.servers.get(interaction.guild_id)).channel_kbs)
        if name:
            kbs[channel_id] = name
        else:
            kbs.pop(channel_id, None)
        await self.servers.change(interaction.guild_id, channel_kbs=kbs)
        await self._changed(
            interaction,
            f"<#{channel_id}> now uses its own articles, `{name}`."
            if name
            else f"<#{channel_id}> uses the server's articles.",
        )

    @app_commands.command(name="help")
    async def help(self, interaction: discord.Interaction) -> None:
        """What newsbot does, how to ask, and this server's settings."""
        settings = (
            await self.servers.get(interaction.guild_id)
            if interaction.guild_id is not None
            else ServerSettings()
        )
        await interaction.response.send_message(
            help_text(settings), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="feedback_report")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def feedback_report(self, interaction: discord.Interaction) -> None:
        """The latest 👍/👎 on this server's answers, with the questions."""
        if await self._not_manager(interaction) or interaction.guild_id is None:
            return
        votes = await asyncio.to_thread(
            self.service.feedback, interaction.guild_id, limit=REPORT_VOTES
        )
        embed = discord.Embed(title="Feedback on answers", colour=SOURCES_COLOUR)
        if not votes:
            embed.description = "No votes yet: 👍/👎 are under every answer."
        else:
            ups = sum(v.vote > 0 for v in votes)
            lines = [f"Latest {plural(len(votes), 'vote')}: {ups} 👍, {len(votes) - ups} 👎", ""]
            for vote in votes:
                question = escape(" ".join(vote.question.split())[:150]) or "(question unknown)"
                answer = escape(" ".join(vote.answer.split())[:150])
                lines.append(
                    f"{'👍' if vote.vote > 0 else '👎'} {vote.created_at[:10]} **{question}**"
                )
                lines.append(f"> {answer}")
            embed.description = "\n".join(lines)[:4096]
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
        )
