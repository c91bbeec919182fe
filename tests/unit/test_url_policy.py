"""The URL guard with a stubbed resolver: no name is looked up, nothing leaves loopback."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from deecho.urls.policy import (
    FetchError,
    UnsafeUrlError,
    UrlPolicy,
    check_url,
    fetch_to_file,
    guarded_request,
)
from integration.test_server_harness import Received, peer_server, peer_url

NAMES = {
    "public.example": ["93.184.216.34"],
    "dual.example": ["93.184.216.34", "10.0.0.7"],  # one private address spoils it
    "internal.example": ["10.0.0.5"],
    "metadata.example": ["169.254.169.254"],
    "v6private.example": ["fd12:3456::1"],
    "mapped.example": ["::ffff:192.168.0.1"],
    "cgnat.example": ["100.64.0.1"],
    "local.example": ["127.0.0.1"],
    "v6local.example": ["::1"],
    "nothing.example": [],
}
looked_up: list[str] = []


def stub_resolver(host: str, port: int) -> list[str]:
    looked_up.append(host)
    if host not in NAMES:
        raise UnsafeUrlError(f"{host}: the host name does not resolve")
    return NAMES[host]


STRICT = UrlPolicy(resolver=stub_resolver)
LOOPBACK_OK = UrlPolicy(allow_loopback=True, resolver=stub_resolver)
PRIVATE_OK = UrlPolicy(allow_private=True, resolver=stub_resolver)


@pytest.mark.parametrize(
    "url",
    [
        "https://public.example/take.wav",
        "http://public.example:8080/a?b=c",
        "HTTPS://PUBLIC.EXAMPLE/x",
        "http://93.184.216.34/x",
        "http://[2606:2800:220:1:248:1893:25c8:1946]/x",
    ],
)
def test_public_hosts_pass(url: str) -> None:
    check_url(url, STRICT)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://internal.example/", "private"),
        ("http://dual.example/", "private"),
        ("http://metadata.example/latest", "link-local"),
        ("http://169.254.169.254/latest", "link-local"),
        ("http://v6private.example/", "private"),
        ("http://mapped.example/", "private"),
        ("http://cgnat.example/", "private"),
        ("http://local.example/", "loopback"),
        ("http://v6local.example/", "loopback"),
        ("http://127.0.0.1:8000/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://239.1.2.3/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://nothing.example/", "no address"),
        ("http://unknown.example/", "does not resolve"),
        ("ftp://public.example/a.wav", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://public.example/", "only http and https"),
        ("//public.example/a.wav", "only http and https"),
        ("http://", "no host"),
        ("http://public.example:notaport/", "port"),
    ],
)
def test_unsafe_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrlError, match=reason):
        check_url(url, STRICT)


def test_loopback_and_private_policies() -> None:
    check_url("http://local.example/", LOOPBACK_OK)
    check_url("http://[::1]:9/", LOOPBACK_OK)
    with pytest.raises(UnsafeUrlError, match="private"):
        check_url("http://internal.example/", LOOPBACK_OK)
    for url in ("http://internal.example/", "http://metadata.example/", "http://local.example/"):
        check_url(url, PRIVATE_OK)
    with pytest.raises(UnsafeUrlError, match="only http"):
        check_url("file:///etc/passwd", PRIVATE_OK)  # the scheme rule has no opt-out


def test_ip_literals_are_not_resolved() -> None:
    looked_up.clear()
    check_url("http://93.184.216.34/x", STRICT)
    with pytest.raises(UnsafeUrlError):
        check_url("http://10.0.0.1/x", STRICT)
    assert looked_up == []


def _redirecting(request: Received) -> tuple[int, dict[str, str], bytes]:
    port = request.headers["host"].rsplit(":", 1)[1]
    targets = {
        "/to-internal": "http://internal.example/secret",
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/to-file": "file:///etc/passwd",
        "/to-final": f"http://127.0.0.1:{port}/final",
        "/relative": "/final",
        "/loop": "/loop",
    }
    if request.path in targets:
        return 302, {"Location": targets[request.path]}, b""
    return 200, {}, b"final body"


def test_every_redirect_hop_is_checked_again() -> None:
    session = requests.Session()
    with peer_server(_redirecting) as peer:
        for path in ("/to-internal", "/to-metadata", "/to-file"):
            with pytest.raises(UnsafeUrlError):
                guarded_request(
                    session, "GET", peer_url(peer, path), LOOPBACK_OK, field_name="audio_url",
                    timeout=5,
                )  # fmt: skip
        for path in ("/to-final", "/relative"):
            response = guarded_request(
                session, "GET", peer_url(peer, path), LOOPBACK_OK, field_name="audio_url",
                timeout=5,
            )  # fmt: skip
            assert response.status_code == 200 and response.content == b"final body"
        with pytest.raises(FetchError, match="redirects"):
            guarded_request(
                session, "GET", peer_url(peer, "/loop"), LOOPBACK_OK, field_name="audio_url",
                timeout=5,
            )  # fmt: skip
        # the refused hops never reached the peer's /final or anything else
        assert {r.path for r in peer.received} <= {
            "/to-internal", "/to-metadata", "/to-file", "/to-final", "/relative", "/final", "/loop",
        }  # fmt: skip
        # and loopback itself is refused when the policy says so
        with pytest.raises(UnsafeUrlError, match="loopback"):
            guarded_request(
                session, "GET", peer_url(peer, "/final"), STRICT, field_name="audio_url",
                timeout=5,
            )  # fmt: skip


def test_fetch_caps_size_by_header_and_by_counting(tmp_path: Path) -> None:
    def big(request: Received) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, b"x" * 5000

    with peer_server(big) as peer:
        path, name = fetch_to_file(peer_url(peer, "/a.wav"), tmp_path, LOOPBACK_OK, 5000, 10)
        assert path.read_bytes() == b"x" * 5000 and name == "a.wav"
        with pytest.raises(FetchError, match="larger than the 4999 byte limit"):
            fetch_to_file(peer_url(peer, "/a.wav"), tmp_path, LOOPBACK_OK, 4999, 10)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _raw_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A loopback server answering with `handler`: for bodies peer_server cannot stream."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_counts_bytes_when_no_length_is_declared(tmp_path: Path) -> None:
    class Endless(_Quiet):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()  # no Content-Length: the body runs until the connection closes
            try:
                for _ in range(1000):
                    self.wfile.write(b"y" * 65536)
            except OSError:
                pass

    with _raw_server(Endless) as base, pytest.raises(FetchError, match="larger than"):
        fetch_to_file(f"{base}/endless", tmp_path, LOOPBACK_OK, 1_000_000, 30)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)
def test_fetch_stops_at_the_time_cap(tmp_path: Path) -> None:
    class Dribble(_Quiet):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            try:  # a byte now and then, for ever: only the overall deadline can end this
                while True:
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass

    with _raw_server(Dribble) as base, pytest.raises(FetchError, match=r"longer than 0\.5 s"):
        fetch_to_file(f"{base}/slow.wav", tmp_path, LOOPBACK_OK, 10**10, 0.5)


@pytest.mark.timeout(60)
def test_fetch_stops_at_the_time_cap_while_the_headers_dribble(tmp_path: Path) -> None:
    """The status line and headers sent a byte at a time, each well inside the per-read
    timeout: only a deadline on the whole exchange ends it (it used to hold the worker)."""

    class DribbleHeaders(_Quiet):
        def do_GET(self) -> None:
            try:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass

    with _raw_server(DribbleHeaders) as base, pytest.raises(FetchError, match=r"longer than 1 s"):
        fetch_to_file(f"{base}/slow.wav", tmp_path, LOOPBACK_OK, 10**10, 1.0)
    assert list(tmp_path.iterdir()) == []


def test_fetch_refuses_error_statuses_and_empty_bodies(tmp_path: Path) -> None:
    def answer(request: Received) -> tuple[int, dict[str, str], bytes]:
        return (404, {}, b"no") if request.path == "/missing" else (200, {}, b"")

    with peer_server(answer) as peer:
        with pytest.raises(FetchError, match="HTTP 404"):
            fetch_to_file(peer_url(peer, "/missing"), tmp_path, LOOPBACK_OK, 100, 5)
        with pytest.raises(FetchError, match="empty"):
            fetch_to_file(peer_url(peer, "/empty"), tmp_path, LOOPBACK_OK, 100, 5)
