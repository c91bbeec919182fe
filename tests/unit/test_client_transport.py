"""DeechoClient over an injected transport (requests' answer to httpx.MockTransport).

For what a real server cannot easily be made to do on cue: refuse a connection
halfway through a task, or send Retry-After as an HTTP date.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from deecho.api import DeechoClient
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
