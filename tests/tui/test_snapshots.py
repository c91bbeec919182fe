"""Snapshots of the main views at 120x40 (pytest-textual-snapshot).

Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs before committing them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.pilot import Pilot

from deecho.audio.io import read_audio
from deecho.config import Settings
from deecho.history import History
from deecho.overview import overview_of_array
from deecho.tui.app import DeechoApp
from deecho.tui.compare_view import CompareScreen
from deecho.tui.tasks import CompareOutcome
from deecho.tui.workspace import WorkspaceScreen

REPO = Path(__file__).resolve().parents[2]
SAMPLE = Path("samples/speech_echo.wav")  # relative: the title bar shows it as given
SIZE = (120, 40)

SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def workspace_app(tmp_path: Path) -> DeechoApp:
    return DeechoApp(SAMPLE, settings=Settings(), history=History(tmp_path / "data"))


async def loaded(pilot: Pilot[Any]) -> None:
    """Wait until the file is read, measured and its prep previewed."""
    for _ in range(2000):
        screen = pilot.app.screen
        if isinstance(screen, WorkspaceScreen) and screen.preview is not None:
            break
        await asyncio.sleep(0.02)
    await pilot.pause()


def test_workspace_with_a_file_open(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(workspace_app(tmp_path), terminal_size=SIZE, run_before=loaded)


def test_workspace_with_trim_and_normalize(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def trim_and_normalize(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, WorkspaceScreen)
        await pilot.press(*["right_square_bracket"] * 10, *["left_curly_bracket"] * 20, "n")
        for _ in range(2000):
            preview = screen.preview
            if preview is not None and preview.options.normalize_peak_dbfs is not None:
                break
            await asyncio.sleep(0.02)
        await pilot.pause()

    assert snap_compare(workspace_app(tmp_path), terminal_size=SIZE, run_before=trim_and_normalize)


def test_help_lists_the_keys(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def open_help(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(workspace_app(tmp_path), terminal_size=SIZE, run_before=open_help)


def made_up_outcome(tmp_path: Path) -> CompareOutcome:
    """A compare result built from known arrays, so the picture does not hang on the engine."""
    original, rate = read_audio(REPO / SAMPLE)
    delay = int(0.12 * rate)
    echo = np.zeros_like(original)
    echo[:, delay:] = 0.4 * original[:, :-delay]
    no_echo = original - echo
    windows = np.arange(30)
    residual = [-12.0 + 6.0 * math.sin(w / 4.0) for w in windows]
    residual[5] = math.nan  # a quiet window
    metrics = {
        "offset_samples": 0.0,
        "offset_ms": 0.0,
        "drift_ppm": 0.0,
        "gain_db": -0.42,
        "polarity": 1,
        "correlation": 0.9512,
        "residual_db": -11.3,
        "energy_removed_db": 2.7,
        "si_sdr_db": 11.1,
        "overlap_s": 11.988,
        "rt60_before_s": 0.61,
        "rt60_after_s": 0.32,
        "sample_rate": rate,
        "echoes_before": [{"delay_ms": 120.0, "gain": 0.4}],
    }
    return CompareOutcome(
        prepped=tmp_path / "prepped.wav",
        no_echo=tmp_path / "no_echo.wav",
        echo=tmp_path / "echo.wav",
        raw_no_echo=tmp_path / "no_echo.wav",
        sample_rate=rate,
        metrics=metrics,
        residual_db=residual,
        residual_window_s=0.4,
        original_overview=overview_of_array(original, rate),
        no_echo_overview=overview_of_array(no_echo, rate),
        echo_overview=overview_of_array(echo, rate),
        report_json=tmp_path / "compare.json",
    )


def test_compare_view(snap_compare: SnapCompare, tmp_path: Path) -> None:
    outcome = made_up_outcome(tmp_path)

    async def show_compare(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.app.push_screen(CompareScreen(REPO / SAMPLE, outcome, None))
        await pilot.pause()

    assert snap_compare(workspace_app(tmp_path), terminal_size=SIZE, run_before=show_compare)
