"""SSRF: what a stranger's URL may reach. Connections go to 127.0.0.1 only; every other range is
proved on the pure address check, or refused before any connection is opened."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback_http import self_signed_cert, serve, serving
from test_articles import HTML_PAGE

from retrieval.errors import ArticleError
from retrieval.ingest import fetch
from retrieval.ingest.fetch import FetchError, check_url, fetch_article, is_public_address

HTML = {"Content-Type": "text/html; charset=utf-8"}
PUBLIC_V4 = "93.184.216.34"


@pytest.fixture(autouse=True)
def _connect_to_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken check must fail these tests, never reach out: every socket connects to a
    loopback address only (judged on the address itself, after any name lookup)."""
    real = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0]).split("%", 1)[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise AssertionError(f"a test tried to connect to {host}")
        real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def resolving_to(*addresses: str) -> Callable[[str, int], list[str]]:
    return lambda host, port: list(addresses)


# -- the address check: a pure function, many cases ------------------------------------------

REFUSED = [
    # IPv4: loopback, private, shared (CGNAT), link-local (cloud metadata), multicast,
    # reserved, broadcast, unspecified, documentation and benchmarking nets
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "192.168.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "198.18.0.1",
    "192.0.0.8",
    # IPv6: loopback, unspecified, unique-local, link-local (with a zone), site-local,
    # multicast, documentation, discard, NAT64, Teredo, IPv4-compatible
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "ff02::1",
    "ff05::1:3",
    "2001:db8::1",
    "100::1",
    "64:ff9b::a9fe:a9fe",
    "2001:0:4136:e378::1",
    "::7f00:1",
    "3fff::1",
    "5f00::1",
    # IPv4 inside IPv6: mapped (both spellings) and 6to4, judged by the IPv4 address
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:192.168.1.1",
    "::ffff:0.0.0.0",
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::",
    "2002:c0a8:101::1",
    "2002:a00:1::",
]
ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "151.101.1.69",
    "::ffff:93.184.216.34",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2001:4860:4860::8888",
    "2002:5db8:d822::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert is_public_address(address) is False


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address) is True


BLOCKED_NETS = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
]


@st.composite
def blocked_addresses(draw: st.DrawFn) -> str:
    net = draw(st.sampled_from(BLOCKED_NETS))
    ip = net[draw(st.integers(0, net.num_addresses - 1))]
    form = draw(
        st.sampled_from(["plain", "mapped", "6to4"]) if ip.version == 4 else st.just("plain")
    )
    if form == "mapped":
        return f"::ffff:{ip}"
    if form == "6to4":
        return str(ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80)))
    return str(ip)


@settings(max_examples=400, deadline=None)
@given(blocked_addresses())
def test_every_address_of_a_blocked_range_is_refused_in_every_spelling(address: str) -> None:
    assert is_public_address(address) is False


