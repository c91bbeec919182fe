"""The server over real HTTP on loopback: the contract's answers, results, webhooks, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import numpy as np
import pytest
import requests
import soundfile as sf
from test_server_harness import (
    API_KEY,
    LiveServer,
    Received,
    live_server,
    peer_server,
    peer_url,
    wait_for,
    write_wav,
)

from deecho.api.models import ErrorBody, SubmitResponse, TaskStatus, WebhookPayload
from deecho.server.webhooks import SIGNATURE_HEADER, verify_signature


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One server for the tests that need no settings of their own (start-up costs seconds)."""
    with live_server(tmp_path_factory.mktemp("server") / "data") as live:
        yield live


@pytest.fixture
def take(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "take.wav", 3.0, rate=16000, channels=2)


def _error(response: requests.Response) -> str:
    return ErrorBody.model_validate(response.json()).reason


# --- the happy path -----------------------------------------------------------------------------


def test_upload_polls_to_completed_and_results_download_with_plain_get(
    server: LiveServer, take: Path, tmp_path: Path
) -> None:
    response = server.submit_file(take)
    assert response.status_code == 200, response.text
    submitted = SubmitResponse.model_validate(response.json())
    assert submitted.success and submitted.status == "IN_QUEUE"
    assert submitted.message == "Message published to queue"
    assert submitted.eta > 0
    assert set(response.json()) == {
        "success", "task_id", "conversion_id", "eta", "credit_estimate", "message", "status",
    }  # fmt: skip

    conversion = server.wait_done(submitted.task_id)
    assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
    assert conversion.conversion_id == submitted.conversion_id
    assert conversion.conversion_duration == pytest.approx(3.0, abs=1e-3)
    assert conversion.createdAt.endswith("Z") and conversion.updatedAt >= conversion.createdAt
    assert (conversion.model_extra or {}).get("progress") == 1.0

    input_frames = sf.info(str(take)).frames
    for kind in ("no_echo", "no_echo_wav", "echo", "echo_wav"):
        url = getattr(conversion, kind)
        assert url.startswith(server.url), kind
        download = requests.get(url, timeout=30)  # no Authorization: the link is the credential
        assert download.status_code == 200, (kind, download.text)
        path = tmp_path / f"got_{kind}{Path(urlsplit(url).path).suffix}"
        path.write_bytes(download.content)
        info = sf.info(str(path))
        assert info.channels == 2
        if kind.endswith("_wav"):
            assert info.frames == input_frames
        else:  # MP3: encoder delay and padding allow a frame (1152 samples) or so either way
            assert abs(info.frames - input_frames) <= 2 * 1152
    # the same task by its conversion_id
    by_conversion = requests.get(
        f"{server.base}/byId",
        params={"conversionType": "DEECHO", "conversion_id": submitted.conversion_id},
        headers=server.headers(),
        timeout=10,
    )
    assert by_conversion.json()["conversion"]["task_id"] == submitted.task_id


def test_result_links_cannot_be_altered(server: LiveServer, take: Path) -> None:
    task_id = server.submit_file(take).json()["task_id"]
    conversion = server.wait_done(task_id)
    assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
    parts = urlsplit(conversion.no_echo_wav)
    query = parse_qs(parts.query)
    forged_token = query["token"][0][:-1] + ("0" if query["token"][0][-1] != "0" else "1")
    later = int(query["expires"][0]) + 3600
    for forged_query in (
        f"expires={query['expires'][0]}&token={forged_token}",
        f"expires={later}&token={query['token'][0]}",
        "",
    ):
        forged = urlunsplit(parts._replace(query=forged_query))
        assert requests.get(forged, timeout=10).status_code == 403
    other_file = conversion.no_echo_wav.replace("_noecho.wav", "_echo.wav")
    assert requests.get(other_file, timeout=10).status_code == 403


# --- webhooks -----------------------------------------------------------------------------------


