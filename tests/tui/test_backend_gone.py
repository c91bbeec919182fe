"""A workspace that reopens on a deecho server that has gone away says so, lastingly:
in the backend panel at once, and in the job panel when a job is tried anyway."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from tui_support import settle

from deecho.config import Settings, WorkspaceSettings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.workspace import WorkspaceScreen

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def _note(screen: WorkspaceScreen) -> str:
    return str(screen.query_one("#backend-note").render())


@pytest.fixture
def gone_url() -> str:
    """A loopback address where a server was and nothing listens any more."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def listening_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _settings(url: str) -> Settings:
    return Settings(
        workspace=WorkspaceSettings(backend=url, server_url=url, server_api_key=SecretStr("k"))
    )


async def test_a_server_gone_is_said_at_once_and_stays(
    take: Path, history: History, gone_url: str
) -> None:
    app = DeechoApp(take, settings=_settings(gone_url), history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: "Not reachable" in _note(screen), timeout_s=30)
        note = screen.query_one("#backend-note")
        assert "refused the connection" in _note(screen) and note.has_class("failure")
        assert gone_url.removeprefix("http://") in _note(screen)

        # A job tried anyway fails, and its reason stays in the job panel.
        await settle(pilot, lambda: screen.prep.preview is not None)
        await pilot.press("p")
        await settle(pilot, lambda: screen.job.status is not None and not screen.job.running)
        assert screen.job.status is not None and screen.job.status.status == "FAILED"
        detail = screen.query_one("#job-detail")
        assert str(detail.render()).strip() and detail.has_class("failure")
        assert "Not reachable" in _note(screen)  # the panel's word has not faded either
    assert history.recent()[0].status == "FAILED"


async def test_a_server_that_answers_gets_the_plain_note(
    take: Path, history: History, listening_url: str
) -> None:
    app = DeechoApp(take, settings=_settings(listening_url), history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.prep.preview is not None)
        await settle(pilot, lambda: not any(w.group == "reach" for w in screen.backend.workers))
        await pilot.pause()
        assert "deecho serve" in _note(screen) and "Not reachable" not in _note(screen)
        assert screen.backend.problem is None
