"""A conversation read back from Discord itself: the turns of a thread, and the question an
answer message answered. What Discord keeps survives a restart; the bot's memory does not."""

from __future__ import annotations

import discord

from bot.discord_bot.messages import READ_AS
from bot.discord_bot.questions import clean_question
from retrieval.types import Turn

__all__ = ["answer_text", "question_answered", "thread_turns"]

_CHAT = (discord.MessageType.default, discord.MessageType.reply)
THREAD_HISTORY = 50  # messages read back from a thread (Discord returns up to 100 a request)


def _read_as(message: discord.Message) -> str | None:
    """The standalone question a follow-up was read as, from the answer's sources footer or
    its closing note (see `messages.answer_messages`)."""
    for embed in message.embeds:
        if embed.footer.text and embed.footer.text.startswith(READ_AS):
            return embed.footer.text.removeprefix(READ_AS)
    for line in message.content.splitlines():
        if line.startswith(f"*({READ_AS}") and line.endswith(")*"):
            return discord.utils.remove_markdown(line[2 + len(READ_AS) : -2])
    return None


def _quoted_question(message: discord.Message) -> str | None:
    first = message.content.split("\n", 1)[0]
    return discord.utils.remove_markdown(first[2:]) if first.startswith("> ") else None


def answer_text(message: discord.Message) -> str:
    """An answer's own words: without the quoted question and the notes in italics."""
    lines = [
        line
        for line in message.content.splitlines()
        if not line.startswith("> ") and not (line.startswith("*(") and line.endswith(")*"))
    ]
    return discord.utils.remove_markdown("\n".join(lines)).strip()


async def _starter(thread: discord.Thread) -> discord.Message | None:
    """The message a thread was started from: it has the thread's id, in the parent channel
    (Discord: "The id of the created thread will be the same as the id of the source message")."""
    if thread.parent is None or not isinstance(thread.parent, discord.TextChannel):
        return None
    try:
        return await thread.parent.fetch_message(thread.id)
    except discord.HTTPException:
        return None  # deleted: the thread is "orphaned", and its first question lost


async def thread_turns(
    thread: discord.Thread, me: int, *, before: discord.Message | None = None, max_turns: int = 8
) -> list[Turn]:
    """The questions and answers of a thread (before `before`), oldest first."""
    messages = [m async for m in thread.history(limit=THREAD_HISTORY, before=before)][::-1]
    starter = await _starter(thread)
    if starter is not None:
        messages.insert(0, starter)
    turns: list[Turn] = []
    asked: str | None = None
    for message in messages:
        if message.type not in _CHAT and message is not starter:
            continue
        if message.author.id != me:
            if not message.author.bot:
                asked = clean_question(message.content) or asked
            continue
        question = _read_as(message) or _quoted_question(message) or asked
        if question:
            turns.append(Turn(question, answer_text(message)))
        asked = None
    return turns[-max_turns:]


async def question_answered(message: discord.Message) -> str:
    """The question an answer message answered: quoted at its top, the message it replies
    to, or the message its thread was started from."""
    quoted = _quoted_question(message)
    if quoted:
        return quoted
    reference = message.reference
    if reference is not None and reference.message_id is not None:
        replied = reference.resolved
        if not isinstance(replied, discord.Message):
            try:
                replied = await message.channel.fetch_message(reference.message_id)
            except discord.HTTPException:
                replied = None
        if isinstance(replied, discord.Message):
            return clean_question(replied.content)
    if isinstance(message.channel, discord.Thread):
        starter = await _starter(message.channel)
        if starter is not None:
            return clean_question(starter.content)
    return ""
