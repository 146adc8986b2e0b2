"""The bot's commands, one cog per job: answering questions, and keeping the articles."""

from bot.discord_bot.cogs.ask import AskCog
from bot.discord_bot.cogs.library import LibraryCog

__all__ = ["AskCog", "LibraryCog"]