def test_webhook_arrives_signed_with_the_documented_payload(server: LiveServer, take: Path) -> None:
    with peer_server(lambda request: (200, {}, b"ok")) as receiver:
        response = server.submit_file(take, webhook_url=peer_url(receiver, "/hook"))
        task_id = response.json()["task_id"]
        assert wait_for(lambda: len(receiver.received) >= 1, 120)
        hook = receiver.received[0]
    assert hook.path == "/hook"
    assert hook.headers["content-type"] == "application/json"
    assert verify_signature(hook.body, hook.headers[SIGNATURE_HEADER.lower()], API_KEY)
    assert not verify_signature(hook.body + b" ", hook.headers[SIGNATURE_HEADER.lower()], API_KEY)
    payload = WebhookPayload.model_validate(hook.json())
    assert payload.success and payload.task_id == task_id
    assert payload.conversion_type == "Deecho"
    assert payload.message == "de_echo conversion Completed"
    assert isinstance(hook.json()["conversion_duration"], float)
    assert isinstance(hook.json()["conversion_cost"], str)
    assert payload.audio_path == f"files/{task_id}.wav"
    for url in (payload.no_echo, payload.no_echo_wav, payload.echo, payload.echo_wav):
        assert requests.get(url, timeout=30).status_code == 200


def test_webhook_is_retried_until_the_receiver_accepts(server: LiveServer, take: Path) -> None:
    answers = iter([500, 503, 200])

    def flaky(request: Received) -> tuple[int, dict[str, str], bytes]:
        return next(answers, 200), {}, b""

    with peer_server(flaky) as receiver:
        server.submit_file(take, webhook_url=peer_url(receiver, "/hook"))
        assert wait_for(lambda: len(receiver.received) >= 3, 120)
        attempts = [int(hook.headers["x-deecho-attempt"]) for hook in receiver.received]
        bodies = {hook.body for hook in receiver.received}
    assert attempts[:3] == [1, 2, 3]
    assert len(bodies) == 1  # the same signed body each time
    task_id = json.loads(next(iter(bodies)))["task_id"]
    rows = server_store_rows(server, task_id)
    assert rows[0]["delivered_at"] is not None and rows[0]["attempts"] == 3


def server_store_rows(server: LiveServer, task_id: str) -> list[dict[str, object]]:
    from deecho.server.store import TaskStore

    store = TaskStore(server.config.data_dir / "tasks.sqlite3")
    try:
        return store.webhook_rows(task_id)
    finally:
        store.close()


