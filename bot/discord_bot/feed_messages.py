"""Feeds and "what's new" as Discord messages, within Discord's limits (see messages.py):
the headlines a poll brought in (one message per server and poll), the server's feeds, and
/latest. Pure functions: they build text and embeds and send nothing."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.discord_bot.messages import (
    EMBED_DESCRIPTION_LIMIT,
    MESSAGE_LIMIT,
    SOURCES_COLOUR,
    escape,
    masked_link,
    plural,
    source_entry,
)
from retrieval.types import Citation, Feed, PollReport, StoredArticle

__all__ = ["announcement", "feed_choice_name", "feeds_embed", "latest_embed"]

HEADLINE_TITLE_CHARS = 150


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def headline(article: StoredArticle) -> str:
    """'- [Title](url) — Outlet · 2024-09-06': the title a masked link where there is one."""
    title = masked_link(escape(_clip(article.title, HEADLINE_TITLE_CHARS)), article.url)
    details = " · ".join(escape(_clip(x, 80)) for x in (article.source, article.published_at) if x)
    return f"- {title}" + (f" — {details}" if details else "")


def announcement(reports: Sequence[PollReport], limit: int = MESSAGE_LIMIT) -> str | None:
    """One message for every article the reports added (newest first), or None when none
    was: headlines until the message is full, then how many more and where to see them."""
    articles = sorted(
        (a for r in reports for a in r.added), key=lambda a: a.published_at or "", reverse=True
    )
    if not articles:
        return None
    top = f"📰 **{plural(len(articles), 'new article')}** from the feeds this server follows:"
    lines = [top]
    for index, article in enumerate(articles):
        line = headline(article)
        rest = len(articles) - index
        more = f"… and {rest} more: /latest lists them"
        if len("\n".join([*lines, line])) + (len(more) + 1 if rest > 1 else 0) > limit:
            lines.append(more)
            break
        lines.append(line)
    return "\n".join(lines)


def feed_choice_name(feed: Feed) -> str:
    """How /unfollow_feed's autocomplete shows a feed (Discord allows 100 characters)."""
    state = " (paused)" if feed.state == "paused" else ""
    return _clip(f"{feed.name}{state} · {feed.url}", 100)


def feeds_embed(feeds: Sequence[Feed], cap: int) -> discord.Embed:
    """The server's feeds: name (linked), state, last poll, entries read, note and last error."""
    embed = discord.Embed(title=f"Feeds ({len(feeds)} of {cap})", colour=SOURCES_COLOUR)
    if not feeds:
        embed.description = "No feeds yet. Managers follow one with /follow_feed."
        return embed
    entries = []
    for feed in feeds:
        lines = [f"**{masked_link(escape(_clip(feed.name, 150)), feed.url)}** · {feed.state}"]
        polled = (
            feed.last_polled_at[:16].replace("T", " ") + " UTC"
            if feed.last_polled_at
            else "not yet"
        )
        read = "entry" if feed.entries_seen == 1 else "entries"
        lines.append(f"polled {polled} · {feed.entries_seen} {read} read")
        if feed.note:
            lines.append(f"*{escape(_clip(feed.note, 200))}*")
        if feed.last_error:
            lines.append(
                f"last error ({feed.failures} in a row): {escape(_clip(feed.last_error, 300))}"
            )
        entries.append("\n".join(lines))
    embed.description = "\n\n".join(entries)[:EMBED_DESCRIPTION_LIMIT]
    return embed


def latest_embed(citations: Sequence[Citation], *, topic: str | None, days: int) -> discord.Embed:
    """/latest: newest first, each as an answer cites its sources — the title (linked),
    outlet · date, and the sentence it reports, numbered."""
    about = f" about “{escape(_clip(topic, 100))}”" if topic else ""
    span = "day" if days == 1 else f"{days} days"
    embed = discord.Embed(title="What's new", colour=SOURCES_COLOUR)
    if not citations:
        embed.description = f"No articles from the last {span}{about}."
        return embed
    parts = [f"The newest articles of the last {span}{about}:"]
    for citation in citations:
        entry = source_entry([citation])
        if len("\n\n".join([*parts, entry])) > EMBED_DESCRIPTION_LIMIT:
            break
        parts.append(entry)
    embed.description = "\n\n".join(parts)
    return embed