@settings(max_examples=300, deadline=None)
@given(st.ip_addresses())
def test_the_check_agrees_with_the_standard_library_and_never_crashes(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    public = is_public_address(str(ip))
    if public:  # what it lets through is global unicast, judged by any IPv4 address inside
        inner = ip.ipv4_mapped or ip.sixtofour if isinstance(ip, ipaddress.IPv6Address) else None
        judged = inner or ip
        assert judged.is_global and not (judged.is_multicast or judged.is_reserved)
    if any(ip in net for net in BLOCKED_NETS if net.version == ip.version):
        assert not public


# -- check_url: schemes, every resolved address ----------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "ftp://example.org/a",
        "gopher://example.org/",
        "javascript:alert(1)",
        "data:text/html,<p>x</p>",
        "dict://127.0.0.1:11211/",
        "ldap://example.org/",
        "http:///nohost",
        "//example.org/a",
        "example.org/a",
    ],
)
def test_only_http_and_https_urls_are_fetched(url: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://example.org:99999/", "http://[::1/", "http://a:b@c:x/"])
def test_malformed_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises(FetchError, match="not a valid URL"):
        check_url(url, allow_private=False, resolve=resolving_to(PUBLIC_V4))


@pytest.mark.parametrize(
    "addresses",
    [
        (PUBLIC_V4, "10.0.0.1"),
        ("169.254.169.254", PUBLIC_V4),
        (PUBLIC_V4, "2606:2800:220:1::1", "::1"),
        ("2606:2800:220:1::1", "::ffff:127.0.0.1"),
        ("fd00::1",),
    ],
)
def test_one_private_address_among_the_resolved_ones_refuses_the_url(
    addresses: tuple[str, ...],
) -> None:
    with pytest.raises(FetchError, match="private or local address"):
        check_url(
            "https://news.example/story", allow_private=False, resolve=resolving_to(*addresses)
        )


@pytest.mark.parametrize(
    ("url", "port"), [("https://news.example/story", 443), ("http://news.example:8080/a", 8080)]
)
def test_a_host_whose_addresses_are_all_public_passes(url: str, port: int) -> None:
    """Passed after the host's addresses were looked up (on the URL's port), not waved through."""
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return [PUBLIC_V4, "2606:2800:220:1:248:1893:25c8:1946"]

    addresses = check_url(url, allow_private=False, resolve=resolve)
    assert addresses == [PUBLIC_V4, "2606:2800:220:1:248:1893:25c8:1946"]  # the resolver's order
    assert asked == [("news.example", port)]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://[::1]/x",
        "http://localhost/x",
        "http://127.1/x",
        "http://2130706433/x",
        "http://0x7f.0.0.1/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "http://LOCALHOST./x",
    ],
)
def test_loopback_in_any_spelling_is_refused_by_default(url: str) -> None:
    with pytest.raises(FetchError, match=r"private or local address|cannot resolve"):
        check_url(url, allow_private=False)


# -- fetching, against servers on 127.0.0.1 ---------------------------------------------------


@pytest.mark.server
def test_the_default_refuses_a_loopback_server_that_redirects_to_another_loopback_address() -> None:
    with serve({"/new": (200, HTML, HTML_PAGE.encode())}) as target:
        port = target.rsplit(":", 1)[1]
        routes = {"/old": (302, {"Location": f"http://127.0.0.2:{port}/new"}, b"")}
        with serve(routes) as base, pytest.raises(FetchError, match="private or local"):
            fetch_article(f"{base}/old")


