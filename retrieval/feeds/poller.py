"""Polling followed feeds: a conditional GET of each due feed, then every entry not read
before — its page fetched through the guarded fetcher (the entry's summary when the page
cannot be had), dated, deduplicated and stored — and the feed's next poll scheduled: its
interval with jitter after a success, exponentially later after failures, paused after
too many in a row.

Order of writes, for crash safety: an article is stored whole or not at all (the ingester),
then its entry is marked read, then — after the last entry — the feed's validators are
saved. A poll killed anywhere is completed by the next, which reads the feed in full again:
entries already read are skipped, and an article stored but not yet marked is found by its
id (the hash of its URL) and not stored twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from retrieval.errors import ArticleError
from retrieval.feeds.parse import FeedDocument, FeedEntry, parse_feed
from retrieval.feeds.records import FeedRecords
from retrieval.ingest.articles import article_id, make_article
from retrieval.ingest.fetch import AddressRefused, Download
from retrieval.types import AddResult, Article, Feed, PollReport, StoredArticle

if TYPE_CHECKING:
    from retrieval.ingest.ingester import Ingester

__all__ = ["MAX_BACKOFF_S", "SUMMARY_MARK", "FeedPoller"]

log = logging.getLogger("newsbot.feeds")

MAX_BACKOFF_S = 24 * 3600  # a failing feed is tried at least daily until it is paused
JITTER = 0.1  # ± share of the interval, so feeds followed together do not poll together
SUMMARY_MARK = " (feed summary)"  # ends the title of an article stored from its entry's summary


@dataclass(frozen=True)
class _Prepared:
    """An entry made ready to store: its article (None: skipped, `reason` says why)."""

    entry: FeedEntry
    article: Article | None
    outcome: str  # "page", "summary" or "skipped"
    reason: str | None = None


class FeedPoller:
    """Polls feeds into their knowledge bases. Thread-safe: feeds are polled on `workers`
    threads, each fetching its pages on `page_workers` more, and stored one feed at a time
    (so two feeds carrying one story store it once)."""

    def __init__(
        self,
        *,
        records: FeedRecords,
        ingester: Ingester,
        fetch_feed: Callable[[str, dict[str, str]], Download],
        fetch_page: Callable[[str], Article],
        max_entries: int,
        pause_after: int,
        workers: int = 4,
        page_workers: int = 4,
        lease_s: float = 1800.0,
        clock: Callable[[], float] = time.time,
        today: Callable[[], date] = date.today,
        rng: random.Random | None = None,
    ) -> None:
        self.records = records
        self.ingester = ingester
        self.fetch_feed = fetch_feed
        self.fetch_page = fetch_page
        self.max_entries = max_entries
        self.pause_after = pause_after
        self.workers = workers
        self.page_workers = page_workers
        self.lease_s = lease_s
        self.clock = clock
        self.today = today
        self.rng = rng or random.Random()
        self._store_lock = threading.Lock()

    # -- many feeds ------------------------------------------------------------------------
    def poll_due(
        self,
        *,
        due_only: bool = True,
        on_report: Callable[[PollReport], None] | None = None,
        guilds: Callable[[int | None], bool] | None = None,
    ) -> list[PollReport]:
        """Poll the active feeds that are due (or all of them; with `guilds`, only those
        of the servers it accepts), several at once; each report goes to `on_report` as its
        feed finishes. A feed that fails is reported and scheduled again; the others go on."""
        feeds = self.records.claim(
            now=self.clock(), lease_s=self.lease_s, due_only=due_only, guilds=guilds
        )
        reports: list[PollReport] = []
        if not feeds:
            return reports
        with ThreadPoolExecutor(
            max_workers=min(self.workers, len(feeds)), thread_name_prefix="newsbot-feed"
        ) as pool:
            for done in as_completed([pool.submit(self.poll, feed) for feed in feeds]):
                report = done.result()
                reports.append(report)
                if on_report is not None:
                    on_report(report)
        return reports

    def _delay(self, seconds: float) -> float:
        return self.clock() + seconds * self.rng.uniform(1 - JITTER, 1 + JITTER)

    # -- one feed --------------------------------------------------------------------------
    def poll(self, feed: Feed) -> PollReport:
        """Poll one feed now. Never raises for what a feed or a page can do wrong: the
        report says it (and a bug is logged with its traceback and reported as an error)."""
        try:
            return self._poll(feed)
        except ArticleError as exc:
            return self._failed(feed, str(exc))
        except Exception as exc:
            log.exception("polling %s failed", feed.url)
            return self._failed(feed, f"{type(exc).__name__}: {exc}")

    def _failed(self, feed: Feed, error: str) -> PollReport:
        failures = feed.failures + 1
        pause = failures >= self.pause_after
        backoff = min(feed.interval_s * 2.0**failures, MAX_BACKOFF_S)
        self.records.failed(feed.id, error=error, next_poll_at=self._delay(backoff), pause=pause)
        log.info("feed %s failed (%d in a row%s): %s", feed.url, failures,
                 ", paused" if pause else "", error)  # fmt: skip
        return PollReport(feed=self.records.get(feed.id) or feed, error=error)

    def _poll(self, feed: Feed) -> PollReport:
        etag, modified = self.records.validators(feed.id)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        got = self.fetch_feed(feed.url, headers)
        if got.status == 304:
            self.records.succeeded(
                feed.id,
                next_poll_at=self._delay(feed.interval_s),
                etag=None,
                last_modified=None,
                title=None,
                note=None,
                not_modified=True,
            )
            return PollReport(feed=self.records.get(feed.id) or feed, not_modified=True)
        document = parse_feed(got.body, where=feed.url, max_entries=self.max_entries)
        note = (
            f"the feed lists {document.total} entries; each poll reads the newest "
            f"{len(document.entries)}"
            if document.capped
            else None
        )
        unseen = set(self.records.unseen(feed.id, [e.key for e in document.entries]))
        new = [e for e in document.entries if e.key in unseen]
        added, duplicates, summaries, skipped = self._read_entries(feed, document, new)
        self.records.succeeded(
            feed.id,
            next_poll_at=self._delay(feed.interval_s),
            etag=got.headers.get("etag"),
            last_modified=got.headers.get("last-modified"),
            title=document.title,
            note=note,
            not_modified=False,
        )
        return PollReport(
            feed=self.records.get(feed.id) or feed,
            entries=document.total,
            new_entries=len(new),
            added=sorted(added, key=lambda a: a.published_at or "", reverse=True),
            duplicates=duplicates,
            summaries=summaries,
            skipped=skipped,
            note=note,
        )

    def _read_entries(
        self, feed: Feed, document: FeedDocument, entries: list[FeedEntry]
    ) -> tuple[list[StoredArticle], int, int, list[str]]:
        store = self.ingester.store
        entries = [replace(e, link=urljoin(feed.url, e.link) if e.link else None) for e in entries]
        # An entry whose URL is stored already (another feed's, a kill before it was marked)
        # costs no fetch.
        known = [
            (e.key, article_id("", e.link), "duplicate")
            for e in entries
            if e.link and store.has_article(feed.kb, article_id("", e.link))
        ]
        self.records.mark_read(feed.id, known)
        known_keys = {key for key, _, _ in known}
        to_fetch = [e for e in entries if e.key not in known_keys]
        outlet = document.title or feed.title
        with ThreadPoolExecutor(
            max_workers=self.page_workers, thread_name_prefix="newsbot-page"
        ) as pool:
            prepared = list(pool.map(lambda e: self._prepare(e, outlet), to_fetch))

        skipped = [f"{p.entry.title or p.entry.key}: {p.reason}" for p in prepared if p.reason]
        self.records.mark_read(
            feed.id, [(p.entry.key, None, "skipped") for p in prepared if p.article is None]
        )
        ready = [p for p in prepared if p.article is not None]
        waiting: dict[str, list[_Prepared]] = {}
        for p in ready:
            assert p.article is not None
            waiting.setdefault(p.article.id, []).append(p)
        added: list[StoredArticle] = []
        counts = {"duplicates": len(known), "summaries": 0}

        def stored(result: AddResult) -> None:
            p = waiting[result.article_id].pop(0)
            assert p.article is not None
            outcome = p.outcome if result.status == "added" else "duplicate"
            self.records.mark_read(feed.id, [(p.entry.key, result.article_id, outcome)])
            if result.status != "added":
                counts["duplicates"] += 1
                return
            counts["summaries"] += p.outcome == "summary"
            article = p.article
            added.append(
                StoredArticle(
                    id=article.id,
                    title=article.title,
                    source=article.source,
                    url=article.url,
                    published_at=article.published_at,
                    chunks=result.chunks,
                    chars=len(article.text),
                )
            )

        with self._store_lock:
            self.ingester.add_many(
                [p.article for p in ready if p.article is not None], kb=feed.kb, on_result=stored
            )
        return added, counts["duplicates"], counts["summaries"], skipped

    def _prepare(self, entry: FeedEntry, outlet: str) -> _Prepared:
        """The entry's article: its page, else its summary, else nothing (and why)."""
        day = entry.published_at
        if entry.link:
            try:
                page = self.fetch_page(entry.link)
            except AddressRefused as exc:
                # never its summary either: the feed pointed at an address it may not
                return _Prepared(entry, None, "skipped", str(exc))
            except ArticleError as exc:
                reason = str(exc)
            else:
                article = replace(
                    page,
                    title=entry.title or page.title,
                    source=outlet or page.source,
                    published_at=day or page.published_at or self.today().isoformat(),
                )
                return self._checked(entry, article, "page")
        else:
            reason = "the entry has no link"
        try:
            summary = make_article(
                text=entry.summary,
                title=(entry.title or "Untitled") + SUMMARY_MARK,
                url=entry.link,
                source=outlet or None,
                published_at=day or self.today().isoformat(),
                where=entry.link or entry.key,
            )
        except ArticleError:
            return _Prepared(entry, None, "skipped", f"{reason}, and it has no summary")
        return self._checked(entry, summary, "summary")

    def _checked(self, entry: FeedEntry, article: Article, outcome: str) -> _Prepared:
        refusal = self.ingester.refusal(article)
        if refusal is not None:
            return _Prepared(entry, None, "skipped", str(refusal))
        return _Prepared(entry, article, outcome)
