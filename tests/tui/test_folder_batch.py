"""The workspace on a folder: its takes with their batch status, the batch run with p
(deecho batch's own BatchRun, real worker processes), read back from the state file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import soundfile as sf
from textual.widgets import DataTable
from tui_support import settle

from audio_fixtures import tone_burst_signal
from deecho.config import Settings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.folder_view import FolderView, default_outdir
from deecho.tui.job_panel import JobPanel
from deecho.tui.picker import AudioTree, FilePicker

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(600)]

RATE = 16000
CORRUPT = b"RIFF\x24\x00\x00\x00WAVEfmt garbage"


def takes(root: Path, seconds: float = 2.0) -> Path:
    """Two good takes (one in a subfolder), a corrupt one and a note that is not audio."""
    for name, seed in (("a.wav", 1), ("session/b.wav", 2)):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone_burst_signal(RATE, seconds, seed=seed).T, RATE)
    (root / "corrupt.wav").write_bytes(CORRUPT)
    (root / "notes.txt").write_text("not audio\n")
    return root


def shown(view: FolderView) -> dict[str, str]:
    """Each row's status cell as the table draws it, by the file's place in the folder."""
    table: DataTable[object] = view.query_one("#folder-table", DataTable)
    rows = {}
    for file in view.files:
        name = file.item.input.relative_to(view.folder or Path()).as_posix()
        rows[name] = str(table.get_cell(str(file.item.input), "status"))
    return rows


def recorded(outdir: Path) -> dict[str, str]:
    with sqlite3.connect(outdir / "deecho-batch.sqlite") as db:
        return dict(db.execute("SELECT output, status FROM files"))


def batch_ended(view: FolderView) -> bool:
    return view.tally is not None and not view.tally.running and not view.running


async def test_a_folder_is_listed_run_and_read_back(tmp_path: Path, history: History) -> None:
    folder = takes(tmp_path / "takes")
    outdir = default_outdir(folder)
    assert outdir == tmp_path / "takes-deecho"
    app = DeechoApp(folder, settings=Settings(), history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.screen.query_one(FolderView)
        await settle(pilot, lambda: len(view.files) == 3)
        # notes.txt is not audio and not named so: not listed; corrupt.wav is named as audio
        assert shown(view) == {"a.wav": "to do", "corrupt.wav": "to do", "session/b.wav": "to do"}
        assert not outdir.exists()  # looking makes nothing
        await pilot.press("p")
        await settle(pilot, lambda: batch_ended(view), timeout_s=400)
        rows = shown(view)
        job_lines = str(app.screen.query_one(JobPanel).query_one("#job-status").render())
    assert rows["a.wav"] == rows["session/b.wav"] == "done"
    assert rows["corrupt.wav"].startswith("failed: ")
    assert "corrupt.wav" not in rows["corrupt.wav"]  # the row names the file already
    assert "3/3 files (1 failed)" in job_lines
    assert recorded(outdir) == {
        "a.no_echo.wav": "done",
        "session/b.no_echo.wav": "done",
        "corrupt.no_echo.wav": "failed",
    }
    outputs = [outdir / "a.no_echo.wav", outdir / "session" / "b.no_echo.wav"]
    assert all(sf.info(path).frames > 0 for path in outputs)
    made = {path: path.stat().st_mtime_ns for path in outputs}

    # Reopened: the statuses come from the state file, and a second run redoes nothing.
    again = DeechoApp(folder, settings=Settings(), history=history)
    async with again.run_test(size=(120, 40)) as pilot:
        view = again.screen.query_one(FolderView)
        await settle(pilot, lambda: len(view.files) == 3)
        assert shown(view) == rows
        await pilot.press("p")
        await settle(pilot, lambda: batch_ended(view), timeout_s=400)
        assert shown(view) == rows
    assert {path: path.stat().st_mtime_ns for path in outputs} == made
    assert recorded(outdir)["a.no_echo.wav"] == "done"


async def test_the_picker_opens_a_folder_and_c_stops_its_batch(
    tmp_path: Path, history: History
) -> None:
    folder = takes(tmp_path / "takes", seconds=20.0)
    outdir = default_outdir(folder)
    app = DeechoApp(None, settings=Settings(), history=history, start_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, FilePicker))
        tree = app.screen.query_one(AudioTree)
        await settle(pilot, lambda: len(tree.root.children) > 0)
        node = next(n for n in tree.root.children if n.data and n.data.path.name == "takes")
        tree.move_cursor(node)
        await pilot.press("f")  # the highlighted folder: takes/
        await settle(pilot, lambda: not isinstance(app.screen, FilePicker))
        view = app.screen.query_one(FolderView)
        await settle(pilot, lambda: len(view.files) == 3)
        await pilot.press("p", "c")
        await settle(pilot, lambda: batch_ended(view), timeout_s=120)
        rows = shown(view)
        # Stopped: what had not ended stays as handed out, for the next run (two 20 s
        # takes cannot both end between the two key presses).
        states = recorded(outdir)
        assert "started" in states.values()
        # Whatever ended before the stop is whole and recorded; nothing is half-written.
        assert not [path for path in outdir.rglob("*") if ".partial" in path.name]
        for name, key in (("a.wav", "a.no_echo.wav"), ("session/b.wav", "session/b.no_echo.wav")):
            output = outdir / key
            if rows[name] == "done":
                assert states[key] == "done" and sf.info(output).frames > 0
            else:
                assert rows[name] == "to do" and not output.exists()
        # p again does the rest.
        await pilot.press("p")
        await settle(pilot, lambda: batch_ended(view), timeout_s=400)
        rows = shown(view)
    assert rows["a.wav"] == rows["session/b.wav"] == "done"
    assert set(recorded(outdir).values()) == {"done", "failed"}
