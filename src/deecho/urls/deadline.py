"""HTTP exchanges deecho starts, ended at a deadline on the whole exchange.

`requests` (through urllib3) only times each socket operation: a peer that sends
one byte of its status line just inside the read timeout, over and over, holds
the exchange forever, and with it a webhook sender thread or a worker fetching an
`audio_url`. Here every connection a session opens is recorded as it connects,
and a timer shuts them all down at the deadline: `shutdown()` wakes a read blocked
in another thread, where `close()` would not. Sessions are not pooled across
exchanges, so nothing opened before the exchange escapes its deadline. The
server's webhooks and every direct download (`policy.fetch_to_file`) run this way.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Exchange", "exchange_within"]


@dataclass
class Exchange:
    """One exchange's session, and whether its deadline has cut it off."""

    session: requests.Session
    seconds: float
    expired: threading.Event = field(default_factory=threading.Event)
    _sockets: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, sock: Any) -> None:
        with self._lock:
            self._sockets.append(sock)
            late = self.expired.is_set()
        if late:  # connected after the deadline: end it at once
            _shut(sock)

    def cut(self) -> None:
        with self._lock:
            self.expired.set()
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Current(threading.local):
    exchange: Exchange | None = None


_current = _Current()


class _TrackedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        if _current.exchange is not None:
            _current.exchange.opened(self.sock)


class _TrackedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        if _current.exchange is not None:
            _current.exchange.opened(self.sock)


class _TrackedPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedTlsPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


@contextlib.contextmanager
def exchange_within(seconds: float) -> Iterator[Exchange]:
    """A fresh session whose connections, opened in this thread, end `seconds` from now."""
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment must not bypass the URL policy
    adapter = HTTPAdapter()
    adapter.poolmanager.pool_classes_by_scheme = {"http": _TrackedPool, "https": _TrackedTlsPool}
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    exchange = Exchange(session, seconds)
    timer = threading.Timer(seconds, exchange.cut)
    timer.daemon = True
    _current.exchange = exchange
    timer.start()
    try:
        yield exchange
    finally:
        timer.cancel()
        _current.exchange = None
        session.close()
