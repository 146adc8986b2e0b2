"""The bot's commands, one cog per job: answering questions, keeping the articles, following
feeds (and /latest), and the server's own settings (with /help and the feedback report)."""

from bot.discord_bot.cogs.ask import AskCog
from bot.discord_bot.cogs.feeds import FeedsCog
from bot.discord_bot.cogs.library import LibraryCog
from bot.discord_bot.cogs.server import ServerCog

__all__ = ["AskCog", "FeedsCog", "LibraryCog", "ServerCog"]
