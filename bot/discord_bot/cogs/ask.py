"""Questions: /ask, @mentions, and replies to the bot's answers (follow-ups that keep context)."""

from __future__ import annotations

import asyncio
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.conversations import ConversationLog
from bot.discord_bot.messages import (
    APOLOGY,
    DM_DECLINED,
    HOW_TO_ASK,
    NO_MENTIONS,
    answer_messages,
    rate_limited,
    refusal,
)
from bot.discord_bot.news import NewsAPI
from bot.discord_bot.rate_limit import RateLimiter
from bot.discord_bot.settings import DiscordSettings, knowledge_base_for
from retrieval.errors import NewsbotError
from retrieval.types import Answer, Turn

__all__ = ["AskCog"]

log = logging.getLogger("newsbot.discord")

_CHAT_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)


class AskCog(commands.Cog, name="Questions"):
    def __init__(
        self,
        bot: commands.Bot,
        *,
        service: NewsAPI,
        options: DiscordSettings,
        limiter: RateLimiter,
        conversations: ConversationLog,
        guild_limiter: RateLimiter | None = None,
    ) -> None:
        self.bot = bot
        self.service = service
        self.options = options
        self.limiter = limiter
        self.guild_limiter = guild_limiter or RateLimiter(0)
        self.conversations = conversations

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="What you want to know, e.g. “Why did China decline the meeting?”"
    )
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        """Ask about this server's news articles; the answer cites the passages it rests on."""
        kb = knowledge_base_for(interaction.guild_id, self.options.dm_kb)
        if kb is None:
            await interaction.response.send_message(DM_DECLINED, ephemeral=True)
            return
        if wait_s := self._wait(interaction.user.id, interaction.guild_id):
            await interaction.response.send_message(rate_limited(wait_s), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        answer = await asyncio.to_thread(self.service.ask, question, kb=kb)
        sent = [
            await interaction.followup.send(
                message.content, embeds=message.embeds, allowed_mentions=NO_MENTIONS, wait=True
            )
            for message in answer_messages(answer, question=question)
        ]
        self.conversations.remember([m.id for m in sent], _turn(answer), follows=None)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A mention, a reply to the bot, or (when enabled) a direct message is a question."""
        me = self.bot.user
        if me is None or message.author.bot or message.type not in _CHAT_MESSAGES:
            return  # never answer bots (ourselves included): two bots could loop forever
        reference = message.reference
        follows = reference.message_id if reference is not None else None
        if follows not in self.conversations:
            follows = None
        if message.guild is not None and not (
            follows is not None
            or any(user.id == me.id for user in message.mentions)
            or _replies_to(message, me.id)
        ):
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        try:
            await self._answer(message, question, follows)
        except Exception as error:
            await self._apologise(message, question, error)

    async def _answer(self, message: discord.Message, question: str, follows: int | None) -> None:
        kb = knowledge_base_for(message.guild.id if message.guild else None, self.options.dm_kb)
        if kb is None:
            await self._reply(message, DM_DECLINED)
            return
        if not question:
            await self._reply(message, HOW_TO_ASK)
            return
        if wait_s := self._wait(message.author.id, message.guild.id if message.guild else None):
            await self._reply(message, rate_limited(wait_s))
            return
        history = self.conversations.history(follows)
        # "newsbot is typing…" while the answer is composed (a language model can take
        # seconds); the checked answer is then sent once, never edited token by token.
        async with message.channel.typing():
            answer = await asyncio.to_thread(self.service.ask, question, kb=kb, history=history)
        sent = [
            await message.reply(
                out.content or None, embeds=out.embeds, allowed_mentions=NO_MENTIONS
            )
            for out in answer_messages(answer)
        ]
        self.conversations.remember([m.id for m in sent], _turn(answer), follows=follows)

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
