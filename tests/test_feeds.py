"""Following feeds and polling them, against a news site on 127.0.0.1 (tests/feed_site.py):
what a first and a second poll store and cost, new entries, duplicates, and everything that
can go wrong with a feed or an entry, none of which stops the others.

Connections go to 127.0.0.1 only (the guard below fails a test that tries anything else).
The service may reach loopback (`allow_private_urls`, as every fetch test), but article pages
are fetched with private addresses refused for every host but 127.0.0.1: so an entry linking
to 10.0.0.1 is refused by the fetcher's own check before any connection, as in production."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from feed_site import FeedSite, Story, feed_site, town_story

from retrieval.errors import ArticleError
from retrieval.ingest.fetch import fetch_article
from retrieval.service import SUMMARY_MARK, NewsService
from retrieval.types import Article, PollReport

pytestmark = pytest.mark.server

FEED_SETTINGS = {"allow_private_urls": True, "fetch_timeout_s": 0.5, "feed_max_entries": 25}


@pytest.fixture(autouse=True)
def _connect_to_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] != "127.0.0.1":
            raise AssertionError(f"a test tried to connect to {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def loopback_pages(timeout_s: float) -> Callable[[str], Article]:
    """The article fetcher with private addresses refused, except the test site's 127.0.0.1."""

    def fetch(url: str) -> Article:
        on_site = urlsplit(url).hostname == "127.0.0.1"
        return fetch_article(url, timeout_s=timeout_s, allow_private=on_site)

    return fetch


@pytest.fixture
def site() -> Iterator[FeedSite]:
    with feed_site() as running:
        yield running


@pytest.fixture
def feeds(make_fake_service: Callable[..., NewsService]) -> NewsService:
    service = make_fake_service(**FEED_SETTINGS)
    assert service.feeds is not None
    service.feeds.fetch_page = loopback_pages(FEED_SETTINGS["fetch_timeout_s"])  # type: ignore[arg-type]
    return service


def poll(service: NewsService) -> dict[str, PollReport]:
    return {r.feed.url: r for r in service.poll_feeds(due_only=False)}


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_first_poll_stores_every_entry_and_a_second_costs_one_304(
    feeds: NewsService, site: FeedSite, kind: str
) -> None:
    stories = [town_story(n, day=f"2024-09-{n + 1:02d}") for n in range(6)]
    url = site.add_feed("/feed.xml", kind, "Valley Gazette", stories)
    feed, created = feeds.follow_feed(url)
    assert created and feed.title == "Valley Gazette" and feed.kb == "default"

    [report] = poll(feeds).values()
    assert report.error is None and not report.not_modified
    assert (report.entries, report.new_entries, len(report.added)) == (6, 6, 6)
    stored = {a.url: a for a in feeds.list()}
    for story in stories:
        article = stored[f"{site.base}{story.path}"]
        assert article.title == story.title
        assert article.published_at == story.day  # the entry's date
        assert article.source == "Valley Gazette"
        assert "council voted on Monday" in (feeds.get(article.id) or Article("", "", "")).text
    assert [a.published_at for a in report.added] == sorted(
        (s.day for s in stories if s.day), reverse=True
    )

    before = len(site.requested())
    [again] = poll(feeds).values()
    assert again.not_modified and again.added == [] and again.error is None
    assert site.requested()[before:] == [("/feed.xml", 304)]  # one request, nothing read
    assert len(feeds.list()) == 6


def test_a_new_entry_is_stored_once(feeds: NewsService, site: FeedSite) -> None:
    url = site.add_feed("/feed.xml", "rss", "Valley Gazette", [town_story(n) for n in range(3)])
    feeds.follow_feed(url)
    poll(feeds)
    site.add_story("/feed.xml", town_story(7))
    [report] = poll(feeds).values()
    assert [a.title for a in report.added] == [town_story(7).title]
    assert report.new_entries == 1
    assert site.requested("/news/7") == [("/news/7", 200)]
    [again] = poll(feeds).values()
    assert again.not_modified
    assert len(feeds.list()) == 4


def test_a_story_in_two_feeds_or_under_two_urls_is_stored_once(
    feeds: NewsService, site: FeedSite
) -> None:
    shared = town_story(1)
    copy = Story("/copy/1", "Another headline", shared.body)  # same body, another URL
    one = site.add_feed("/one.xml", "rss", "One", [town_story(0), shared])
    two = site.add_feed("/two.xml", "atom", "Two", [shared, copy])
    feeds.follow_feed(one)
    feeds.follow_feed(two)
    reports = poll(feeds)
    assert sum(len(r.added) for r in reports.values()) == 2
    assert sum(r.duplicates for r in reports.values()) == 2
    assert len(feeds.list()) == 2
    assert len(site.requested("/news/1")) <= 2  # at most each feed's own read of the page


