"""A news site on 127.0.0.1 for the feed tests and the feeds benchmark: RSS 2.0 and Atom feeds
with ETag and Last-Modified (a matching conditional GET is answered 304), the article pages
they link to, and the awkward cases — a redirect loop, a page that never finishes. Every
request is recorded, so a test can say what a poll cost."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from xml.sax.saxutils import escape

from loopback_http import serving

TOWNS = ["Arden", "Bexley", "Corran", "Dunmore", "Elstow", "Fenwick", "Garth", "Holloway",
         "Ilkley", "Jarrow", "Kelso", "Ledbury", "Morley", "Nairn", "Oakham", "Penrith"]  # fmt: skip
LAST_MODIFIED = format_datetime(datetime(2024, 9, 6, 12, 0, tzinfo=UTC), usegmt=True)


@dataclass
class Story:
    """One article: its entry in a feed and its page at `path`."""

    path: str
    title: str
    body: str  # paragraphs separated by blank lines
    day: str | None = "2024-09-06"  # the entry's date (ISO day), None for an undated entry
    summary: str = ""
    link: str | None = None  # the entry's link, if not this site's `path`


def town_story(n: int, prefix: str = "/news", day: str | None = "2024-09-06") -> Story:
    """A short article of its own: a town (and a number) no other story of the same n shares."""
    town = f"{TOWNS[n % len(TOWNS)]}{'' if n < len(TOWNS) else n}"
    body = "\n\n".join(
        [
            f"The {town} council voted on Monday to rebuild the old bridge over the river, "
            f"ending a dispute that had run for {n + 3} months.",
            f"Work in {town} will start in spring and cost {n + 2} million pounds in all, "
            "the council's treasurer told reporters after the meeting.",
            f"Residents of {town} said traffic had fallen by {10 + n} percent while the "
            "crossing was shut, and shops near the bridge lost trade.",
        ]
    )
    return Story(
        path=f"{prefix}/{n}",
        title=f"{town} votes to rebuild its bridge",
        body=body,
        day=day,
        summary=f"The {town} council voted to rebuild the bridge.",
    )


def page_html(story: Story) -> bytes:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in story.body.split("\n\n"))
    return (
        f"<!doctype html><html><head><title>{escape(story.title)}</title></head><body>"
        f"<nav>Home | World</nav><article><h1>{escape(story.title)}</h1>{paragraphs}"
        "</article><footer>Copyright</footer></body></html>"
    ).encode()


def _rfc822(day: str) -> str:
    return format_datetime(datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC), usegmt=True)


def rss(base: str, title: str, stories: list[Story]) -> bytes:
    items = []
    for s in stories:
        link = s.link or f"{base}{s.path}"
        date = f"<pubDate>{_rfc822(s.day)}</pubDate>" if s.day else ""
        items.append(
            f"<item><title>{escape(s.title)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="true">{escape(link)}</guid>{date}'
            f"<description>{escape(s.summary)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{base}/</link><description>News</description>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def atom(base: str, title: str, stories: list[Story]) -> bytes:
    entries = []
    for s in stories:
        link = s.link or f"{base}{s.path}"
        updated = f"<updated>{s.day}T09:00:00Z</updated>" if s.day else ""
        entries.append(
            f"<entry><title>{escape(s.title)}</title>"
            f'<link rel="alternate" href="{escape(link)}"/><id>tag:site,2024:{escape(s.path)}</id>'
            f"{updated}<summary>{escape(s.summary)}</summary></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>tag:site,2024:feed</id>"
        f"<updated>2024-09-06T09:00:00Z</updated>{''.join(entries)}</feed>"
    ).encode()


@dataclass
class FeedSite:
    """The site's state; tests change it between polls (a new story, a new feed)."""

    base: str = ""
    feeds: dict[str, tuple[str, str, list[Story]]] = field(
        default_factory=dict
    )  # path → kind, title, stories
    raw: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    pages: dict[str, Story] = field(default_factory=dict)
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, status answered)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_feed(self, path: str, kind: str, title: str, stories: list[Story]) -> str:
        self.feeds[path] = (kind, title, stories)
        for story in stories:
            self.pages.setdefault(story.path, story)
        return f"{self.base}{path}"

    def add_story(self, feed_path: str, story: Story) -> None:
        """A new story, at the top of the feed (so the feed's ETag changes)."""
        self.feeds[feed_path][2].insert(0, story)
        self.pages[story.path] = story

    def requested(self, prefix: str = "") -> list[tuple[str, int]]:
        with self.lock:
            return [r for r in self.requests if r[0].startswith(prefix)]

    def document(self, path: str) -> bytes:
        kind, title, stories = self.feeds[path]
        return (rss if kind == "rss" else atom)(self.base, title, stories)


@contextmanager
def feed_site() -> Iterator[FeedSite]:
    """The site, served on a free port of 127.0.0.1 until the block ends."""
    site = FeedSite()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            with site.lock:
                site.requests.append((self.path, status))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path
            if path in site.raw:  # what a test put in a feed's place
                self._send(*site.raw[path])
            elif path in site.feeds:
                body = site.document(path)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                fresh = self.headers.get("If-None-Match") == etag
                if fresh and self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                    self._send(304, {"ETag": etag}, b"")
                    return
                headers = {
                    "Content-Type": "application/rss+xml"
                    if site.feeds[path][0] == "rss"
                    else "application/atom+xml",
                    "ETag": etag,
                    "Last-Modified": LAST_MODIFIED,
                }
                self._send(200, headers, body)
            elif path.startswith("/loop"):
                self._send(302, {"Location": path}, b"")
            elif path.startswith("/slow"):
                self._drip()
            elif path in site.pages:
                self._send(
                    200, {"Content-Type": "text/html; charset=utf-8"}, page_html(site.pages[path])
                )
            else:
                self._send(404, {"Content-Type": "text/plain"}, b"not found")

        def _drip(self) -> None:
            """A page that never finishes: a byte now and then, until the test is over."""
            with site.lock:
                site.requests.append((self.path, 200))
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                while not site.stop.wait(0.2):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            except OSError:
                pass  # the client gave up

    try:
        with serving(Handler) as base:
            site.base = base
            yield site
    finally:
        site.stop.set()
        time.sleep(0.01)