@pytest.mark.server
def test_each_redirect_hop_is_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first hop is let through (as if 127.0.0.1 were public); its redirect to another
    loopback address is refused before anything connects to it."""
    real = fetch.is_public_address
    monkeypatch.setattr(fetch, "is_public_address", lambda a: a == "127.0.0.1" or real(a))
    with serve({"/new": (200, HTML, HTML_PAGE.encode())}) as target:
        port = target.rsplit(":", 1)[1]
        for location in (f"http://127.0.0.2:{port}/new", f"http://[::1]:{port}/new"):
            routes = {"/old": (302, {"Location": location}, b"")}
            with serve(routes) as base, pytest.raises(FetchError, match="private or local"):
                fetch_article(f"{base}/old")
        # a relative redirect stays on the first (allowed) host and is followed
        routes = {"/old": (302, {"Location": "/new"}, b""), "/new": (200, HTML, HTML_PAGE.encode())}
        with serve(routes) as base:
            assert "6% pay rise" in fetch_article(f"{base}/old").text


@pytest.mark.server
def test_a_redirect_to_a_metadata_address_is_refused_without_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = fetch.is_public_address
    monkeypatch.setattr(fetch, "is_public_address", lambda a: a == "127.0.0.1" or real(a))
    hops = {"127.0.0.1": ["127.0.0.1"], "metadata.test": ["169.254.169.254"]}
    location = "http://metadata.test/latest/meta-data/"
    with (
        serve({"/old": (302, {"Location": location}, b"")}) as base,
        pytest.raises(FetchError, match=r"private or local address \(169\.254\.169\.254\)"),
    ):
        fetch_article(f"{base}/old", resolve=lambda host, port: hops[host])


@pytest.mark.server
@pytest.mark.parametrize("scheme_url", ["file:///etc/passwd", "ftp://127.0.0.1/x"])
def test_a_redirect_to_another_scheme_is_refused(scheme_url: str) -> None:
    with (
        serve({"/old": (302, {"Location": scheme_url}, b"")}) as base,
        pytest.raises(FetchError, match="only http and https"),
    ):
        fetch_article(f"{base}/old", allow_private=True)


@pytest.mark.server
def test_more_than_five_redirects_are_refused() -> None:
    routes = {f"/{i}": (302, {"Location": f"/{i + 1}"}, b"") for i in range(6)}
    routes["/6"] = (200, HTML, HTML_PAGE.encode())
    with serve(routes) as base:
        assert "pay rise" in fetch_article(f"{base}/1", allow_private=True).text  # 5 hops: fine
        with pytest.raises(FetchError, match="more than 5 redirects"):
            fetch_article(f"{base}/0", allow_private=True)


# -- DNS rebinding: the connection goes to the address that was checked -----------------------


@contextmanager
def recording_listener(address: str, port: int) -> Iterator[list[str]]:
    """Accept (and at once close) connections on address:port, recording who came."""
    listener = socket.socket()
    listener.bind((address, port))
    listener.listen()
    listener.settimeout(0.1)
    came: list[str] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, peer = listener.accept()
            except OSError:
                continue
            came.append(peer[0])
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield came
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@contextmanager
def serve_recording_hosts(routes: dict[str, bytes]) -> Iterator[tuple[str, list[str]]]:
    """Serve HTML `routes` on 127.0.0.1 and record each request's Host header."""
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers.get("Host", ""))
            body = routes.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as base:
        yield base, hosts


def rebinding_dns(monkeypatch: pytest.MonkeyPatch, name: str, first: str, then: str) -> list[str]:
    """The system resolver answers `first` for `name` once and `then` ever after (other names
    as before); returns the log of the answers it gave."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return real(host, port, *args, **kwargs)
        answer = first if not answers else then
        answers.append(answer)
        return real(answer, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.server
@pytest.mark.parametrize("allow_private", [False, True])
def test_a_name_that_rebinds_after_the_check_is_never_connected_to_at_its_new_address(
    monkeypatch: pytest.MonkeyPatch, allow_private: bool
) -> None:
    """The check sees 127.0.0.1 (taken as public here when private ones are refused); the name
    then answers 127.0.0.2, where a listener records every connection: none arrives, and the
    page comes from 127.0.0.1 with the name in its Host header."""
    real = fetch.is_public_address
    monkeypatch.setattr(fetch, "is_public_address", lambda a: a == "127.0.0.1" or real(a))
    answers = rebinding_dns(monkeypatch, "rebind.test", first="127.0.0.1", then="127.0.0.2")
    with serve_recording_hosts({"/story": HTML_PAGE.encode()}) as (base, hosts):
        port = int(base.rsplit(":", 1)[1])
        with recording_listener("127.0.0.2", port) as came:
            url = f"http://rebind.test:{port}/story"
            article = fetch_article(url, allow_private=allow_private)
    assert "6% pay rise" in article.text
    assert came == []
    assert answers == ["127.0.0.1"]  # looked up once, for the check; never by the connection
    assert hosts == [f"rebind.test:{port}"]


@pytest.mark.server
def test_every_hop_connects_to_the_address_checked_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A redirect to another name: that name is looked up once, checked, and connected to at
    the address checked, even though it answers differently afterwards."""
    real = fetch.is_public_address
    monkeypatch.setattr(fetch, "is_public_address", lambda a: a == "127.0.0.1" or real(a))
    answers = rebinding_dns(monkeypatch, "second.test", first="127.0.0.1", then="127.0.0.2")
    with serve_recording_hosts({"/new": HTML_PAGE.encode()}) as (target, hosts):
        port = int(target.rsplit(":", 1)[1])
        routes = {"/old": (302, {"Location": f"http://second.test:{port}/new"}, b"")}
        with serve(routes) as base, recording_listener("127.0.0.2", port) as came:
            article = fetch_article(f"{base}/old")
    assert "6% pay rise" in article.text
    assert (came, answers, hosts) == ([], ["127.0.0.1"], [f"second.test:{port}"])


