"""The composition root of the Discord bot: `run_bot` reads settings and builds the service once;
`build_bot` wires the bot from what it is handed; `NewsBot` adds the cogs and syncs commands."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.cogs import AskCog, FeedsCog, LibraryCog, ServerCog
from bot.discord_bot.conversations import ConversationLog
from bot.discord_bot.feedback import VoteButton
from bot.discord_bot.messages import APOLOGY, NO_MENTIONS, refusal
from bot.discord_bot.news import NewsAPI
from bot.discord_bot.rate_limit import AddLimit, RateLimiter
from bot.discord_bot.servers import ServerSettingsCache
from bot.discord_bot.settings import DiscordSettings
from retrieval.errors import NewsbotError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = ["DiscordSetupError", "NewsBot", "ShardedNewsBot", "bot_token", "build_bot", "run_bot"]

log = logging.getLogger("newsbot.discord")


class DiscordSetupError(NewsbotError):
    """The bot cannot start as configured; the message says what to fix."""

    public = False


class NewsCommandTree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Any failure in a slash command: the user gets a short private note, the log the
        details, and the bot carries on."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        command = interaction.command.qualified_name if interaction.command else "?"
        if isinstance(cause, NewsbotError) and cause.public:
            log.info("/%s refused (user %s): %s", command, interaction.user.id, cause)
            text = refusal(cause)
        else:
            log.error(
                "/%s failed (guild %s, channel %s, user %s, %r)",
                command,
                interaction.guild_id,
                interaction.channel_id,
                interaction.user.id,
                interaction.namespace,
                exc_info=cause,
            )
            text = APOLOGY
        try:
            if _public_loading_message(interaction):
                # The first follow-up after a public defer would replace the "thinking…"
                # message, seen by everyone, whatever its ephemeral flag says: remove that
                # message first, so the note that follows is a private message of its own.
                await interaction.delete_original_response()
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
        except discord.HTTPException:
            log.warning("could not tell the user that /%s failed", command, exc_info=True)


def _public_loading_message(interaction: discord.Interaction) -> bool:
    """Whether the interaction was deferred publicly and nothing was sent since."""
    return (
        interaction.response.type is discord.InteractionResponseType.deferred_channel_message
        and interaction.extras.get("private_defer") is False
        and not interaction.extras.get("answered")
    )


class NewsBot(commands.Bot):
    """The bot, holding the service and options it was built with (never reading settings)."""

    def __init__(
        self, *, service: NewsAPI, options: DiscordSettings, **client_options: Any
    ) -> None:
        super().__init__(**client_options)
        self.service = service
        self.options = options
        self.servers = ServerSettingsCache(service)

    async def setup_hook(self) -> None:
        # one count of adds for both commands that add: articles and feed follows
        add_limit = AddLimit(self.options.add_rate_limit, self.options.guild_add_rate_limit)
        await self.add_cog(
            AskCog(
                self,
                service=self.service,
                options=self.options,
                limiter=RateLimiter(self.options.rate_limit),
                guild_limiter=RateLimiter(self.options.guild_rate_limit),
                conversations=ConversationLog(),
                servers=self.servers,
            )
        )
        await self.add_cog(
            LibraryCog(
                service=self.service,
                options=self.options,
                servers=self.servers,
                add_limit=add_limit,
            )
        )
        await self.add_cog(
            ServerCog(service=self.service, options=self.options, servers=self.servers)
        )
        await self.add_cog(
            FeedsCog(
                self,
                service=self.service,
                options=self.options,
                servers=self.servers,
                add_limit=add_limit,
            )
        )
        self.add_dynamic_items(VoteButton)  # 👍/👎 under any answer, also after a restart
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Publish the slash commands: to one server at once (development), or globally."""
        guild = discord.Object(self.options.sync_guild) if self.options.sync_guild else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        where = f"to server {guild.id}" if guild else "globally"
        log.info("synced %d slash commands %s", len(synced), where)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: questions in messages are the Questions cog's listener's job."""

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))


class ShardedNewsBot(NewsBot, commands.AutoShardedBot):
    """The same bot over several gateway connections (Discord requires it from 2,500 servers)."""


def build_bot(*, service: NewsAPI, options: DiscordSettings) -> NewsBot:
    """A ready-to-run bot around `service`; nothing is read from settings or the environment."""
    intents = discord.Intents.default()
    # Privileged, but needed to read a reply to the bot that does not ping it.
    intents.message_content = True
    client_options: dict[str, Any] = {
        "command_prefix": commands.when_mentioned,
        "help_command": None,
        "intents": intents,
        "allowed_mentions": NO_MENTIONS,
        "tree_cls": NewsCommandTree,
        "guild_ready_timeout": options.guild_ready_timeout,
    }
    if options.shards is None:
        return NewsBot(service=service, options=options, **client_options)
    shard_count = None if options.shards == "auto" else options.shards
    if options.shard_list is not None:  # this process runs a range of them
        client_options["shard_ids"] = options.shard_list
    return ShardedNewsBot(
        service=service, options=options, shard_count=shard_count, **client_options
    )


def bot_token(options: DiscordSettings) -> str:
    """The bot's token, or a `DiscordSetupError` saying where to put it."""
    token = options.token.get_secret_value().strip() if options.token else ""
    if not token:
        raise DiscordSetupError(
            "set DISCORD_TOKEN (in the environment or .env) to your bot's token from "
            "https://discord.com/developers/applications"
        )
    return token


def setup_logging() -> None:
    """Our log lines and discord.py's, at INFO (never the token). Not httpx's: it logs every
    request at INFO, and the bot's store is a local Chroma server spoken to over HTTP (one
    line per search; thousands a minute under load, in the soak of benchmarks/soak.py)."""
    discord.utils.setup_logging(root=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def run_bot(*, service: NewsAPI, options: DiscordSettings, embeddings: Embeddings) -> None:
    """Run the bot around `service` (built by the caller, as for every front end) until
    interrupted. The embedding model is loaded first, so the first question is not slow."""
    token = bot_token(options)
    setup_logging()
    log.info("loading the embedding model")
    embeddings.embed_query("warm up")
    try:
        build_bot(service=service, options=options).run(token, log_handler=None)
    except discord.LoginFailure:
        raise DiscordSetupError(
            "Discord rejected DISCORD_TOKEN; copy the token again from the Developer Portal "
            "(your application → Bot → Reset Token)"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise DiscordSetupError(
            "turn on the Message Content intent: Developer Portal → your application → Bot → "
            "Privileged Gateway Intents"
        ) from None