def test_failed_task_reports_why_in_byid_and_webhook(server: LiveServer, tmp_path: Path) -> None:
    def serve_garbage(request: Received) -> tuple[int, dict[str, str], bytes]:
        if request.path == "/noise.wav":
            return 200, {"Content-Type": "audio/wav"}, b"RIFF this is not audio at all" * 40
        return 200, {}, b""

    with peer_server(serve_garbage) as peer:
        response = requests.post(
            f"{server.base}/deecho",
            headers=server.headers(),
            data={"audio_url": peer_url(peer, "/noise.wav"), "webhook_url": peer_url(peer, "/h")},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert response.json()["eta"] == -1  # unknown until the file is fetched
        conversion = server.wait_done(response.json()["task_id"])
        assert wait_for(lambda: any(r.path == "/h" for r in peer.received), 60)
        hook = next(r for r in peer.received if r.path == "/h")
    assert conversion.task_status == TaskStatus.FAILED
    assert "not a readable audio file" in conversion.reason
    assert conversion.no_echo == ""
    payload = WebhookPayload.model_validate(hook.json())
    assert not payload.success and "not a readable audio file" in (payload.error or "")
    # and the server still serves
    assert requests.get(f"{server.base}/health", timeout=10).json()["success"]


# --- auth ---------------------------------------------------------------------------------------


def test_missing_or_wrong_key_is_401_json(server: LiveServer, take: Path) -> None:
    for headers in ({}, {"Authorization": "wrong"}, {"Authorization": "Bearer wrong"}):
        response = requests.post(
            f"{server.base}/deecho", headers=headers, data={"audio_url": "http://x/"}, timeout=10
        )
        assert response.status_code == 401
        assert response.json() == {"success": False, "error": "Authentication failed"}
        by_id = requests.get(
            f"{server.base}/byId",
            params={"conversionType": "DEECHO", "task_id": "x"},
            headers=headers,
            timeout=10,
        )
        assert by_id.status_code == 401


def test_bearer_key_is_accepted(server: LiveServer, take: Path) -> None:
    with take.open("rb") as stream:
        response = requests.post(
            f"{server.base}/Deecho",  # the cURL sample's spelling
            headers={"Authorization": f"Bearer {API_KEY}"},
            files={"audio_file": stream},
            timeout=10,
        )
    assert response.status_code == 200, response.text


def test_task_is_visible_only_to_its_key(tmp_path: Path, take: Path) -> None:
    data = tmp_path / "data"
    with live_server(data) as first:
        task_id = first.submit_file(take).json()["task_id"]
        assert first.by_id(task_id).status_code == 200
    with live_server(data, api_key="another-key") as second:
        response = second.by_id(task_id)
        assert response.status_code == 404
        assert response.json()["success"] is False


# --- bad input ----------------------------------------------------------------------------------


def test_neither_audio_url_nor_file_is_422_with_the_vendor_text(server: LiveServer) -> None:
    for data in ({}, {"webhook_url": ""}, {"audio_url": ""}):
        response = requests.post(
            f"{server.base}/deecho", headers=server.headers(), data=data, timeout=10
        )
        assert response.status_code == 422
        assert response.json() == {
            "success": False,
            "error": "Either audio_url or audio_file must be provided.",
        }


def test_both_audio_url_and_file_is_422(server: LiveServer, take: Path) -> None:
    response = server.submit_file(take, audio_url="http://127.0.0.1:9/a.wav")
    assert response.status_code == 422
    assert "not both" in _error(response)


def test_upload_over_the_cap_is_413_and_not_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    big = write_wav(tmp_path / "big.wav", 60.0, rate=16000)  # ~1.9 MB
    with live_server(data, max_upload_bytes=256 * 1024) as live:
        response = live.submit_file(big)
        assert response.status_code == 413, response.text
        assert "limit" in _error(response)

        def chunked() -> object:  # no Content-Length: the server must count as it reads
            boundary = b"xyzzy"
            yield b"--" + boundary + b"\r\n"
            yield b'Content-Disposition: form-data; name="audio_file"; filename="big.wav"\r\n\r\n'
            for _ in range(64):
                yield b"\0" * 65536
            yield b"\r\n--" + boundary + b"--\r\n"

        response = requests.post(
            f"{live.base}/deecho",
            headers={**live.headers(), "Content-Type": "multipart/form-data; boundary=xyzzy"},
            data=chunked(),
            timeout=30,
        )
        assert response.status_code == 413
        assert list((data / "tasks").iterdir()) == []  # nothing of it stays on disk
        assert live.submit_file(write_wav(tmp_path / "small.wav", 1.0)).status_code == 200


def test_undecodable_upload_is_422_and_the_server_keeps_serving(
    server: LiveServer, tmp_path: Path, take: Path
) -> None:
    garbage = tmp_path / "song.wav"
    garbage.write_bytes(b"ID3" + bytes(range(256)) * 64)
    response = server.submit_file(garbage)
    assert response.status_code == 422
    assert response.json()["error"].startswith("song.wav: ")
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    assert server.submit_file(empty).status_code == 422
    assert server.submit_file(take).status_code == 200


@pytest.mark.parametrize(
    ("field", "url", "expected"),
    [
        ("audio_url", "ftp://127.0.0.1/a.wav", "only http and https"),
        ("audio_url", "file:///etc/passwd", "only http and https"),
        ("audio_url", "http:///nohost.wav", "no host"),
        ("audio_url", "http://10.1.2.3/a.wav", "private"),
        ("audio_url", "http://169.254.169.254/latest/meta-data", "link-local"),
        ("audio_url", "http://[fd00::1]/a.wav", "private"),
        ("audio_url", "http://224.0.0.1/a.wav", "multicast"),
        ("webhook_url", "http://192.168.1.10/hook", "private"),
        ("webhook_url", "javascript:alert(1)", "only http and https"),
    ],
)
def test_bad_urls_are_refused_at_submit(
    server: LiveServer, take: Path, field: str, url: str, expected: str
) -> None:
    if field == "audio_url":
        response = requests.post(
            f"{server.base}/deecho", headers=server.headers(), data={field: url}, timeout=10
        )
    else:
        response = server.submit_file(take, webhook_url=url)
    assert response.status_code == 422, response.text
    assert field in _error(response) and expected in _error(response)


def test_loopback_is_refused_when_the_server_is_not_loopback_only(
    tmp_path: Path,
) -> None:
    with live_server(tmp_path / "data", host="0.0.0.0") as live:
        response = requests.post(
            f"{live.base}/deecho",
            headers=live.headers(),
            data={"audio_url": "http://127.0.0.1:9/a.wav"},
            timeout=10,
        )
        assert response.status_code == 422
        assert "loopback" in _error(response)


def test_byid_parameters(server: LiveServer, take: Path) -> None:
    task_id = server.submit_file(take).json()["task_id"]
    for params in (
        {"task_id": task_id},  # no conversionType
        {"conversionType": "DEREVERB", "task_id": task_id},
        {"conversionType": "DEECHO"},
        {"conversionType": "DEECHO", "task_id": task_id, "conversion_id": "x"},
    ):
        response = requests.get(
            f"{server.base}/byId", params=params, headers=server.headers(), timeout=10
        )
        assert response.status_code == 400
        assert response.json() == {"success": False, "message": "Invalid request parameters"}
    unknown = server.by_id("00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404 and unknown.json()["success"] is False


def test_too_many_pending_tasks_is_429_with_retry_after(tmp_path: Path, take: Path) -> None:
    with live_server(tmp_path / "limited", max_pending_per_key=1) as live:
        assert live.submit_file(take).status_code == 200
        refused = live.submit_file(take)  # the first is still queued or running
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "30"
        assert "Too many tasks" in _error(refused)


def test_a_killed_worker_process_costs_a_retry_not_the_task(tmp_path: Path, take: Path) -> None:
    import os
    import signal
    import time

    with live_server(tmp_path / "killed") as live:
        task_id = live.submit_file(take).json()["task_id"]
        deadline = time.monotonic() + 120
        while live.by_id(task_id).json()["conversion"]["status"] == "IN_QUEUE":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # this server's pool processes (the pool starts them as the first job is handed over)
        executor = live.app_state().runner._executor
        assert wait_for(lambda: bool(getattr(executor, "_processes", None)), 60)
        for pid in list(executor._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        conversion = live.wait_done(task_id)
        assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
        stored = live.app_state().store.get(task_id)
        assert stored is not None and stored.attempts == 2


# --- deecho's extensions: echo and reverb amounts -----------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"echo": "1.5"}, "echo=1.5"),
        ({"reverb": "-1"}, "reverb=-1"),
        ({"echo": "lots"}, "echo=lots"),
    ],
)
def test_amounts_out_of_range_are_422_with_a_clear_message(
    server: LiveServer, take: Path, fields: dict[str, str], named: str
) -> None:
    response = server.submit_file(take, **fields)
    assert response.status_code == 422
    reason = _error(response)
    assert reason.startswith(named) and "from 0 to 1" in reason


def _cleaned(server: LiveServer, take: Path, folder: Path, **fields: str) -> np.ndarray:
    response = server.submit_file(take, **fields)
    assert response.status_code == 200, response.text
    conversion = server.wait_done(SubmitResponse.model_validate(response.json()).task_id)
    assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
    path = folder / f"result-{len(list(folder.iterdir()))}.wav"
    path.write_bytes(requests.get(conversion.no_echo_wav, timeout=30).content)
    return np.asarray(sf.read(str(path), dtype="float32")[0])


def test_amounts_reach_the_engine(server: LiveServer, take: Path, tmp_path: Path) -> None:
    """echo=0 reverb=0 asks the engine to take nothing: the result is the upload itself,
    where the default (all it finds) changes the echoey take."""
    original = np.asarray(sf.read(str(take), dtype="float32")[0])
    untouched = _cleaned(server, take, tmp_path, echo="0", reverb="0")
    cleaned = _cleaned(server, take, tmp_path)
    assert untouched.shape == original.shape == cleaned.shape
    assert abs(untouched - original).max() < 1e-6
    assert abs(cleaned - original).max() > 1e-3
