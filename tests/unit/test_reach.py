"""Whether a server answers at a URL: a real connection on loopback, nothing sent."""

from __future__ import annotations

import socket

from deecho.backends.reach import why_unreachable


def test_a_listening_port_is_reachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert why_unreachable(f"http://127.0.0.1:{sock.getsockname()[1]}/api/public/v1") is None


def test_a_closed_port_says_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    problem = why_unreachable(f"http://127.0.0.1:{port}")
    assert problem == f"127.0.0.1:{port} refused the connection"


def test_not_a_server_url() -> None:
    assert why_unreachable("ftp://example") is not None
    assert why_unreachable("http://127.0.0.1:notaport") is not None
