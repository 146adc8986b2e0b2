"""An RSS or Atom document, read by feedparser from bytes newsbot downloaded itself (through
the guarded fetcher: feedparser never opens a URL here), into the entries a poll reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from retrieval.errors import ArticleError
from retrieval.text.dates import read_date

__all__ = ["FeedDocument", "FeedEntry", "FeedFormatError", "parse_feed"]


class FeedFormatError(ArticleError):
    """The document is not an RSS or Atom feed newsbot can read."""


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: `key` identifies it within its feed (its id/guid, else its link,
    else a hash of its title and summary); `published_at` is an ISO day, if the entry has one."""

    key: str
    title: str
    link: str | None
    summary: str
    published_at: str | None


@dataclass(frozen=True)
class FeedDocument:
    title: str
    entries: list[FeedEntry]  # newest first, at most the cap
    total: int  # entries in the document

    @property
    def capped(self) -> bool:
        return self.total > len(self.entries)


def _entry_day(entry: Any) -> str | None:
    """The entry's day as written (its own time zone), else feedparser's reading in UTC."""
    for field in ("published", "updated", "created"):
        raw = entry.get(field)
        if isinstance(raw, str) and (day := read_date(raw)) is not None:
            return day.isoformat()
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(field)
        if parsed:
            return date(*parsed[:3]).isoformat()  # feedparser's reading, in UTC
    return None


def _summary(entry: Any) -> str:
    summary = entry.get("summary") or ""
    contents = entry.get("content") or []
    longest = max((c.get("value") or "" for c in contents), key=len, default="")
    return str(longest if len(longest) > len(summary) else summary)


def _entry(entry: Any) -> FeedEntry:
    link = entry.get("link") or None
    title = " ".join(str(entry.get("title") or "").split())
    summary = _summary(entry)
    key = entry.get("id") or link
    if not key:
        key = "sha256:" + hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()[:32]
    return FeedEntry(
        key=str(key)[:1000],
        title=title,
        link=str(link) if link else None,
        summary=summary,
        published_at=_entry_day(entry),
    )


def parse_feed(body: bytes, *, where: str, max_entries: int) -> FeedDocument:
    """The feed's title and its newest `max_entries` entries, newest first (by date where
    every entry has one, else in the document's order, which feeds keep newest first)."""
    import feedparser

    parsed = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=False)
    kind = parsed.get("version") or ""
    if not parsed.entries and (parsed.get("bozo") or not kind):
        reason = parsed.get("bozo_exception")
        detail = f" ({str(reason)[:200]})" if reason else ""
        raise FeedFormatError(f"{where}: not an RSS or Atom feed{detail}")
    entries = [_entry(e) for e in parsed.entries]
    if entries and all(e.published_at for e in entries):
        entries.sort(key=lambda e: e.published_at or "", reverse=True)  # stable: ties keep order
    title = " ".join(str(parsed.feed.get("title") or "").split())
    return FeedDocument(title=title[:200], entries=entries[:max_entries], total=len(entries))
