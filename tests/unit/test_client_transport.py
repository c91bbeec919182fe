"""DeechoClient over an injected transport (requests' answer to httpx.MockTransport).

For what a real server cannot easily be made to do on cue: refuse a connection
halfway through a task, or send Retry-After as an HTTP date.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from deecho.api import DeechoClient
from deecho.api.multipart import MultipartFile
from deecho.errors import BackendError, RateLimitedError

Handler = Callable[[requests.PreparedRequest], tuple[int, dict[str, Any], dict[str, str]]]


class MockTransport(BaseAdapter):
    """Answers every request with `handler(request)`; the handler may raise instead."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.seen: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.seen.append(request)
        status, body, headers = self.handler(request)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client_with(handler: Handler, clock: FakeClock) -> tuple[DeechoClient, MockTransport]:
    transport = MockTransport(handler)
    session = requests.Session()
    session.mount("https://", transport)
    client = DeechoClient(
        "https://api.musicgpt.test/api/public/v1",
        "key",
        session=session,
        service="MusicGPT",
        sleep=clock.sleep,
        clock=clock,
    )
    return client, transport


COMPLETED = {
    "success": True,
    "conversion": {"task_id": "t", "status": "COMPLETED", "no_echo": "https://s3.test/t.mp3"},
}


def test_a_dropped_connection_while_polling_is_retried() -> None:
    calls = {"n": 0}

    def handler(request: requests.PreparedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise requests.ConnectionError("connection reset by peer")
        return 200, COMPLETED, {}

    clock = FakeClock()
    client, transport = client_with(handler, clock)

    assert client.wait("t").no_echo_url() == "https://s3.test/t.mp3"
    assert len(transport.seen) == 2
    assert "/byId?conversionType=DEECHO&task_id=t" in str(transport.seen[0].url)


def test_a_refused_upload_is_not_retried_and_says_where() -> None:
    def handler(request: requests.PreparedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        raise requests.ConnectionError("connection refused")

    client, transport = client_with(handler, FakeClock())
    with pytest.raises(BackendError, match=r"cannot reach MusicGPT at https://api\.musicgpt\.test"):
        client.submit_url("https://example.com/a.m4a")
    assert len(transport.seen) == 1


def test_retry_after_as_an_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    answers = [(429, {"success": False}, {"Retry-After": format_datetime(when, usegmt=True)})]

    def handler(request: requests.PreparedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        return answers.pop(0) if answers else (200, COMPLETED, {})

    clock = FakeClock()
    client, _ = client_with(handler, clock)
    client.status("t")
    assert 25 <= sum(clock.slept) <= 31


def test_a_retry_after_beyond_reason_is_reported_not_slept() -> None:
    def handler(request: requests.PreparedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        return 429, {"success": False, "error": "Concurrency limit"}, {"Retry-After": "3600"}

    clock = FakeClock()
    client, transport = client_with(handler, clock)
    with pytest.raises(RateLimitedError, match="asks to wait 3600 s") as caught:
        client.submit_url("https://example.com/a.m4a")
    assert caught.value.retry_after_s == 3600
    assert clock.slept == [] and len(transport.seen) == 1


def test_multipart_body_streams_from_disk_and_parses_back(tmp_path: Path) -> None:
    audio = tmp_path / 'take "one".wav'
    payload = os.urandom(200_001)
    audio.write_bytes(payload)
    with MultipartFile({"webhook_url": "https://hooks.test/x"}, "audio_file", audio) as body:
        pieces = []
        for size in itertools.cycle([1, 7, 8192, 65536, 3]):
            piece = body.read(size)
            if not piece:
                break
            pieces.append(piece)
        whole = b"".join(pieces)
        assert len(whole) == len(body)
        body.rewind()
        assert body.read() == whole
        content_type = body.content_type

    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + whole
    )
    parts = {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }
    assert parts["webhook_url"].get_payload(decode=True) == b"https://hooks.test/x"
    assert parts["audio_file"].get_filename() == 'take "one".wav'
    assert parts["audio_file"].get_payload(decode=True) == payload
    assert parts["audio_file"].get_content_type() == "audio/x-wav"


def test_upload_sends_content_length_not_chunked(tmp_path: Path) -> None:
    audio = tmp_path / "take.wav"
    audio.write_bytes(b"RIFF" + bytes(5000))

    def handler(request: requests.PreparedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        return 200, {"success": True, "task_id": "t", "eta": -1}, {}

    client, transport = client_with(handler, FakeClock())
    client.submit_file(audio)
    sent = transport.seen[0]
    assert "Transfer-Encoding" not in sent.headers
    assert int(sent.headers["Content-Length"]) > 5000
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert sent.headers["Authorization"] == "key"
