"""The workspace against a live `deecho serve` on loopback (a real subprocess, real HTTP).

Same job as the local flow: open -> trim -> process (upload, poll byId, download) ->
compare -> keep, plus what a wrong key looks like to the user: one line, no traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from tui_support import digest, settle

from audio_fixtures import stop_process
from deecho.audio.io import probe, read_audio
from deecho.backends import get_backend
from deecho.config import Settings, WorkspaceSettings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.compare_view import CompareScreen
from deecho.tui.workspace import WorkspaceScreen

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

KEY = "tui-test-key-4242"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`deecho serve` in a subprocess on a free loopback port; yields its URL."""
    port = free_port()
    env = {**os.environ, "DEECHO_API_KEY": KEY}
    script = Path(sys.executable).with_name("deecho")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "deecho"]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--data-dir", str(tmp_path / "server")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate()
                pytest.fail(f"deecho serve did not start: {err.decode()[-2000:]}")
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def server_settings(url: str, key: str) -> Settings:
    return Settings(
        workspace=WorkspaceSettings(backend="server", server_url=url, server_api_key=SecretStr(key))
    )


async def test_process_on_a_live_server(server: str, take: Path, history: History) -> None:
    before = digest(take)
    settings = server_settings(server, KEY)
    backend = get_backend(server, settings, poll_interval_s=0.2)
    app = DeechoApp(take, settings=settings, backend=backend, history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.prep.preview is not None)
        assert screen.backend.choice == "server"
        screen.query_one("#end").value = "4.0"  # type: ignore[attr-defined]
        await settle(
            pilot, lambda: screen.prep.preview is not None and screen.prep.preview.end_s == 4.0
        )
        seen: list[str] = []

        def watching() -> bool:
            if screen.job.status is not None:
                seen.append(screen.job.status.status)
            return isinstance(app.screen, CompareScreen)

        await pilot.press("p")
        await settle(pilot, watching, timeout_s=240)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        assert "COMPLETED" in seen or "DOWNLOADING" in seen
        assert {"IN_QUEUE", "IN_PROGRESS"} & set(seen)  # the server's own statuses came through
        record = history.recent()[0]
        assert record.status == "COMPLETED" and record.backend == "server"
        assert record.task_id  # the server's task id, kept in the history
        assert abs(compare.outcome.figures.offset_samples) < 1.0
        await pilot.press("s")
        await settle(pilot, lambda: len(compare.kept) == 1)

    kept = take.with_name("take.no_echo.wav")
    no_echo, rate = read_audio(kept)
    assert rate == probe(take).sample_rate and no_echo.shape[1] == 4 * rate
    assert digest(take) == before


async def test_a_wrong_key_is_one_line_and_no_result(
    server: str, take: Path, history: History
) -> None:
    settings = server_settings(server, "not-the-key")
    backend = get_backend(server, settings, poll_interval_s=0.2)
    app = DeechoApp(take, settings=settings, backend=backend, history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.info is not None)
        await pilot.press("p")
        await settle(pilot, lambda: not screen.job.running and screen.job.status is not None)
        assert screen.job.status is not None and screen.job.status.status == "FAILED"
        messages = [notification.message for notification in app._notifications]
        errors = [message for message in messages if "key" in message.lower()]
        assert errors and all("\n" not in message for message in errors)
        assert "Traceback" not in " ".join(messages)
        assert isinstance(app.screen, WorkspaceScreen)  # no compare view for a failed job
    record = history.recent()[0]
    assert record.status == "FAILED" and "key" in record.message.lower()
    assert not take.with_name("take.no_echo.wav").exists()
