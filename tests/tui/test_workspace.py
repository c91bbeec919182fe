"""The workspace's smaller promises: the picker, zoom and scroll, bad files, hidden A/B, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tui_support import settle

from deecho.config import Settings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.picker import AudioTree, FilePicker
from deecho.tui.playback import output_device_available
from deecho.tui.waveform import Waveform
from deecho.tui.workspace import WorkspaceScreen

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


async def test_without_a_file_the_picker_opens_and_shows_only_audio(
    take: Path, history: History
) -> None:
    (take.parent / "notes.txt").write_text("not audio")
    (take.parent / ".hidden.wav").write_bytes(b"")
    app = DeechoApp(None, settings=Settings(), history=history, start_dir=take.parent)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, FilePicker))
        tree = app.screen.query_one(AudioTree)
        await settle(pilot, lambda: len(tree.root.children) > 0)
        shown = [node.data.path.name for node in tree.root.children if node.data]
        assert shown == ["take.wav"]
        await pilot.press("down", "enter")
        await settle(pilot, lambda: isinstance(app.screen, WorkspaceScreen))
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.info is not None)
        assert screen.path == take


async def test_zoom_and_scroll_change_the_view_only(take: Path, history: History) -> None:
    app = DeechoApp(take, settings=Settings(), history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.levels is not None)
        wave = screen.query_one(Waveform)
        whole = wave.duration_s
        assert wave.span_s == pytest.approx(whole)
        before = wave.render().plain
        await pilot.press("plus", "plus")
        assert wave.span_s == pytest.approx(whole / 4)
        assert wave.view_start_s == pytest.approx(whole * 3 / 8)  # zoomed around the middle
        await pilot.press("right")
        assert wave.view_start_s == pytest.approx(whole * 3 / 8 + whole / 16)
        assert wave.render().plain != before
        await pilot.press("0")
        assert wave.span_s == pytest.approx(whole) and wave.view_start_s == 0.0
        assert wave.render().plain == before


async def test_a_broken_file_is_one_line_not_a_traceback(tmp_path: Path, history: History) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40)
    app = DeechoApp(broken, settings=Settings(), history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: len(app._notifications) > 0)
        [notification] = list(app._notifications)
        assert notification.severity == "error"
        assert "broken.wav" in notification.message and "\n" not in notification.message
        assert "Traceback" not in notification.message
        assert isinstance(app.screen, WorkspaceScreen)  # still running, ready for another file


async def test_ab_listening_is_hidden_without_an_output_device(
    take: Path, history: History
) -> None:
    from deecho.tui.compare_view import CompareScreen

    assert not output_device_available()  # no sounddevice / no device on this machine
    screen = CompareScreen.__new__(CompareScreen)
    screen.can_play = False
    assert screen.check_action("play", ("original",)) is False
    assert screen.check_action("keep", (False,)) is True


def test_cli_refuses_a_missing_file_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deecho", "tui", str(tmp_path / "nope.wav")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 64
    assert result.stderr.strip().count("\n") == 0 and "nope.wav" in result.stderr


def test_cli_lists_tui_and_its_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deecho", "tui", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "--backend" in result.stdout


async def test_compare_views_zoom_and_scroll_together(tmp_path: Path, history: History) -> None:
    from tui_support import REPO, SAMPLE, made_up_outcome

    from deecho.tui.compare_view import CompareScreen

    outcome = made_up_outcome(tmp_path)
    app = DeechoApp(REPO / SAMPLE, settings=Settings(), history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(CompareScreen(REPO / SAMPLE, outcome, None))
        await pilot.pause()
        overlaid = app.screen.query_one("#overlaid", Waveform)
        removed = app.screen.query_one("#removed", Waveform)
        assert overlaid.has_focus
        await pilot.press("plus", "plus", "plus", "right")
        await pilot.pause()
        assert overlaid.span_s == pytest.approx(overlaid.duration_s / 8)
        assert removed.span_s == pytest.approx(overlaid.span_s)
        assert removed.view_start_s == pytest.approx(overlaid.view_start_s)
        await pilot.press("tab")  # the echo view drives too
        await pilot.press("0")
        await pilot.pause()
        assert overlaid.view_span_s is None and removed.view_span_s is None


def test_keeping_never_overwrites_and_follows_the_original(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    from deecho.audio.io import probe, read_audio
    from deecho.tui.tasks import keep_result

    rate = 16000
    audio = (0.1 * np.sin(np.arange(rate) / 7.0)).astype(np.float32)[None, :]
    original = tmp_path / "take.flac"
    sf.write(str(original), audio.T, rate, subtype="PCM_24")
    result = tmp_path / "result.wav"
    sf.write(str(result), (audio * 0.5).T, rate, subtype="FLOAT")
    squatter = tmp_path / "take.no_echo.flac"
    squatter.write_bytes(b"someone else's file")

    [kept] = keep_result(original, result)
    assert kept.name == "take.no_echo.2.flac"
    assert squatter.read_bytes() == b"someone else's file"
    assert probe(kept).subtype == "PCM_24"
    saved, _ = read_audio(kept)
    assert np.abs(saved - audio * 0.5).max() < 2**-22


async def test_the_waveform_shows_what_will_be_sent(take: Path, history: History) -> None:
    app = DeechoApp(take, settings=Settings(), history=history)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        await settle(pilot, lambda: screen.prep.preview is not None)
        wave = screen.query_one(Waveform)
        original = wave.overview
        original_scale = wave.scale
        await pilot.press(*["right_square_bracket"] * 10, "n")  # trim 10%, peak to -1 dBFS
        await settle(
            pilot,
            lambda: (
                screen.prep.preview is not None
                and screen.prep.preview.options.normalize_peak_dbfs is not None
                and screen.prep.preview.start_s > 0
            ),
        )
        await pilot.press("w")
        assert screen.prep.preview is not None and wave.overview is screen.prep.preview.overview
        assert wave.scale == original_scale  # louder shows as bigger, on the same scale
        assert wave.duration_s == pytest.approx(
            screen.prep.preview.end_s - screen.prep.preview.start_s
        )
        assert "as sent" in str(wave.border_title)
        await pilot.press("w")
        assert wave.overview is original
        assert wave.start_marker_s == pytest.approx(screen.prep.start_s)
