"""Answers and article lists as Discord messages, always within Discord's size limits.

Pure functions: they build `OutgoingMessage`s and embeds and send nothing. The limits are
Discord's: 2000 characters of content per message, 4096 per embed description, 6000 across
all the embeds of one message, and at most 10 embeds per message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeGuard

import discord

from bot.discord_bot.rate_limit import LimitReached
from retrieval.types import AddResult, Answer, Citation, StoredArticle

__all__ = [
    "EMBEDS_PER_MESSAGE",
    "EMBED_DESCRIPTION_LIMIT",
    "EMBED_TOTAL_LIMIT",
    "MESSAGE_LIMIT",
    "NO_MENTIONS",
    "OutgoingMessage",
    "added_message",
    "also_in",
    "answer_messages",
    "articles_page",
    "by_article",
    "linkable",
    "masked_link",
    "passages",
    "shorten_quote",
    "source_entry",
    "split_text",
]

MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
QUOTE_CHARS = 200
ARTICLES_PER_PAGE = 10
NO_MENTIONS = discord.AllowedMentions.none()
SOURCES_COLOUR = discord.Colour.blurple()

# A sentence ends after . ! ? … (maybe closed by a quote or bracket) or after its [n] marker,
# never between a sentence and the marker that cites it; a line break always ends one.
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)])|(?<=\[\d\])|(?<=\[\d\d\]))\s+(?!\[\d+\])|\n\s*"
)


@dataclass
class OutgoingMessage:
    content: str = ""
    embeds: list[discord.Embed] = field(default_factory=list)


def escape(text: str) -> str:
    """Article text shown as written: its * _ ` | > # would otherwise become formatting."""
    return discord.utils.escape_markdown(text)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut after a sentence where possible, else at a
    space, else anywhere (one unbroken 3000-character 'word' still has to go out)."""
    pieces: list[str] = []
    text = text.strip()
    while len(text) > limit:
        # Matched on the whole text, so the look-ahead for a marker sees past the limit.
        ends = [m.start() for m in _SENTENCE_END.finditer(text) if 0 < m.start() <= limit]
        window = text[: limit + 1]
        cut = ends[-1] if ends else max(window.rfind(" "), window.rfind("\n"))
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def shorten_quote(quote: str, limit: int = QUOTE_CHARS) -> str:
    """A verbatim prefix of the quote, cut at a word, with '…' when something was left out."""
    quote = quote.strip()
    if len(quote) <= limit:
        return quote
    cut = quote.rfind(" ", 0, limit)
    return quote[: cut if cut > limit // 2 else limit - 1].rstrip(" ,;:") + "…"


def linkable(url: str | None, max_length: int) -> TypeGuard[str]:
    """An http(s) address Discord will link, at most `max_length` characters."""
    return url is not None and len(url) <= max_length and url.startswith(("http://", "https://"))


def masked_link(text: str, url: str | None) -> str:
    """`[text](url)` when there is a usable link (Discord shows the text, linked), else the
    text. Brackets in the text and spaces or parentheses in the URL would end the markup early."""
    text = text.replace("[", "\\[").replace("]", "\\]")
    if not linkable(url, 500):
        return text
    url = url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{text}]({url})"


def source_entry(citations: Sequence[Citation]) -> str:
    """One article and what the answer quotes from it: its title (linked where there is a
    URL), source · date, then each cited passage as '> **[n]** “verbatim quote”' with the
    quote's resolved relative dates and the other outlets carrying it under it."""
    first = citations[0]
    lines = [f"**{masked_link(escape(_clip(first.title, 200)), first.url)}**"]
    details = [escape(_clip(x, 100)) for x in (first.source, first.published_at) if x]
    if details:
        lines.append(" · ".join(details))
    for citation in citations:
        lines.append(f"> **[{citation.n}]** “{escape(shorten_quote(citation.quote))}”")
        if citation.date_notes:
            notes = "; ".join(f"“{n.phrase}” = {n.means}" for n in citation.date_notes)
            lines.append(f"> *({escape(_clip(notes, 300))})*")
        if citation.also_in:
            lines.append(f"> {also_in(citation)}")
    return "\n".join(lines)


def also_in(citation: Citation, most: int = 5) -> str:
    """'*Also in:* [Wyn Valley News](url) · 5 Mar …': the other outlets carrying the cited
    fact, each linked where it has a URL; past `most`, how many more."""
    named = [
        masked_link(escape(_clip(other.source or other.title, 80)), other.url)
        + (f" ({escape(other.published_at)})" if other.published_at else "")
        for other in citation.also_in[:most]
    ]
    more = len(citation.also_in) - most
    return "*Also in:* " + ", ".join(named) + (f" and {more} more" if more > 0 else "")


def by_article(citations: Sequence[Citation]) -> list[list[Citation]]:
    """The citations grouped by the article they quote, in order of first citation."""
    groups: dict[str, list[Citation]] = {}
    for citation in citations:
        groups.setdefault(citation.article_id, []).append(citation)
    return list(groups.values())


def _source_embeds(citations: Sequence[Citation], read_as: str | None) -> list[discord.Embed]:
    descriptions: list[str] = []
    for entry in (source_entry(group) for group in by_article(citations)):
        if descriptions and len(descriptions[-1]) + 2 + len(entry) <= EMBED_DESCRIPTION_LIMIT:
            descriptions[-1] += "\n\n" + entry
        else:
            descriptions.append(entry[:EMBED_DESCRIPTION_LIMIT])
    embeds = [
        discord.Embed(title="Sources" if i == 0 else None, description=d, colour=SOURCES_COLOUR)
        for i, d in enumerate(descriptions)
    ]
    if embeds and read_as:
        embeds[-1].set_footer(text=f"{READ_AS}{_clip(read_as, 300)}")
    return embeds


def _group_embeds(embeds: list[discord.Embed]) -> list[list[discord.Embed]]:
    """Embeds packed into messages: at most 10 and 6000 characters in all per message."""
    groups: list[list[discord.Embed]] = []
    for embed in embeds:
        last = groups[-1] if groups else None
        if (
            last is not None
            and len(last) < EMBEDS_PER_MESSAGE
            and sum(map(len, last)) + len(embed) <= EMBED_TOTAL_LIMIT
        ):
            last.append(embed)
        else:
            groups.append([embed])
    return groups


def answer_messages(
    answer: Answer, *, question: str | None = None, asked: str | None = None
) -> list[OutgoingMessage]:
    """The answer as messages: its text (with [n] markers) split on sentence boundaries, then
    the sources, one entry per article, as embeds on the last message. `question` is quoted
    first, where the question is not shown above the answer (slash commands, a thread's first
    answer). When the answer read a follow-up `asked` as a longer question, the sources'
    footer says how ("Read as: ..."), which is also how a thread's history is read back."""
    read_as = answer.standalone_question
    if not read_as or read_as.strip() == (asked or answer.question).strip():
        read_as = None
    body = escape(answer.answer)
    if answer.notice:
        body = f"*({escape(answer.notice)})*\n{body}"
    if answer.time_note:
        body = f"{body}\n*({escape(answer.time_note)})*"
    if question:
        body = f"> {escape(_clip(question, 300))}\n{body}"
    if read_as and not answer.citations:
        body = f"{body}\n*({READ_AS}{escape(_clip(read_as, 300))})*"
    messages = [OutgoingMessage(piece) for piece in split_text(body)]
    groups = _group_embeds(_source_embeds(answer.citations, read_as))
    if groups and messages:
        messages[-1].embeds = groups.pop(0)
    messages += [OutgoingMessage(embeds=group) for group in groups]
    return messages or [OutgoingMessage("…")]


def added_message(results: Sequence[AddResult], limit: int = MESSAGE_LIMIT) -> str:
    """One line per article: added or updated (with its passage count), or already known;
    and its id."""
    lines = []
    for result in results:
        title = escape(_clip(result.title, 150))
        if result.status == "added":
            lines.append(
                f"Added **{title}** — {passages(result.chunks)} · id `{result.article_id}`"
            )
        elif result.status == "updated":
            lines.append(
                f"Updated **{title}** to its new text — {passages(result.chunks)} · "
                f"id `{result.article_id}`"
            )
        elif result.duplicate_of and result.duplicate_of != result.article_id:
            lines.append(
                f"Already known: **{title}** has the same text as id `{result.duplicate_of}`"
            )
        else:
            lines.append(f"Already known: **{title}** · id `{result.article_id}`")
    text = "\n".join(lines)
    while len(text) > limit:
        lines.pop()
        text = "\n".join([*lines, f"… and {len(results) - len(lines)} more"])
    return text


def articles_page(
    articles: Sequence[StoredArticle], page: int, per_page: int = ARTICLES_PER_PAGE
) -> discord.Embed:
    """One page of a knowledge base's articles, newest first, with each id for /remove_article."""
    pages = max(1, math.ceil(len(articles) / per_page))
    embed = discord.Embed(title=f"Articles ({len(articles)})", colour=SOURCES_COLOUR)
    if not articles:
        embed.description = "No articles yet. Add one with /add_article."
        return embed
    entries = []
    if page > pages:
        entries.append(f"*There is no page {page}: the list has {plural(pages, 'page')}.*")
    page = min(max(page, 1), pages)
    for article in articles[(page - 1) * per_page : page * per_page]:
        details = [escape(_clip(x, 60)) for x in (article.source, article.published_at) if x]
        details.append(passages(article.chunks))
        entries.append(
            f"`{article.id}` **{escape(_clip(article.title, 150))}**\n{' · '.join(details)}"
        )
    embed.description = "\n".join(entries)[:EMBED_DESCRIPTION_LIMIT]
    if pages > 1:
        more = f" · /articles page:{page + 1} for more" if page < pages else ""
        embed.set_footer(text=f"Page {page} of {pages}{more}")
    return embed


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def passages(count: int) -> str:
    return plural(count, "passage")


# -- notices ---------------------------------------------------------------------------------
READ_AS = "Read as: "
APOLOGY = "Sorry — something went wrong on my side. It has been logged; please try again."
DM_DECLINED = (
    "Sorry, I only answer questions inside servers: each server has its own articles. "
    "Ask me there with /ask or by mentioning me."
)
HOW_TO_ASK = (
    "Ask me about the news articles this server has added: mention me with a question, "
    "reply to one of my answers to follow up, or use /ask."
)


def refusal(error: Exception) -> str:
    """A user error (bad input, unknown article...), whose message is written to be shown."""
    return f"Sorry, I couldn't do that: {_clip(str(error), 1800)}"


def rate_limited(wait_s: float) -> str:
    return (
        "You're asking faster than I can keep up — please try again in "
        f"{max(1, math.ceil(wait_s))} s."
    )


def add_limited(reached: LimitReached) -> str:
    """An add refused by a rate limit: whose limit, and when they may add again."""
    who = "You have" if reached.scope == "user" else "This server has"
    per = "one member" if reached.scope == "user" else "one server"
    return (
        f"{who} added {reached.limit} articles or feeds in the last hour, the most {per} may; "
        f"you can add again in {_wait(reached.wait_s)}. Nothing was added."
    )


def _wait(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} s"
    return f"{math.ceil(seconds / 60)} min"


def not_permitted(policy: str) -> str:
    who = "administrators" if policy == "administrator" else "members with Manage Server"
    return f"Sorry, only {who} can add or remove this server's articles. Nothing was changed."
