"""Fetching an article from an http(s) URL, refusing addresses a stranger should not reach."""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from retrieval.errors import ArticleError
from retrieval.ingest.articles import parse_html, parse_text
from retrieval.types import Article

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AddressRefused",
    "Download",
    "FetchError",
    "check_url",
    "download",
    "fetch_article",
    "is_public_address",
]

MAX_REDIRECTS = 5
MAX_BYTES = 5 * 1024 * 1024
USER_AGENT = "newsbot/0.1 (+article fetcher)"
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown")


# Not globally reachable, yet `is_global` says so on the Python versions newsbot supports
# (corrected in the standard library from 3.12.4): IETF protocol assignments, and IPv6
# documentation and SRv6 SID space.
_ALSO_NOT_GLOBAL = tuple(
    ipaddress.ip_network(net) for net in ("192.0.0.0/24", "3fff::/20", "5f00::/16")
)


class FetchError(ArticleError):
    """A URL that could not be fetched; the message names the URL and the reason."""


class AddressRefused(FetchError):
    """A URL on a private or local address (or not http/https): refused before connecting."""


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses (IPv4-mapped and 6to4 IPv6 judged by
    the IPv4 address inside them)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:  # fec0::/10: deprecated, yet `is_global` calls it global
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour  # 2002:7f00:1:: reaches 127.0.0.1
        if embedded is not None:
            ip = embedded
    if any(ip in net for net in _ALSO_NOT_GLOBAL):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve host {host!r} ({exc.strerror})") from None
    # the resolver's order (RFC 6724's preference), each address once
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(
    url: str, *, allow_private: bool, resolve: Callable[[str, int], list[str]] = _resolve
) -> list[str]:
    """Refuse anything but http and https, look the host up once and refuse it when any of its
    addresses is private or local (unless `allow_private`). Returns the addresses it looked up,
    in the resolver's order: the only ones a download connects to, so a DNS answer that changes
    after the check (rebinding) is never asked for."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or bracketed host
        raise FetchError(f"{url}: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused(f"{url}: only http and https URLs can be fetched")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = list(resolve(parts.hostname, port))
    if not addresses:
        raise FetchError(f"cannot resolve host {parts.hostname!r} (no addresses)")
    blocked = [] if allow_private else [a for a in addresses if not is_public_address(a)]
    if blocked:
        raise AddressRefused(
            f"{url}: refusing to fetch from a private or local address ({blocked[0]})"
        )
    return addresses


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every download: httpx builds a new one per client otherwise, and
    loading the CA bundle cost 20-100 ms a fetch — most of a poll with nothing new."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _open_pinned(
    client: httpx.Client,
    url: str,
    addresses: list[str],
    headers: dict[str, str],
    *,
    deadline: float,
) -> httpx.Response:
    """GET `url` from the first of `addresses` that accepts a connection, never from another:
    the URL's host becomes the address, while the Host header, TLS SNI and the certificate's
    hostname check stay the URL's host. A connection refused or timed out moves on to the next
    address while the download's deadline allows (as the standard library's create_connection,
    which httpx used before, would): no byte of the request was sent."""
    import httpx

    target = httpx.URL(url)
    hostname = target.raw_host.decode("ascii")  # IDNA-encoded, without IPv6 brackets
    headers = {**headers, "Host": target.netloc.decode("ascii")}
    for tried, address in enumerate(addresses, start=1):
        request = client.build_request(
            "GET",
            target.copy_with(host=address),
            headers=headers,
            extensions={"sni_hostname": hostname},
        )
        try:
            return client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            if tried == len(addresses) or time.monotonic() > deadline:
                raise
    raise FetchError(f"{url}: no address to connect to")  # check_url returns at least one


@dataclass(frozen=True)
class Download:
    """What a guarded GET brought back: the status (200, or 304 for a conditional GET whose
    copy is current), the final URL, the response headers and the body."""

    status: int
    url: str
    headers: dict[str, str]
    body: bytes
    content_type: str
    encoding: str | None


def download(
    url: str,
    *,
    timeout_s: float = 15.0,
    allow_private: bool = False,
    resolve: Callable[[str, int], list[str]] = _resolve,
    headers: dict[str, str] | None = None,
    content_types: Callable[[str], bool] = lambda kind: not kind or kind in TEXT_TYPES,
    what: str = "a web page or text",
) -> Download:
    """GET `url`, every redirect hop's host looked up once, checked, and then connected to at
    the very addresses checked (never looked up again), at most MAX_BYTES, within `timeout_s`
    per connect and read and twice it in all (a server dripping bytes). `headers` are sent on
    every hop (a conditional GET's If-None-Match); a 304 comes back as it is, with no body."""
    import httpx

    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
    deadline = time.monotonic() + 2 * timeout_s
    current = url
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    for _ in range(MAX_REDIRECTS + 1):
        addresses = check_url(current, allow_private=allow_private, resolve=resolve)
        # A client per hop: a pooled connection is keyed by address, and one verified for
        # another hostname at the same address must not carry this hop.
        with httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls_context()
        ) as client:
            try:
                response = _open_pinned(client, current, addresses, sent, deadline=deadline)
                try:
                    received = {k.lower(): v for k, v in response.headers.items()}
                    if response.status_code == 304:  # a 3xx, but not a redirect
                        return Download(304, current, received, b"", "", None)
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError(f"{url}: redirect without a location")
                        current = urljoin(current, location)
                        continue
                    if response.status_code >= 400:
                        raise FetchError(f"{url}: the server answered HTTP {response.status_code}")
                    content_type = response.headers.get("content-type", "")
                    content_type = content_type.split(";")[0].strip().lower()
                    if not content_types(content_type):
                        raise FetchError(f"{url}: not {what} ({content_type})")
                    body = bytearray()
                    for piece in response.iter_bytes():
                        body.extend(piece)
                        if len(body) > MAX_BYTES:
                            raise FetchError(f"{url}: the page is larger than {MAX_BYTES} bytes")
                        if time.monotonic() > deadline:
                            raise httpx.ReadTimeout("the whole download took too long")
                    return Download(
                        response.status_code,
                        current,
                        received,
                        bytes(body),
                        content_type,
                        response.encoding,
                    )
                finally:
                    response.close()
            except httpx.TimeoutException:
                raise FetchError(f"{url}: timed out after {timeout_s:g} s") from None
            except httpx.InvalidURL:
                raise FetchError(f"{url}: not a valid URL") from None
            except httpx.HTTPError as exc:
                reason = str(exc) or type(exc).__name__
                raise FetchError(f"{url}: could not connect ({reason})") from None
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def fetch_article(
    url: str,
    *,
    timeout_s: float = 15.0,
    allow_private: bool = False,
    resolve: Callable[[str, int], list[str]] = _resolve,
) -> Article:
    """Download one page (redirects checked hop by hop) and extract its article. `timeout_s`
    bounds each connect and read, and twice it the whole download (a server dripping bytes)."""
    page = download(url, timeout_s=timeout_s, allow_private=allow_private, resolve=resolve)
    text = page.body.decode(page.encoding or "utf-8", errors="replace")
    if page.content_type in ("text/plain", "text/markdown"):
        markdown = page.content_type == "text/markdown"
        return parse_text(text, where=url, markdown=markdown, url=url)
    return parse_html(text, url=url, where=url)
