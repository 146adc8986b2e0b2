"""`newsbot feeds add/list/remove`, `newsbot watch --once` and `newsbot latest`, through
click's runner, against the news site on 127.0.0.1 (tests/feed_site.py) and a real store on
the fake embedder."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result
from feed_site import FeedSite, feed_site, town_story

from bot.cli import Context, main
from retrieval.service import NewsService

pytestmark = pytest.mark.server


@pytest.fixture
def site() -> Iterator[FeedSite]:
    with feed_site() as running:
        yield running


@pytest.fixture
def service(make_fake_service: Callable[..., NewsService]) -> NewsService:
    return make_fake_service(allow_private_urls=True, fetch_timeout_s=1.0, today="2024-09-10")


def run(service: NewsService, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), obj=Context(_service=service))


def test_follow_a_feed_watch_it_once_and_list_it(service: NewsService, site: FeedSite) -> None:
    url = site.add_feed("/feed.xml", "rss", "Valley Gazette", [town_story(n) for n in range(3)])
    added = run(service, "feeds", "add", url, "--every", "30")
    assert added.exit_code == 0, added.output
    assert "following Valley Gazette into 'default' (feed 1)" in added.output

    watched = run(service, "watch", "--once")
    assert watched.exit_code == 0, watched.output
    assert "Valley Gazette: 3 new articles" in watched.output
    assert "polled 1 feed(s): 3 new article(s), 0 failed" in watched.output
    again = run(service, "watch", "--once")
    assert "Valley Gazette: not modified" in again.output

    listed = run(service, "feeds", "list")
    assert listed.exit_code == 0
    assert "  1  active  Valley Gazette  [default]" in listed.output
    assert url in listed.output and "every 30 min · 3 entries read" in listed.output

    removed = run(service, "feeds", "remove", "1")
    assert removed.exit_code == 0 and "stopped following Valley Gazette" in removed.output
    assert "No feeds followed" in run(service, "feeds", "list").output
    assert len(service.list()) == 3  # the articles stay
    missing = run(service, "feeds", "remove", "1")
    assert missing.exit_code == 1 and "error: no feed '1' is followed" in missing.output


def test_a_failing_feed_shows_its_state_and_last_error(
    service: NewsService, site: FeedSite
) -> None:
    url = site.add_feed("/feed.xml", "atom", "Flaky", [town_story(0)])
    run(service, "feeds", "add", url)
    site.raw["/feed.xml"] = (503, {}, b"busy")
    watched = run(service, "watch", "--once")
    assert watched.exit_code == 1
    assert "Flaky: failed (1 in a row, tried again later)" in watched.output
    assert "HTTP 503" in watched.output
    listed = run(service, "feeds", "list").output
    assert "last error (1 failure in a row):" in listed and "HTTP 503" in listed


def test_following_a_page_that_is_not_a_feed_is_one_error_line(
    service: NewsService, site: FeedSite
) -> None:
    site.raw["/page"] = (200, {"Content-Type": "text/html"}, b"<html><body>Hi</body></html>")
    result = run(service, "feeds", "add", f"{site.base}/page")
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "not an RSS or Atom feed" in result.output


def test_latest_lists_the_newest_articles_dated_linked_and_cited(
    service: NewsService, site: FeedSite
) -> None:
    days = ["2024-09-09", "2024-09-05", "2024-08-20"]
    stories = [town_story(n, day=day) for n, day in enumerate(days)]
    url = site.add_feed("/feed.xml", "rss", "Valley Gazette", stories)
    run(service, "feeds", "add", url)
    run(service, "watch", "--once")

    result = run(service, "latest")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Newest articles of the last 7 days:"
    assert lines[2] == f"[1] {stories[0].title} — Valley Gazette, 2024-09-09"
    assert lines[3].startswith("    The Arden council voted on Monday to rebuild the old bridge")
    assert f"    {site.base}/news/0" in lines
    assert f"[2] {stories[1].title} — Valley Gazette, 2024-09-05" in lines
    assert stories[2].title not in result.output  # older than 7 days

    month = run(service, "latest", "--days", "30", "--json")
    found = json.loads(month.output)
    assert [c["n"] for c in found] == [1, 2, 3]
    assert [c["published_at"] for c in found] == days
    for citation in found:
        article = service.get(citation["article_id"])
        assert article is not None and citation["quote"] in article.text

    topic = run(service, "latest", "traffic Corran", "--days", "30")
    assert "about “traffic Corran”" in topic.output
    assert "[1] Corran votes to rebuild its bridge" in topic.output
    assert "Residents of Corran said traffic had fallen by 12 percent" in topic.output
    assert "[2]" not in topic.output  # every story mentions traffic; one of them Corran
    every = run(service, "latest", "traffic", "--days", "30").output
    assert "[3] Corran votes" in every and "[1] Arden votes" in every  # newest first
