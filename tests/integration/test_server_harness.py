"""A live deecho server on loopback for the server tests, and local peers for it to talk to.

No tests here: the server runs under uvicorn in a thread (a real socket, real
HTTP, real worker processes), a webhook receiver and a file server are plain
`http.server`s on 127.0.0.1. Nothing leaves the machine.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests
import soundfile as sf
import uvicorn

from audio_fixtures import tone_burst_signal
from deecho.api.models import ByIdResponse, Conversion
from deecho.server import ServerConfig, create_app
from deecho.server.app import ServerState

API_KEY = "test-key-0123456789"


def echoed_speech(
    seconds: float, rate: int = 16000, channels: int = 1, seed: int = 0
) -> np.ndarray:
    """Speech-like audio with one clear echo (150 ms, gain 0.5): what the server is for."""
    dry = tone_burst_signal(rate, seconds, channels, seed)
    delay = int(0.150 * rate)
    wet = dry.copy()
    wet[:, delay:] += 0.5 * dry[:, :-delay]
    return (wet / max(1.0, float(np.abs(wet).max()) / 0.9)).astype(np.float32)


def write_wav(path: Path, seconds: float, rate: int = 16000, channels: int = 1) -> Path:
    sf.write(str(path), echoed_speech(seconds, rate, channels).T, rate, subtype="PCM_16")
    return path


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with free_socket() as sock:
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    config: ServerConfig
    url: str
    api_key: str
    _server: uvicorn.Server
    _thread: threading.Thread
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def base(self) -> str:
        return f"{self.url}/api/public/v1"

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": key or self.api_key}

    def submit_file(self, path: Path, **fields: str) -> requests.Response:
        with path.open("rb") as stream:
            return self.session.post(
                f"{self.base}/deecho",
                headers=self.headers(),
                data=fields,
                files={"audio_file": (path.name, stream)},
                timeout=30,
            )

    def by_id(self, task_id: str, key: str | None = None) -> requests.Response:
        return self.session.get(
            f"{self.base}/byId",
            params={"conversionType": "DEECHO", "task_id": task_id},
            headers=self.headers(key),
            timeout=30,
        )

    def wait_done(self, task_id: str, timeout_s: float = 300.0) -> Conversion:
        deadline = time.monotonic() + timeout_s
        while True:
            response = self.by_id(task_id)
            response.raise_for_status()
            conversion = ByIdResponse.model_validate(response.json()).conversion
            if conversion.is_done or time.monotonic() > deadline:
                return conversion
            time.sleep(0.2)

    def app_state(self) -> ServerState:
        """The running app's state (store, runner…), for checks the API does not expose."""
        state: ServerState = self._server.config.app.state.deecho  # type: ignore[attr-defined]
        return state

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


@contextmanager
def live_server(data_dir: Path, **overrides: Any) -> Iterator[LiveServer]:
    """`deecho serve` in a thread on a free loopback port, with quick webhook retries."""
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "webhook_retry_base_s": 0.05,
        "webhook_retry_factor": 2.0,
        "webhook_max_attempts": 5,
        "webhook_timeout_s": 5.0,
    }
    options.update(overrides)
    config = ServerConfig(data_dir=data_dir, **options)
    app = create_app(config)
    sock = free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    live = LiveServer(config, f"http://127.0.0.1:{port}", config.api_key or "", server, thread)
    try:
        yield live
    finally:
        live.stop()
        sock.close()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _PeerServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        status, headers, payload = self.server.respond(request)
        self.server.received.append(request)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_HEAD = _answer


Responder = Callable[[Received], tuple[int, dict[str, str], bytes]]


class _PeerServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, respond: Responder) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.respond = respond
        self.received: list[Received] = []


@contextmanager
def peer_server(respond: Responder) -> Iterator[_PeerServer]:
    """A plain HTTP server on loopback answering with `respond(request)`."""
    server = _PeerServer(respond)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def peer_url(server: _PeerServer, path: str = "/") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def wait_for(predicate: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
