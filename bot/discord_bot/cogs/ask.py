"""Questions: /ask, @mentions, the server's ask channel (a thread per question), follow-ups in
those threads, and replies to the bot's answers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.conversation import thread_turns
from bot.discord_bot.conversations import ConversationLog
from bot.discord_bot.feedback import answer_view
from bot.discord_bot.messages import (
    APOLOGY,
    DM_DECLINED,
    HOW_TO_ASK,
    NO_MENTIONS,
    OutgoingMessage,
    answer_messages,
    rate_limited,
    refusal,
)
from bot.discord_bot.news import NewsAPI
from bot.discord_bot.questions import QUESTION_CHARS, clean_question, is_question, thread_name
from bot.discord_bot.rate_limit import RateLimiter
from bot.discord_bot.servers import ServerSettingsCache
from bot.discord_bot.settings import DiscordSettings, knowledge_base_for
from retrieval.errors import NewsbotError
from retrieval.types import Answer, Turn

__all__ = ["AskCog", "defer"]

log = logging.getLogger("newsbot.discord")

_CHAT_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)
SLOW_DOWN = "⏳"  # the reaction to a question over the limit after the one notice


async def defer(interaction: discord.Interaction, *, private: bool) -> None:
    """Defer, remembering how: Discord shows the first follow-up with the defer's visibility,
    so an error after a public defer must not be sent as that follow-up (see `app.py`)."""
    interaction.extras["private_defer"] = private
    await interaction.response.defer(thinking=True, ephemeral=private)


class AskCog(commands.Cog, name="Questions"):
    def __init__(
        self,
        bot: commands.Bot,
        *,
        service: NewsAPI,
        options: DiscordSettings,
        limiter: RateLimiter,
        conversations: ConversationLog,
        servers: ServerSettingsCache | None = None,
        guild_limiter: RateLimiter | None = None,
    ) -> None:
        self.bot = bot
        self.service = service
        self.options = options
        self.limiter = limiter
        self.guild_limiter = guild_limiter or RateLimiter(0)
        self.conversations = conversations
        self.servers = servers or ServerSettingsCache(service)

    async def _kb(self, guild_id: int | None, channel: Any) -> str | None:
        if guild_id is None:
            return knowledge_base_for(None, self.options.dm_kb)
        return await self.servers.kb(guild_id, channel)

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="What you want to know, e.g. “Why did China decline the meeting?”"
    )
    async def ask(
        self, interaction: discord.Interaction, question: app_commands.Range[str, 1, QUESTION_CHARS]
    ) -> None:
        """Ask about this server's news articles; the answer cites the passages it rests on."""
        # Every refusal comes before the defer, as a private reply of its own.
        kb = await self._kb(interaction.guild_id, interaction.channel)
        question = clean_question(question)
        if kb is None or not question:
            await interaction.response.send_message(
                DM_DECLINED if kb is None else HOW_TO_ASK, ephemeral=True
            )
            return
        if wait_s := self._wait(interaction.user.id, interaction.guild_id):
            await interaction.response.send_message(rate_limited(wait_s), ephemeral=True)
            return
        await defer(interaction, private=False)
        history: list[Turn] = []
        if isinstance(interaction.channel, discord.Thread) and self.bot.user is not None:
            history = await thread_turns(interaction.channel, self.bot.user.id)
        answer = await asyncio.to_thread(self.service.ask, question, kb=kb, history=history)
        outgoing = answer_messages(answer, question=question, asked=question)
        sent = []
        for n, out in enumerate(outgoing):
            view = answer_view(answer) if n == len(outgoing) - 1 else discord.utils.MISSING
            sent.append(
                await interaction.followup.send(
                    out.content or discord.utils.MISSING,
                    embeds=out.embeds,
                    view=view,
                    allowed_mentions=NO_MENTIONS,
                    wait=True,
                )
            )
            interaction.extras["answered"] = True
        self.conversations.remember([m.id for m in sent], _turn(answer), follows=None)
        if isinstance(interaction.channel, discord.TextChannel) and interaction.guild_id:
            settings = await self.servers.get(interaction.guild_id)
            if settings.threads:
                # the answer's message starts the thread (a webhook message knows no guild)
                await interaction.channel.create_thread(
                    name=thread_name(question), message=discord.Object(sent[0].id)
                )

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A mention, a message in the ask channel or in one of the bot's threads, a reply to
        the bot, or (when enabled) a direct message is a question."""
        me = self.bot.user
        if me is None or message.author.bot or message.type not in _CHAT_MESSAGES:
            return  # never answer bots (ourselves included): two bots could loop forever
        channel = message.channel
        mentioned = any(user.id == me.id for user in message.mentions)
        reference = message.reference
        follows = reference.message_id if reference is not None else None
        if follows not in self.conversations:
            follows = None
        in_thread = isinstance(channel, discord.Thread) and channel.owner_id == me.id
        in_ask_channel = False
        threads = False
        if message.guild is not None:
            settings = await self.servers.get(message.guild.id)
            in_ask_channel = channel.id == settings.ask_channel_id
            threads = settings.threads
            replying = follows is not None or _replies_to(message, me.id)
            if not (mentioned or in_ask_channel or in_thread or replying):
                return
        question = clean_question(message.content)
        if not (mentioned or in_ask_channel or message.guild is None or is_question(question)):
            return  # "thanks!", "lol": chat, not a question
        try:
            await self._answer(
                message,
                question,
                follows,
                new_thread=in_ask_channel or (threads and mentioned and not in_thread),
            )
        except Exception as error:
            await self._apologise(message, question, error)

    async def _answer(
        self, message: discord.Message, question: str, follows: int | None, *, new_thread: bool
    ) -> None:
        guild_id = message.guild.id if message.guild else None
        kb = await self._kb(guild_id, message.channel)
        if kb is None:
            await self._reply(message, DM_DECLINED)
            return
        if not question:
            await self._reply(message, HOW_TO_ASK)
            return
        if wait_s := self._wait(message.author.id, guild_id):
            if self.limiter.first_refusal(message.author.id, wait_s):
                await self._reply(message, rate_limited(wait_s))
            else:
                await message.add_reaction(SLOW_DOWN)
            return
        channel = message.channel
        history: list[Turn] = []
        if isinstance(channel, discord.Thread) and self.bot.user is not None:
            history = await thread_turns(channel, self.bot.user.id, before=message)
        elif not new_thread:
            history = self.conversations.history(follows)
        # "newsbot is typing…" while the answer is composed (a language model can take
        # seconds); the checked answer is then sent once, never edited token by token.
        if new_thread and isinstance(channel, discord.TextChannel):
            thread = await message.create_thread(name=thread_name(question))
            async with thread.typing():
                answer = await asyncio.to_thread(self.service.ask, question, kb=kb)
            await self._send(answer_messages(answer, asked=question), answer, thread.send)
            return
        async with channel.typing():
            answer = await asyncio.to_thread(self.service.ask, question, kb=kb, history=history)
        sent = await self._send(answer_messages(answer, asked=question), answer, message.reply)
        self.conversations.remember([m.id for m in sent], _turn(answer), follows=follows)

    async def _send(
        self, outgoing: list[OutgoingMessage], answer: Answer, send: Any
    ) -> list[discord.Message]:
        """The answer's messages, the buttons under the last."""
        sent = []
        for n, out in enumerate(outgoing):
            extra = {"view": answer_view(answer)} if n == len(outgoing) - 1 else {}
            sent.append(
                await send(
                    out.content or None, embeds=out.embeds, allowed_mentions=NO_MENTIONS, **extra
                )
            )
        return sent

    def _wait(self, user_id: int, guild_id: int | None) -> float:
        """Seconds to wait, or 0.0 and the question counted. The user's own limit comes first,
        so one member's flood is stopped before it uses up the whole server's share."""
        if wait_s := self.limiter.acquire(user_id):
            return wait_s
        return self.guild_limiter.acquire(guild_id) if guild_id is not None else 0.0

    async def _reply(self, message: discord.Message, text: str) -> None:
        await message.reply(text, allowed_mentions=NO_MENTIONS)

    async def _apologise(self, message: discord.Message, question: str, error: Exception) -> None:
        if isinstance(error, NewsbotError) and error.public:
            log.info("question refused (user %s): %s", message.author.id, error)
            text = refusal(error)
        else:
            log.error(
                "answering a message failed (guild %s, channel %s, message %s, user %s, "
                "question %r)",
                message.guild.id if message.guild else None,
                message.channel.id,
                message.id,
                message.author.id,
                question[:200],
                exc_info=error,
            )
            text = APOLOGY
        try:
            await self._reply(message, text)
        except discord.HTTPException:
            log.warning("could not apologise for message %s", message.id, exc_info=True)


def _replies_to(message: discord.Message, user_id: int) -> bool:
    """Whether the message replies to one by `user_id` (Discord sends the replied-to message)."""
    resolved = message.reference.resolved if message.reference else None
    return isinstance(resolved, discord.Message) and resolved.author.id == user_id


def _turn(answer: Answer) -> Turn:
    return Turn(answer.standalone_question or answer.question, answer.answer)
