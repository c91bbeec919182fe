"""Snapshots of the main views at 120x40 (pytest-textual-snapshot).

Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs before committing them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_support import REPO, SAMPLE, made_up_outcome

from deecho.config import Settings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.compare_view import CompareScreen
from deecho.tui.workspace import WorkspaceScreen

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
        if isinstance(screen, WorkspaceScreen) and screen.prep.preview is not None:
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
            preview = screen.prep.preview
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


def test_compare_view(snap_compare: SnapCompare, tmp_path: Path) -> None:
    outcome = made_up_outcome(tmp_path)

    async def show_compare(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.app.push_screen(CompareScreen(REPO / SAMPLE, outcome, None))
        await pilot.pause()

    assert snap_compare(workspace_app(tmp_path), terminal_size=SIZE, run_before=show_compare)
