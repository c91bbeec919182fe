"""The echo and reverb amounts in the workspace: typed in the backend panel, sent with the job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tui_support import settle

from deecho.audio.io import read_audio
from deecho.backends import get_backend
from deecho.config import Settings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.compare_view import CompareScreen
from deecho.tui.workspace import WorkspaceScreen

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


async def test_nothing_asked_returns_what_was_sent(
    take: Path, settings: Settings, history: History
) -> None:
    backend = get_backend("local", settings)
    app = DeechoApp(take, settings=settings, backend=backend, history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.prep.preview is not None)
        assert screen.query_one("#echo-amount").value == "1"  # type: ignore[attr-defined]
        screen.query_one("#echo-amount").value = "0"  # type: ignore[attr-defined]
        screen.query_one("#reverb-amount").value = "0"  # type: ignore[attr-defined]
        await pilot.press("p")
        await settle(pilot, lambda: isinstance(app.screen, CompareScreen), timeout_s=240)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        prepped, _ = read_audio(compare.outcome.prepped)
        no_echo, _ = read_audio(compare.outcome.no_echo)
    np.testing.assert_array_equal(no_echo, prepped)
    record = history.recent()[0]
    assert record.workdir is not None
    report = json.loads((record.workdir / "job.json").read_text())
    assert (report["echo_amount"], report["reverb_amount"]) == (0.0, 0.0)


async def test_an_amount_out_of_range_is_refused_before_anything_runs(
    take: Path, settings: Settings, history: History
) -> None:
    app = DeechoApp(
        take, settings=settings, backend=get_backend("local", settings), history=history
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.prep.preview is not None)
        screen.query_one("#reverb-amount").value = "1.5"  # type: ignore[attr-defined]
        await pilot.press("p")
        await pilot.pause()
        told = [n.message for n in app._notifications if n.severity == "error"]
        assert any("reverb amount '1.5'" in message for message in told)
        assert not screen.job.running
    assert history.recent() == []
