"""The job panel keeps how a job ended: a bug's one line stays too, not only its toast."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import settle

from deecho.backends.base import Cancelled, Submission
from deecho.config import Settings
from deecho.history import History
from deecho.kinds import BackendKind
from deecho.tui.app import DeechoApp
from deecho.tui.workspace import WorkspaceScreen

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


class BrokenBackend:
    """A backend with a bug: it raises what no backend should (not a DeechoError)."""

    name = "local"
    kind = BackendKind.LOCAL
    honours_amounts = True
    on_input_timeline = True

    def submit(
        self, audio: Path, cancelled: Cancelled | None = None, amounts: object = None
    ) -> Submission:
        raise RuntimeError("the engine tripped over its own feet")


async def test_an_internal_error_keeps_its_line_in_the_panel(take: Path, history: History) -> None:
    app = DeechoApp(take, settings=Settings(), backend=BrokenBackend(), history=history)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.prep.preview is not None)
        await pilot.press("p")
        await settle(pilot, lambda: screen.job.status is not None and not screen.job.running)
        assert screen.job.status is not None and screen.job.status.status == "ERROR"
        detail = screen.query_one("#job-detail")
        text = str(detail.render())
        assert "Internal error: RuntimeError" in text and "tripped" in text
        assert detail.has_class("failure")
        toasts = [n.message for n in app._notifications if "tripped" in n.message]
        assert len(toasts) == 1  # said once as a toast (the worker's), and kept in the panel
    record = history.recent()[0]
    assert record.status == "ERROR" and "tripped" in record.message