def test_bad_feeds_and_bad_entries_stop_nothing_else(feeds: NewsService, site: FeedSite) -> None:
    good = site.add_feed("/good.xml", "rss", "Good", [town_story(n) for n in range(3)])
    broken = site.add_feed("/broken.xml", "rss", "Broken", [town_story(20)])
    looping = site.add_feed("/loop-feed.xml", "rss", "Looping", [town_story(21)])
    huge = site.add_feed(
        "/huge.xml", "rss", "Huge", [town_story(100 + n, prefix="/huge") for n in range(5000)]
    )
    private = Story("/x", "Private", "", summary="Must not be stored.", link="http://10.0.0.1/x")
    loop = town_story(30)
    loop.link = f"{site.base}/loop/story"
    slow = town_story(31)
    slow.link = f"{site.base}/slow/story"
    mixed = site.add_feed("/mixed.xml", "atom", "Mixed", [private, loop, slow, town_story(32)])
    for url in (good, broken, looping, huge, mixed):
        feeds.follow_feed(url)
    # broken after they were followed
    site.raw["/broken.xml"] = (200, {"Content-Type": "application/rss+xml"}, b"\x00{ not xml")
    site.feeds.pop("/loop-feed.xml")
    site.raw["/loop-feed.xml"] = (302, {"Location": "/loop-feed.xml"}, b"")

    started = time.monotonic()
    reports = poll(feeds)
    assert time.monotonic() - started < 30

    assert len(reports[good].added) == 3 and reports[good].error is None
    assert "not an RSS or Atom feed" in (reports[broken].error or "")
    assert "redirects" in (reports[looping].error or "")
    assert reports[huge].entries == 5000 and len(reports[huge].added) == 25
    assert "5000 entries" in (reports[huge].note or "")
    listed = {f.url: f for f in feeds.feeds_followed()}
    assert "5000 entries" in (listed[huge].note or "")
    assert listed[broken].failures == 1 and listed[broken].last_error

    report = reports[mixed]
    assert report.error is None
    assert [a.title for a in report.added if not a.title.endswith(SUMMARY_MARK)] == [
        town_story(32).title
    ]
    summaries = {a.title for a in report.added if a.title.endswith(SUMMARY_MARK)}
    assert summaries == {loop.title + SUMMARY_MARK, slow.title + SUMMARY_MARK}
    assert report.summaries == 2
    [refused] = report.skipped
    assert "private or local address" in refused
    assert not [a for a in feeds.list() if a.url == "http://10.0.0.1/x"]

    # each skipped or summarised entry is read once: the next poll reads nothing again
    site.add_story("/mixed.xml", town_story(33))
    again = poll(feeds)[mixed]
    assert [a.title for a in again.added] == [town_story(33).title]


def test_following_what_is_not_a_feed_is_refused(feeds: NewsService, site: FeedSite) -> None:
    site.raw["/page"] = (200, {"Content-Type": "text/html"}, b"<html><body>Hello</body></html>")
    with pytest.raises(ArticleError, match="not an RSS or Atom feed"):
        feeds.follow_feed(f"{site.base}/page")
    with pytest.raises(ArticleError, match="http"):
        feeds.follow_feed("file:///etc/passwd")
    assert feeds.feeds_followed() == []


def test_a_failing_feed_backs_off_then_pauses_and_following_it_again_resumes(
    make_fake_service: Callable[..., NewsService], site: FeedSite
) -> None:
    service = make_fake_service(**FEED_SETTINGS, feed_pause_after=3, feed_interval_s=100)
    assert service.feeds is not None
    now = [1_000_000.0]
    service.feeds.clock = lambda: now[0]
    url = site.add_feed("/feed.xml", "rss", "Flaky", [town_story(0)])
    service.follow_feed(url)
    site.raw["/feed.xml"] = (500, {}, b"down")
    waits = []
    for _ in range(3):
        [report] = service.poll_feeds()  # due at once, then when the backoff says
        assert "HTTP 500" in (report.error or "")
        waits.append(report.feed.next_poll_at - now[0])
        now[0] = report.feed.next_poll_at
    assert 180 <= waits[0] <= 220 and 360 <= waits[1] <= 440  # doubling, with jitter
    [feed] = service.feeds_followed()
    assert (feed.state, feed.failures) == ("paused", 3)
    assert "HTTP 500" in (feed.last_error or "")
    now[0] += 10**6
    assert service.poll_feeds() == []  # paused: not polled

    del site.raw["/feed.xml"]
    resumed, created = service.follow_feed(url)
    assert not created and (resumed.state, resumed.failures) == ("active", 0)
    [report] = service.poll_feeds()
    assert report.error is None and len(report.added) == 1


def test_only_due_feeds_are_polled_and_each_on_its_interval(
    make_fake_service: Callable[..., NewsService], site: FeedSite
) -> None:
    service = make_fake_service(**FEED_SETTINGS, feed_interval_s=600)
    assert service.feeds is not None
    now = [5_000_000.0]
    service.feeds.clock = lambda: now[0]
    service.follow_feed(site.add_feed("/a.xml", "rss", "A", [town_story(0)]))
    service.follow_feed(site.add_feed("/b.xml", "rss", "B", [town_story(1)]), interval_s=60)
    assert len(service.poll_feeds()) == 2
    assert service.poll_feeds() == []  # nothing due yet
    now[0] += 70
    assert [r.feed.title for r in service.poll_feeds()] == ["B"]
    due = service.next_feed_due()
    assert due is not None and now[0] + 50 <= due <= now[0] + 70


def test_unfollowing_a_feed_keeps_its_articles(feeds: NewsService, site: FeedSite) -> None:
    url = site.add_feed("/feed.xml", "rss", "Gazette", [town_story(0)])
    feed, _ = feeds.follow_feed(url, kb="local")
    poll(feeds)
    assert feeds.unfollow_feed(url, kb="other") is None  # another knowledge base's: untouched
    unfollowed = feeds.unfollow_feed(str(feed.id), kb="local")
    assert unfollowed is not None and unfollowed.url == url
    assert feeds.feeds_followed() == []
    assert len(feeds.list(kb="local")) == 1