@pytest.mark.server
def test_a_refused_connection_moves_on_to_the_next_checked_address() -> None:
    """As the standard library's create_connection does: 127.0.0.3 listens on nothing."""
    with serve_recording_hosts({"/story": HTML_PAGE.encode()}) as (base, hosts):
        port = base.rsplit(":", 1)[1]
        article = fetch_article(
            f"http://news.test:{port}/story",
            allow_private=True,
            resolve=resolving_to("127.0.0.3", "127.0.0.1"),
        )
    assert "6% pay rise" in article.text
    assert hosts == [f"news.test:{port}"]


@contextmanager
def black_hole(address: str, port: int) -> Iterator[None]:
    """A listener on address:port whose one-place queue is taken: a connection to it hangs
    (the SYN is dropped) until the client's connect timeout."""
    listener = socket.socket()
    listener.bind((address, port))
    listener.listen(0)
    queued = socket.create_connection((address, port), timeout=1)
    try:
        yield
    finally:
        queued.close()
        listener.close()


@pytest.mark.server
def test_a_connection_that_times_out_moves_on_to_the_next_checked_address() -> None:
    with serve_recording_hosts({"/story": HTML_PAGE.encode()}) as (base, hosts):
        port = int(base.rsplit(":", 1)[1])
        with black_hole("127.0.0.4", port):
            started = time.monotonic()
            article = fetch_article(
                f"http://news.test:{port}/story",
                allow_private=True,
                timeout_s=0.5,
                resolve=resolving_to("127.0.0.4", "127.0.0.1"),
            )
    assert "6% pay rise" in article.text
    assert hosts == [f"news.test:{port}"]
    assert time.monotonic() - started < 5


@pytest.mark.server
def test_the_resolver_is_asked_once_a_hop_and_its_answer_alone_is_connected_to() -> None:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with serve_recording_hosts({"/story": HTML_PAGE.encode()}) as (base, hosts):
        port = base.rsplit(":", 1)[1]
        routes = {"/old": (302, {"Location": f"http://other.test:{port}/story"}, b"")}
        with serve(routes) as first:
            first_port = first.rsplit(":", 1)[1]
            article = fetch_article(
                f"http://news.test:{first_port}/old", allow_private=True, resolve=resolve
            )
    assert "6% pay rise" in article.text
    assert asked == ["news.test", "other.test"]
    assert hosts == [f"other.test:{port}"]


# -- HTTPS by address: SNI and the certificate's hostname are the URL's -----------------------


@contextmanager
def serve_tls(
    cert: tuple[Path, Path], routes: dict[str, bytes]
) -> Iterator[tuple[str, list[str | None], list[str]]]:
    """HTTPS on 127.0.0.1 with `cert`; yields the base URL, the SNI names the handshakes
    carried and the Host headers of the requests."""
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers.get("Host", ""))
            body = routes.get(self.path, b"")
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler, tls=context) as base:
        yield base, names, hosts


def trusting(cert: Path) -> Callable[[], ssl.SSLContext]:
    context = ssl.create_default_context(cafile=str(cert))
    return lambda: context


