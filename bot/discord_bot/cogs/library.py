"""The server's articles: /add_article, /articles and /remove_article."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.cogs.ask import defer
from bot.discord_bot.messages import (
    NO_MENTIONS,
    add_limited,
    added_message,
    articles_page,
    not_permitted,
)
from bot.discord_bot.news import NewsAPI
from bot.discord_bot.rate_limit import AddLimit
from bot.discord_bot.servers import ServerSettingsCache
from bot.discord_bot.settings import DiscordSettings, may_edit_articles
from retrieval.errors import ArticleError
from retrieval.service import (
    MAX_UPLOAD_BYTES,
    UPLOAD_SUFFIXES,
    article_from_text,
    articles_from_file,
    is_url,
    parse_published_at,
)
from retrieval.types import Article

AUTOCOMPLETE_CHOICES = 25  # Discord shows at most 25 suggestions

__all__ = ["LibraryCog", "refused_by_limit"]


class LibraryCog(commands.Cog, name="Articles"):
    def __init__(
        self,
        *,
        service: NewsAPI,
        options: DiscordSettings,
        servers: ServerSettingsCache | None = None,
        add_limit: AddLimit | None = None,
    ) -> None:
        self.service = service
        self.options = options
        self.servers = servers or ServerSettingsCache(service)
        self.add_limit = add_limit or AddLimit(0, 0)
        # Hide the editing commands from members who may not use them. This is only the
        # default a server admin can change, so each command checks permissions itself too.
        for command in (self.add_article, self.remove_article):
            command.default_permissions = options.required_permissions

    async def _refused(self, interaction: discord.Interaction) -> bool:
        """Refuse, privately and before anything is deferred or stored, a member who may not edit."""
        if may_edit_articles(interaction.permissions, self.options.add_permission):
            return False
        await interaction.response.send_message(
            not_permitted(self.options.add_permission), ephemeral=True
        )
        return True

    @app_commands.command(name="add_article")
    @app_commands.guild_only()
    @app_commands.describe(
        url="Link to the article (http or https)",
        text="The article's text, pasted",
        title="Headline to use (optional)",
        file="A .txt, .md, .html or .json file",
        published_at="Publication date, YYYY-MM-DD (optional; a page's own date otherwise)",
        source="Who published it, e.g. Reuters (optional)",
    )
    async def add_article(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000] | None = None,
        text: str | None = None,
        title: app_commands.Range[str, 1, 300] | None = None,
        file: discord.Attachment | None = None,
        published_at: app_commands.Range[str, 1, 40] | None = None,
        source: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """Add a news article to this server's knowledge base, from a link, text or a file."""
        if await self._refused(interaction):
            return
        problem = _problem_with(url, text, file)
        date = None
        if problem is None and published_at:
            try:
                date = parse_published_at(published_at, "`published_at:`")
            except ArticleError as error:
                problem = f"{error}."
        if problem:
            await interaction.response.send_message(problem, ephemeral=True)
            return
        if await refused_by_limit(interaction, self.add_limit):
            return
        # Private: a page that cannot be fetched or read is refused after the defer, and the
        # first follow-up is shown as the defer was (Discord's rule).
        await defer(interaction, private=True)
        articles = await self._articles_from(url=url, text=text, title=title, file=file)
        details = {"published_at": date, "source": source.strip() if source else None}
        articles = [replace(a, **{k: v for k, v in details.items() if v}) for a in articles]
        kb = await self._kb(interaction)
        results = await asyncio.to_thread(lambda: [self.service.add(a, kb=kb) for a in articles])
        await interaction.followup.send(
            added_message(results), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    async def _articles_from(
        self,
        *,
        url: str | None,
        text: str | None,
        title: str | None,
        file: discord.Attachment | None,
    ) -> list[Article]:
        if file is not None:
            data = await file.read()
            return await asyncio.to_thread(articles_from_file, file.filename, data, title)
        if text is not None:
            return [await asyncio.to_thread(article_from_text, text, title)]
        assert url is not None
        # `fetch`, never `load`: a path or file:// URL from a stranger must not read local files.
        fetched = await asyncio.to_thread(self.service.fetch, url.strip())
        if title and title.strip():
            fetched = replace(fetched, title=title.strip())
        return [fetched]

    @app_commands.command(name="articles")
    @app_commands.guild_only()
    @app_commands.describe(page="Which page of the list (10 articles a page)")
    async def articles(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 100_000] = 1
    ) -> None:
        """List the articles this server's knowledge base holds, newest first."""
        await defer(interaction, private=True)
        stored = await asyncio.to_thread(self.service.list, kb=await self._kb(interaction))
        await interaction.followup.send(
            embed=articles_page(stored, page), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="remove_article")
    @app_commands.guild_only()
    @app_commands.rename(article_id="id")
    @app_commands.describe(article_id="The article: type part of its title, or its id")
    async def remove_article(
        self, interaction: discord.Interaction, article_id: app_commands.Range[str, 1, 200]
    ) -> None:
        """Remove an article, and every passage of it, from this server's knowledge base."""
        if await self._refused(interaction):
            return
        await defer(interaction, private=True)
        article_id = article_id.strip().strip("`")
        removed = await asyncio.to_thread(
            self.service.remove, article_id, kb=await self._kb(interaction)
        )
        text = (
            f"Removed `{article_id}`."
            if removed
            else f"No article with id `{article_id}` here; /articles lists them."
        )
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @remove_article.autocomplete("article_id")
    async def _article_titles(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Titles of this channel's articles that contain what was typed (or whose id starts
        with it), newest first; the choice's value is the id."""
        if interaction.guild_id is None or not may_edit_articles(
            interaction.permissions, self.options.add_permission
        ):
            return []
        stored = await asyncio.to_thread(self.service.list, kb=await self._kb(interaction))
        typed = typed.strip().lower()
        matches = [a for a in stored if typed in a.title.lower() or a.id.lower().startswith(typed)]
        choices = []
        for article in matches[:AUTOCOMPLETE_CHOICES]:
            name = " ".join(article.title.split())
            if article.published_at:
                name = f"{name[:85]} ({article.published_at})"
            choices.append(app_commands.Choice(name=name[:100], value=article.id[:100]))
        return choices

    async def _kb(self, interaction: discord.Interaction) -> str:
        if interaction.guild_id is None:  # the commands are guild-only
            raise RuntimeError(f"/{interaction.command} was used outside a server")
        return await self.servers.kb(interaction.guild_id, interaction.channel)


async def refused_by_limit(interaction: discord.Interaction, add_limit: AddLimit) -> bool:
    """Count one add (an article or a feed) against the member's and the server's hourly
    limits, or refuse it privately — before anything is deferred, fetched or stored."""
    if interaction.guild_id is None:  # the adding commands are guild-only
        return False
    reached = add_limit.acquire(interaction.user.id, interaction.guild_id)
    if reached is None:
        return False
    await interaction.response.send_message(add_limited(reached), ephemeral=True)
    return True


def _problem_with(url: str | None, text: str | None, file: discord.Attachment | None) -> str | None:
    """Why /add_article's source options cannot be used, or None."""
    if sum(x is not None for x in (url, text, file)) != 1:
        return "Give exactly one of `url:`, `text:` or `file:`."
    if url is not None and not is_url(url.strip()):
        return "`url:` must be a web address starting with http:// or https://."
    if file is not None and not file.filename.lower().endswith(UPLOAD_SUFFIXES):
        return f"`file:` must be one of {', '.join(UPLOAD_SUFFIXES)}."
    if file is not None and file.size > MAX_UPLOAD_BYTES:
        return f"`file:` is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
    return None
