"""Fetching articles by URL, against servers on loopback only."""

from __future__ import annotations

import pytest
from loopback_http import closed_port, serve
from test_articles import HTML_PAGE

from retrieval.errors import ArticleError
from retrieval.ingest.fetch import FetchError, check_url, fetch_article, is_public_address

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("224.0.0.1", False),
        ("ff02::1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("240.0.0.1", False),
        ("100.64.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", True),
    ],
)
def test_only_public_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://[::1]/x", "http://localhost/x"])
def test_loopback_urls_are_refused_by_default(url: str) -> None:
    with pytest.raises(FetchError, match="private or local address"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["ftp://example.org/a", "file:///etc/passwd", "http:///nohost"])
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        check_url(url, allow_private=True)


@pytest.mark.server
def test_a_page_on_loopback_is_fetched_and_extracted_when_allowed() -> None:
    routes = {"/story": (200, HTML, HTML_PAGE.encode())}
    with serve(routes) as base:
        article = fetch_article(f"{base}/story", allow_private=True)
    assert "6% pay rise" in article.text
    assert article.url == f"{base}/story"


@pytest.mark.server
def test_redirects_are_followed_and_plain_text_works() -> None:
    routes = {
        "/old": (301, {"Location": "/new"}, b""),
        "/new": (200, {"Content-Type": "text/plain"}, b"Headline\n\nThe body of the story."),
    }
    with serve(routes) as base:
        article = fetch_article(f"{base}/old", allow_private=True)
    assert (article.title, article.text) == ("Headline", "The body of the story.")


@pytest.mark.server
def test_the_default_refuses_a_loopback_server() -> None:
    with (
        serve({"/story": (200, HTML, HTML_PAGE.encode())}) as base,
        pytest.raises(FetchError, match="private or local"),
    ):
        fetch_article(f"{base}/story")


@pytest.mark.server
@pytest.mark.parametrize(
    ("route", "message"),
    [
        ((404, HTML, b"gone"), "HTTP 404"),
        ((200, {"Content-Type": "application/pdf"}, b"%PDF-1.7"), "not a web page"),
        ((200, HTML, b"<html><body><script>x()</script></body></html>"), "no article text"),
        ((302, {"Location": "/story"}, b""), "redirects"),
    ],
)
def test_bad_responses_give_one_clear_error(route: tuple, message: str) -> None:
    with serve({"/story": route}) as base, pytest.raises(ArticleError, match=message):
        fetch_article(f"{base}/story", allow_private=True)


def test_an_unreachable_url_is_reported() -> None:
    with pytest.raises(FetchError, match="could not connect"):
        fetch_article(f"http://127.0.0.1:{closed_port()}/x", allow_private=True, timeout_s=5)