@pytest.mark.server
def test_https_by_address_sends_the_hostname_as_sni_and_verifies_the_certificate_for_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The certificate names `localhost` only (no IP address): connecting to 127.0.0.1 works
    because SNI and the hostname check are still `localhost`."""
    cert = self_signed_cert(tmp_path, "localhost")
    monkeypatch.setattr(fetch, "_tls_context", trusting(cert[0]))
    with serve_tls(cert, {"/story": HTML_PAGE.encode()}) as (base, names, hosts):
        port = base.rsplit(":", 1)[1]
        article = fetch_article(
            f"https://localhost:{port}/story",
            allow_private=True,
            resolve=resolving_to("127.0.0.1"),
        )
    assert "6% pay rise" in article.text
    assert names == ["localhost"]
    assert hosts == [f"localhost:{port}"]


@pytest.mark.server
def test_https_by_address_refuses_a_certificate_for_another_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A trusted certificate, but for `elsewhere.test`: refused, nothing requested."""
    cert = self_signed_cert(tmp_path, "elsewhere.test")
    monkeypatch.setattr(fetch, "_tls_context", trusting(cert[0]))
    with serve_tls(cert, {"/story": HTML_PAGE.encode()}) as (base, names, hosts):
        port = base.rsplit(":", 1)[1]
        with pytest.raises(FetchError, match=r"could not connect.*certificate"):
            fetch_article(
                f"https://localhost:{port}/story",
                allow_private=True,
                resolve=resolving_to("127.0.0.1"),
            )
    assert names == ["localhost"]
    assert hosts == []


@pytest.mark.server
def test_the_body_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "MAX_BYTES", 10_000)
    big = b"<html><body><p>" + b"word " * 5_000 + b"</p></body></html>"
    with (
        serve({"/big": (200, HTML, big)}) as base,
        pytest.raises(FetchError, match="larger than 10000 bytes"),
    ):
        fetch_article(f"{base}/big", allow_private=True)


@pytest.mark.server
@pytest.mark.parametrize(
    "content_type",
    [
        "application/octet-stream",
        "image/png",
        "application/json",
        "application/x-sh",
        "video/mp4",
        "application/javascript",
    ],
)
def test_only_pages_and_text_are_accepted(content_type: str) -> None:
    routes = {"/x": (200, {"Content-Type": content_type}, b"Title\n\nSome text here.")}
    with serve(routes) as base, pytest.raises(FetchError, match="not a web page or text"):
        fetch_article(f"{base}/x", allow_private=True)


@pytest.mark.server
def test_content_types_are_matched_without_regard_to_case() -> None:
    routes = {"/x": (200, {"Content-Type": "TEXT/PLAIN; Charset=UTF-8"}, b"Title\n\nThe body.")}
    with serve(routes) as base:
        assert fetch_article(f"{base}/x", allow_private=True).text == "The body."


@contextmanager
def slow_server(first_byte_after_s: float, drip_every_s: float) -> Iterator[str]:
    """A raw HTTP server on 127.0.0.1: waits, sends headers, then one byte at a time."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def run() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.recv(4096)
                    if stop.wait(first_byte_after_s):
                        return
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nT\n\n")
                    while not stop.wait(drip_every_s):
                        conn.sendall(b"x")
                except OSError:
                    pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.mark.server
def test_a_server_that_never_answers_times_out() -> None:
    with slow_server(first_byte_after_s=30, drip_every_s=1) as base:
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            fetch_article(f"{base}/x", allow_private=True, timeout_s=0.5)
    assert time.monotonic() - started < 5


@pytest.mark.server
def test_a_server_dripping_bytes_is_cut_off_by_the_total_deadline() -> None:
    with slow_server(first_byte_after_s=0, drip_every_s=0.05) as base:
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            fetch_article(f"{base}/x", allow_private=True, timeout_s=0.5)
    assert time.monotonic() - started < 5


def test_fetch_errors_are_article_errors_the_bot_may_show() -> None:
    assert issubclass(FetchError, ArticleError)
