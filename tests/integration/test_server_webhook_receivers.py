"""Webhook receivers that misbehave cannot hold up the server, its API or other receivers.

Five hostile receivers, each a raw socket server on loopback so it can do what no
well-behaved HTTP server would: never answer, answer 500 forever, drip its status
line a byte at a time (each byte well inside the read timeout, so only a deadline
on the whole delivery ends it), answer 200 with a body that never ends, and redirect
to itself. While they are being called, a well-behaved receiver gets every one of its
webhooks, `byId` keeps answering, and the server reads no more of the endless body
than it needs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_server_harness import LiveServer, live_server, peer_server, wait_for, write_wav

_TIMEOUT_S = 2.0
_ATTEMPTS = 3


@dataclass
class _Receiver:
    """A listening socket whose every connection is handed to `behave` in a thread."""

    behave: Callable[[socket.socket, _Receiver], None]
    connections: int = 0
    closed_by_peer: int = 0
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    listener: socket.socket = field(default_factory=socket.socket)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"

    def count(self, **increments: int) -> None:
        with self.lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


def _send_until_closed(conn: socket.socket, receiver: _Receiver, pieces: Iterator[bytes]) -> None:
    try:
        for piece in pieces:
            conn.sendall(piece)
            receiver.count(bytes_sent=len(piece))
    except OSError:
        receiver.count(closed_by_peer=1)


def _hang(conn: socket.socket, receiver: _Receiver) -> None:
    _read_request(conn)
    conn.settimeout(60)
    try:
        if conn.recv(1) == b"":
            receiver.count(closed_by_peer=1)
    except OSError:
        receiver.count(closed_by_peer=1)


def _error(conn: socket.socket, receiver: _Receiver) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")


def _drip(conn: socket.socket, receiver: _Receiver) -> None:
    _read_request(conn)

    def bytes_slowly() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nX-Slow: "
        for _ in range(600):  # a byte every 0.2 s, each well inside the read timeout
            time.sleep(0.2)
            yield b"a"

    _send_until_closed(conn, receiver, bytes_slowly())


def _endless(conn: socket.socket, receiver: _Receiver) -> None:
    _read_request(conn)
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"

    def forever() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        while True:
            yield framed

    _send_until_closed(conn, receiver, forever())


def _loop(conn: socket.socket, receiver: _Receiver) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /hook\r\nContent-Length: 0\r\n\r\n")


@contextmanager
def _receiver(behave: Callable[[socket.socket, _Receiver], None]) -> Iterator[_Receiver]:
    receiver = _Receiver(behave)
    receiver.listener.bind(("127.0.0.1", 0))
    receiver.listener.listen(64)
    receiver.listener.settimeout(0.2)
    stopping = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn, suppress(OSError):
            behave(conn, receiver)

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = receiver.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            receiver.count(connections=1)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        stopping.set()
        thread.join(timeout=5)
        receiver.listener.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(
        tmp_path / "data",
        workers=2,
        webhook_timeout_s=_TIMEOUT_S,
        webhook_max_attempts=_ATTEMPTS,
        webhook_retry_base_s=0.2,
    ) as live:
        yield live


@pytest.mark.timeout(400)
def test_hostile_receivers_hold_up_neither_the_api_nor_other_webhooks(
    server: LiveServer, tmp_path: Path
) -> None:
    take = write_wav(tmp_path / "take.wav", 1.0, rate=16000, channels=1)
    with (
        _receiver(_hang) as hang,
        _receiver(_error) as error,
        _receiver(_drip) as drip,
        _receiver(_endless) as endless,
        _receiver(_loop) as loop,
        peer_server(lambda request: (200, {}, b"ok")) as good,
    ):
        hostile = {"hang": hang, "error": error, "drip": drip, "endless": endless, "loop": loop}
        hostile_tasks = []
        for _ in range(2):
            for receiver in hostile.values():
                response = server.submit_file(take, webhook_url=receiver.url)
                assert response.status_code == 200, response.text
                hostile_tasks.append(response.json()["task_id"])
        good_tasks = []
        for _ in range(3):
            response = server.submit_file(
                take, webhook_url=f"http://127.0.0.1:{good.server_address[1]}/hook"
            )
            good_tasks.append(response.json()["task_id"])

        # byId keeps answering while the hostile deliveries are under way
        answered = 0
        polls = 0
        while len(good.received) < len(good_tasks) and polls < 600:
            for task_id in [*hostile_tasks, *good_tasks]:
                polls += 1
                if server.by_id(task_id).status_code == 200:
                    answered += 1
            time.sleep(0.1)
        assert wait_for(lambda: len(good.received) >= len(good_tasks), 120), (
            f"{len(good.received)} of {len(good_tasks)} good webhooks arrived"
        )
        assert answered == polls

        # every hostile delivery ends: attempted to the cap, none still in flight
        store_rows = server.app_state().store.webhook_rows
        assert wait_for(
            lambda: all(
                row["attempts"] >= _ATTEMPTS
                for task_id in hostile_tasks
                for row in store_rows(task_id)
                if row["delivered_at"] is None
            ),
            _ATTEMPTS * (_TIMEOUT_S + 5) * 4,
        )
        # the dripping receiver was cut off by the deadline, not left to drip
        assert drip.closed_by_peer >= 1
        assert drip.bytes_sent < 200
        # of the endless body, the server read (about) nothing
        assert endless.connections >= 1
        assert endless.bytes_sent < 16 * 2**20
        # the redirect loop was followed a bounded number of times
        assert loop.connections <= 2 * _ATTEMPTS * 6
