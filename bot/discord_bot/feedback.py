"""The buttons under an answer: 👍/👎 (kept with the question, the answer and the knowledge
base, never who pressed them) and "Open article" links to the cited articles."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Protocol, cast

import discord

from bot.discord_bot.conversation import answer_text, question_answered
from bot.discord_bot.messages import by_article, linkable
from bot.discord_bot.news import NewsAPI
from bot.discord_bot.servers import ServerSettingsCache
from retrieval.types import Answer, Feedback


class _NewsClient(Protocol):
    """What a vote needs of the bot (`app.NewsBot`)."""

    service: NewsAPI
    servers: ServerSettingsCache


__all__ = ["VoteButton", "answer_view"]

log = logging.getLogger("newsbot.discord")
LINK_BUTTONS = 5  # one action row of links (Discord allows 5 buttons a row)
THANKS = "Thanks — your vote is noted with the question and answer (not with your name)."


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"newsbot:vote:(?P<vote>up|down)"
):
    """👍 or 👎. The custom id carries the vote, so the buttons work on any answer, also after
    a restart: the question and answer are read from the message pressed."""

    def __init__(self, vote: str) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji="👍" if vote == "up" else "👎",
                custom_id=f"newsbot:vote:{vote}",
            )
        )
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(match["vote"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = cast(_NewsClient, interaction.client)
        message = interaction.message
        if message is None or interaction.guild_id is None:
            await interaction.response.send_message("Votes count inside servers.", ephemeral=True)
            return
        kb = await bot.servers.kb(interaction.guild_id, message.channel)
        feedback = Feedback(
            guild_id=interaction.guild_id,
            kb=kb,
            question=await question_answered(message),
            answer=answer_text(message),
            vote=1 if self.vote == "up" else -1,
        )
        await asyncio.to_thread(bot.service.record_feedback, feedback)
        log.info("vote %+d on message %s", feedback.vote, message.id)
        await interaction.response.send_message(THANKS, ephemeral=True)


def answer_view(answer: Answer) -> discord.ui.View:
    """👍 👎, then a link button per cited article that has a web address."""
    view = discord.ui.View(timeout=None)  # only dynamic items and links: nothing kept per message
    view.add_item(VoteButton("up"))
    view.add_item(VoteButton("down"))
    linked = [group[0] for group in by_article(answer.citations) if group[0].url]
    for citation in linked[:LINK_BUTTONS]:
        url = citation.url or ""
        if not linkable(url, 512):  # Discord's limit for a link button
            continue
        title = " ".join(citation.title.split())
        label = f"Open: {title}"
        if len(label) > 80:
            label = label[:79].rstrip() + "…"
        view.add_item(discord.ui.Button(label=label, url=url, row=1))
    return view
