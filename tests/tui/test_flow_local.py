"""The whole job in the workspace on the local engine, driven by keys through a Pilot.

open a take -> trim with the marker keys -> normalize to a peak -> process -> compare ->
keep no_echo and echo -> export the report, asserting on the screens' state and on the
files written beside the take (and that the take itself is untouched).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tui_support import digest, settle

from deecho.audio.io import probe, read_audio
from deecho.backends import get_backend
from deecho.compare import comparison
from deecho.config import Settings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.compare_view import CompareScreen
from deecho.tui.workspace import WorkspaceScreen

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


async def test_open_trim_normalize_process_compare_keep(
    take: Path, settings: Settings, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = digest(take)
    backend = get_backend("local", settings)
    app = DeechoApp(take, settings=settings, backend=backend, history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.levels is not None and screen.prep.preview is not None)
        info = probe(take)
        assert screen.info is not None and screen.info.frames == info.frames
        wave = screen.query_one("#wave")
        assert wave.overview is not None and wave.overview.complete  # type: ignore[attr-defined]
        # The measured peak of the take matches the file's samples.
        audio, rate = read_audio(take)
        peak_dbfs = 20 * np.log10(np.abs(audio).max())
        assert screen.levels is not None
        assert abs(screen.levels.peak_dbfs - peak_dbfs) < 0.01

        # Trim: the start marker moves 1% of the view per key; the end is typed.
        for _ in range(5):
            await pilot.press("right_square_bracket")
        expected_start = 5 * info.duration_s / 100
        assert screen.prep.start_s == pytest.approx(expected_start, abs=1e-6)
        await pilot.press("t")  # focus the start field, then tab to the end field
        await pilot.press("tab")
        for key in "0:05.5":
            await pilot.press(key)
        await pilot.press("enter")
        assert screen.prep.end_s == pytest.approx(5.5)

        # Normalize to a -3 dBFS peak: the preview of what will be sent shows it.
        await pilot.press("n")
        target = screen.query_one("#normalize-target")
        target.value = "-3.0"  # type: ignore[attr-defined]
        await settle(
            pilot,
            lambda: (
                screen.prep.preview is not None
                and screen.prep.preview.options.normalize_peak_dbfs == -3.0
                and screen.prep.preview.options.end_s == 5.5
            ),
        )
        assert screen.prep.preview is not None
        assert screen.prep.preview.start_s == pytest.approx(expected_start, abs=1 / rate)
        assert screen.prep.preview.levels.peak_dbfs == pytest.approx(-3.0, abs=0.05)

        # Process on the local engine; the compare view opens on its own.
        await pilot.press("p")
        await settle(pilot, lambda: isinstance(app.screen, CompareScreen), timeout_s=240)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        record = history.recent()[0]
        assert record.status == "COMPLETED" and record.backend == "local"
        assert record.task_id  # the local engine runs as a task too, watched the same way
        figures = compare.outcome.figures
        assert abs(figures.offset_samples) < 0.5  # the local engine keeps time exactly
        assert figures.energy_removed_db > 0.0  # some echo went
        prepped, _ = read_audio(compare.outcome.prepped)
        assert prepped.shape[1] == round((5.5 - expected_start) * rate)
        assert np.abs(prepped).max() == pytest.approx(10 ** (-3 / 20), rel=0.01)

        # Keep no_echo, then both: new names each time, never over anything.
        await pilot.press("s")
        await settle(pilot, lambda: len(compare.kept) == 1)
        await pilot.press("k")
        await settle(pilot, lambda: len(compare.kept) == 3)
        await pilot.press("e")
        await settle(pilot, lambda: any(p.suffix == ".png" for p in compare.kept))
        shown_figures = compare.outcome.figures
        shown_trace = compare.outcome.trace

    folder = take.parent
    names = sorted(path.name for path in folder.iterdir())
    assert "take.no_echo.wav" in names and "take.no_echo.2.wav" in names
    assert "take.echo.wav" in names and "take.deecho-compare.json" in names
    assert "take.deecho-compare.png" in names
    assert (folder / "take.deecho-compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((folder / "take.deecho-compare.json").read_text())
    assert report["offset_samples"] == figures.offset_samples
    assert digest(take) == before  # the original is never written
    no_echo, no_echo_rate = read_audio(folder / "take.no_echo.wav")
    echo, _ = read_audio(folder / "take.echo.wav")
    assert no_echo_rate == rate and no_echo.shape == prepped.shape
    # echo is exactly what was removed: prepped = no_echo + echo (to 16-bit precision).
    assert np.abs(prepped - (no_echo + echo)).max() < 4 / 32768
    assert probe(folder / "take.no_echo.wav").subtype == info.subtype  # kept like the original
    assert history.get(record.id) is not None
    assert len(history.get(record.id).saved) >= 3  # type: ignore[union-attr]

    # After a restart, the history reopens the same result in the compare view.
    again = DeechoApp(take, settings=settings, backend=backend, history=History(history.data_dir))
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        await settle(pilot, lambda: type(again.screen).__name__ == "HistoryScreen")
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(again.screen, CompareScreen))
        reopened = again.screen
        assert isinstance(reopened, CompareScreen)
        assert reopened.outcome.figures == shown_figures
        assert reopened.outcome.trace == shown_trace and shown_trace is not None
        assert reopened.record is not None and reopened.record.id == record.id

        # Its report's picture is drawn from what the job kept, not by comparing again.
        def no_alignment(*args: object, **kwargs: object) -> None:
            raise AssertionError("the reopened job was compared again")

        monkeypatch.setattr(comparison, "measure", no_alignment)
        await pilot.press("e")
        await settle(pilot, lambda: any(p.suffix == ".png" for p in reopened.kept))
    png = folder / "take.deecho-compare.2.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
