"""DeechoClient against a loopback stub serving MusicGPT's documented bodies.

Time is a fake clock: `sleep` advances it instantly and records the wait, so the
tests check how long the client *would* wait (Retry-After, poll spacing,
timeouts) without spending it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import soundfile as sf

from deecho.api import Conversion, DeechoClient, TaskStatus
from deecho.errors import (
    AuthenticationError,
    BackendError,
    CancelledError,
    InsufficientCreditsError,
    RateLimitedError,
    TaskFailedError,
    TaskTimeoutError,
)
from stubs.musicgpt import MusicGPTStub, Reply

KEY = "stub-key"


class FakeClock:
    """monotonic() and sleep() that never wait: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


class ClockedSession(requests.Session):
    """A Session noting the fake time of each request it sends."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.sent: list[tuple[float, str, str]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        self.sent.append((self.clock.now, str(method), str(url)))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def stub() -> Iterator[MusicGPTStub]:
    with MusicGPTStub(api_key=KEY) as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def session(clock: FakeClock) -> Iterator[ClockedSession]:
    with ClockedSession(clock) as opened:
        yield opened


def make_client(
    stub: MusicGPTStub, clock: FakeClock, session: requests.Session, **options: Any
) -> DeechoClient:
    return DeechoClient(
        stub.base_url,
        options.pop("api_key", KEY),
        session=session,
        timeout=10.0,
        service="MusicGPT",
        key_hint="set DEECHO_MUSICGPT_API_KEY",
        sleep=clock.sleep,
        clock=clock,
        **options,
    )


@pytest.fixture
def client(stub: MusicGPTStub, clock: FakeClock, session: ClockedSession) -> DeechoClient:
    return make_client(stub, clock, session)


@pytest.fixture
def take(tmp_path: Path) -> Path:
    rate = 16000
    t = np.arange(rate * 6) / rate
    path = tmp_path / "take.wav"
    sf.write(path, 0.25 * np.sin(2 * np.pi * 330.0 * t), rate)
    return path


def byid_times(session: ClockedSession) -> list[float]:
    return [when for when, method, url in session.sent if "/byId" in url]


def test_submit_file_uploads_multipart_with_raw_key_and_reads_eta_minus_one(
    stub: MusicGPTStub, client: DeechoClient, take: Path
) -> None:
    task = client.submit_file(take, webhook_url="https://hooks.example/deecho")

    assert task.eta == -1
    assert task.credit_estimate == pytest.approx(0.48)
    assert task.status == "IN_QUEUE"
    assert task.task_id in stub.tasks
    sent = stub.requests[-1]
    assert sent.path == "/api/public/v1/deecho"
    assert sent.headers["authorization"] == KEY  # the raw key, as the vendor's page sends it
    assert sent.files["audio_file"] == take.read_bytes()
    assert sent.form["webhook_url"] == "https://hooks.example/deecho"


def test_submit_url_posts_the_form_fields(stub: MusicGPTStub, client: DeechoClient) -> None:
    task = client.submit_url("https://example.com/audio.m4a")

    assert stub.tasks[task.task_id].audio_url == "https://example.com/audio.m4a"
    assert stub.requests[-1].headers["content-type"].startswith("application/x-www-form-urlencoded")


def test_wait_polls_queue_progress_completed_no_faster_than_every_3_s(
    stub: MusicGPTStub, client: DeechoClient, session: ClockedSession, take: Path
) -> None:
    task = client.submit_file(take)
    seen: list[str] = []

    done = client.wait(task.task_id, eta_s=task.eta, on_status=lambda c: seen.append(c.status))

    assert seen == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    assert done.task_status is TaskStatus.COMPLETED
    times = [session.sent[0][0], *byid_times(session)]
    gaps = np.diff(times)
    assert len(gaps) == 3 and (gaps >= 3.0 - 1e-9).all(), gaps
    byid = stub.requests[-1]
    assert byid.query == {"conversionType": "DEECHO", "task_id": task.task_id}


def test_empty_no_echo_wav_falls_back_to_the_mp3_which_downloads_intact(
    stub: MusicGPTStub, client: DeechoClient, take: Path, tmp_path: Path
) -> None:
    task = client.submit_file(take)
    done = client.wait(task.task_id, eta_s=task.eta)
    assert done.no_echo_wav == ""

    url = done.no_echo_url()
    assert url.endswith("_noecho.mp3")
    target = client.download(url, tmp_path / "no_echo.mp3")

    assert target.read_bytes() == stub.files[url.rsplit("/", 1)[1]]
    audio, rate = sf.read(target, dtype="float32")
    assert rate == 16000 and abs(len(audio) - 6 * 16000) < 2000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no_echo.mp3", "take.wav"]


def test_statuses_poll_consecutively_stay_spaced(
    stub: MusicGPTStub, client: DeechoClient, session: ClockedSession, take: Path
) -> None:
    """A TUI calling status() in a loop still keeps within 20 calls a minute."""
    task = client.submit_file(take)
    for _ in range(4):
        client.status(task.task_id)
    assert (np.diff(byid_times(session)) >= 3.0).all()


def test_401_raises_authentication_error_saying_what_to_set(
    stub: MusicGPTStub, clock: FakeClock, session: ClockedSession, take: Path
) -> None:
    client = make_client(stub, clock, session, api_key="wrong")

    with pytest.raises(AuthenticationError) as caught:
        client.submit_file(take)

    message = str(caught.value)
    assert message == (
        "MusicGPT refused the API key (Authentication failed); set DEECHO_MUSICGPT_API_KEY"
    )
    assert caught.value.exit_code == 77


def test_403_is_an_authentication_error_too(
    stub: MusicGPTStub, client: DeechoClient, take: Path
) -> None:
    stub.submit_replies.append(Reply(403, {"success": False, "message": "Invalid API key"}))
    with pytest.raises(AuthenticationError, match="Invalid API key"):
        client.submit_file(take)


def test_402_carries_required_and_available_credits(
    stub: MusicGPTStub, client: DeechoClient, take: Path
) -> None:
    stub.submit_replies.append(
        Reply(
            402,
            {
                "success": False,
                "error": "Insufficient credits for this operation",
                "required_credits": 12.5,
                "available_credits": 3,
            },
        )
    )
    with pytest.raises(InsufficientCreditsError) as caught:
        client.submit_file(take)

    assert caught.value.required_credits == 12.5
    assert caught.value.available_credits == 3
    assert "needs 12.5, the account has 3" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_429_waits_retry_after_then_succeeds(
    stub: MusicGPTStub,
    client: DeechoClient,
    session: ClockedSession,
    clock: FakeClock,
    take: Path,
) -> None:
    stub.submit_replies.append(
        Reply(429, {"success": False, "error": "Too many requests"}, {"Retry-After": "7"})
    )
    task = client.submit_file(take)

    assert task.task_id in stub.tasks
    (first, _, _), (second, _, _) = session.sent
    assert second - first == pytest.approx(7.0)
    assert sum(clock.slept) == pytest.approx(7.0)


def test_429_on_poll_honours_retry_after_beyond_the_poll_interval(
    stub: MusicGPTStub, client: DeechoClient, session: ClockedSession, take: Path
) -> None:
    task = client.submit_file(take)
    stub.poll_replies.append(Reply(429, {"success": False}, {"Retry-After": "20"}))

    client.wait(task.task_id)

    times = byid_times(session)
    assert times[1] - times[0] == pytest.approx(20.0)
    assert len(times) == 4  # the refused call, then the three the task needs


def test_429_without_relief_raises_rate_limited_after_the_retries(
    stub: MusicGPTStub, clock: FakeClock, session: ClockedSession, take: Path
) -> None:
    client = make_client(stub, clock, session, max_retries=3)
    for _ in range(10):
        stub.submit_replies.append(Reply(429, {"success": False}, {"Retry-After": "5"}))

    with pytest.raises(RateLimitedError) as caught:
        client.submit_file(take)

    assert caught.value.retry_after_s == 5.0
    assert len(session.sent) == 4
    assert sum(clock.slept) == pytest.approx(15.0)


def test_429_without_retry_after_backs_off_exponentially(
    stub: MusicGPTStub, client: DeechoClient, session: ClockedSession, take: Path
) -> None:
    for _ in range(3):
        stub.submit_replies.append(Reply(429, {"success": False}))
    client.submit_file(take)
    gaps = np.diff([when for when, _, _ in session.sent])
    np.testing.assert_allclose(gaps, [2.0, 4.0, 8.0])


def test_500_on_submit_is_not_retried_and_says_what_the_server_said(
    stub: MusicGPTStub, client: DeechoClient, session: ClockedSession, take: Path
) -> None:
    stub.submit_replies.append(Reply(500, {"success": False, "error": "Internal Server Error"}))

    with pytest.raises(BackendError) as caught:
        client.submit_file(take)

    assert type(caught.value) is BackendError
    assert "HTTP 500: Internal Server Error" in str(caught.value)
    assert len(session.sent) == 1  # a retried upload could start (and bill) a second task


def test_422_reason_is_read_from_error(stub: MusicGPTStub, client: DeechoClient) -> None:
    with pytest.raises(BackendError, match="Either audio_url or audio_file must be provided"):
        client.submit_url("")


def test_500_on_poll_is_retried(
    stub: MusicGPTStub, client: DeechoClient, session: ClockedSession, take: Path
) -> None:
    task = client.submit_file(take)
    stub.poll_replies.append(Reply(500, {"success": False, "error": "Internal Server Error"}))
    stub.poll_replies.append(Reply(502, b"<html>Bad Gateway</html>"))

    assert client.wait(task.task_id).status == "COMPLETED"
    assert len(byid_times(session)) == 5


def test_400_on_poll_reads_message(stub: MusicGPTStub, client: DeechoClient) -> None:
    with pytest.raises(BackendError, match="Invalid request parameters"):
        client.status("no-such-task")


def test_failed_task_raises_task_failed_with_the_reason(
    stub: MusicGPTStub, client: DeechoClient, take: Path
) -> None:
    stub.progression = ["IN_QUEUE", "FAILED"]
    task = client.submit_file(take)

    with pytest.raises(TaskFailedError, match="ended FAILED: Audio could not be processed"):
        client.wait(task.task_id)


def test_error_status_with_reason_in_error_field(stub: MusicGPTStub, client: DeechoClient) -> None:
    conversion = {"task_id": "t1", "status": "ERROR", "error": "decoder crashed"}
    stub.poll_replies.append(Reply(200, {"success": True, "conversion": conversion}))
    with pytest.raises(TaskFailedError, match="ended ERROR: decoder crashed"):
        client.wait("t1")


def test_task_that_never_finishes_times_out_with_bounded_polls(
    stub: MusicGPTStub, client: DeechoClient, session: ClockedSession, take: Path
) -> None:
    stub.progression = ["IN_QUEUE", "IN_PROGRESS"]
    task = client.submit_file(take)

    with pytest.raises(TaskTimeoutError, match="did not finish within 120 s"):
        client.wait(task.task_id, timeout_s=120)

    times = byid_times(session)
    assert times[-1] - times[0] <= 120
    assert 4 <= len(times) <= 120 / 3  # backed off, never faster than every 3 s


def test_cancel_event_stops_waiting_between_polls(
    stub: MusicGPTStub, client: DeechoClient, session: ClockedSession, take: Path
) -> None:
    stub.progression = ["IN_QUEUE", "IN_PROGRESS"]
    task = client.submit_file(take)
    stop = threading.Event()

    def on_status(conversion: Conversion) -> None:
        if conversion.status == "IN_PROGRESS":
            stop.set()

    with pytest.raises(CancelledError):
        client.wait(task.task_id, cancelled=stop, on_status=on_status)
    assert len(byid_times(session)) == 2


def test_conversion_path_fallback_when_webhook_names_are_absent(
    stub: MusicGPTStub, client: DeechoClient
) -> None:
    conversion = {
        "task_id": "t2",
        "status": "COMPLETED",
        "conversion_path": "https://files.example/t2.mp3",
        "conversion_path_wav": "",
    }
    stub.poll_replies.append(Reply(200, {"success": True, "conversion": conversion}))
    done = client.wait("t2")
    assert done.no_echo_url() == "https://files.example/t2.mp3"


@pytest.mark.parametrize("honour_ranges", [True, False])
def test_broken_download_is_resumed_or_restarted(
    stub: MusicGPTStub, client: DeechoClient, take: Path, tmp_path: Path, honour_ranges: bool
) -> None:
    task = client.submit_file(take)
    url = client.wait(task.task_id).no_echo_url()
    stub.break_downloads = 2
    stub.honour_ranges = honour_ranges
    seen: list[int] = []

    target = client.download(
        url, tmp_path / "out.mp3", progress=lambda got, total: seen.append(got)
    )

    assert target.read_bytes() == stub.files[url.rsplit("/", 1)[1]]
    downloads = [r for r in stub.requests if r.path.startswith("/files/")]
    assert len(downloads) == 3
    ranges = [r.headers.get("range") for r in downloads]
    assert ranges[0] is None
    if honour_ranges:
        half = len(target.read_bytes()) // 2
        resumed_at = int(str(ranges[1]).removeprefix("bytes=").removesuffix("-"))
        assert 0 < resumed_at <= half  # picked up where the cut left off
    assert [p.name for p in tmp_path.glob(".*")] == []


def test_download_that_keeps_breaking_leaves_nothing_behind(
    stub: MusicGPTStub, client: DeechoClient, take: Path, tmp_path: Path
) -> None:
    task = client.submit_file(take)
    url = client.wait(task.task_id).no_echo_url()
    stub.break_downloads = 99
    stub.honour_ranges = False
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(BackendError, match="broke 3 times"):
        client.download(url, out / "no_echo.mp3", attempts=3)
    assert list(out.iterdir()) == []


def test_expired_link_says_so(stub: MusicGPTStub, client: DeechoClient, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="could not serve the result \\(HTTP 404\\)"):
        client.download(stub.origin + "/files/gone.mp3", tmp_path / "x.mp3")
    assert list(tmp_path.iterdir()) == []


def test_key_goes_only_to_the_api_origin_not_to_storage_links(
    stub: MusicGPTStub, client: DeechoClient, take: Path, tmp_path: Path
) -> None:
    with MusicGPTStub() as storage:
        storage.files["x.mp3"] = b"ID3 not really audio"
        client.download(storage.origin + "/files/x.mp3", tmp_path / "x.mp3")
        assert "authorization" not in storage.requests[-1].headers
    stub.files["y.mp3"] = b"y"
    client.download(stub.origin + "/files/y.mp3", tmp_path / "y.mp3")
    assert stub.requests[-1].headers["authorization"] == KEY


def test_unreachable_server_is_one_clear_line(clock: FakeClock, tmp_path: Path) -> None:
    with MusicGPTStub() as gone:
        base = gone.base_url
    client = DeechoClient(base, KEY, sleep=clock.sleep, clock=clock, service="MusicGPT")
    with pytest.raises(BackendError) as caught:
        client.status("t3")
    assert str(caught.value).startswith(f"cannot reach MusicGPT at {base}")
    assert "\n" not in str(caught.value)


def test_non_json_answer_points_at_the_base_url(
    stub: MusicGPTStub, client: DeechoClient, take: Path
) -> None:
    stub.submit_replies.append(Reply(200, b"<html>a login page</html>"))
    with pytest.raises(BackendError, match=r"other than JSON .* check the base URL"):
        client.submit_file(take)
