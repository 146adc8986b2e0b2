"""The Discord front end: a discord.py bot around the news service (see `build_bot`)."""

from bot.discord_bot.app import DiscordSetupError, NewsBot, build_bot, run_bot
from bot.discord_bot.news import NewsAPI
from bot.discord_bot.settings import DiscordSettings

__all__ = ["DiscordSettings", "DiscordSetupError", "NewsAPI", "NewsBot", "build_bot", "run_bot"]
