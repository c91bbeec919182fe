"""The workspace and the CLI on the same job save the same, aligned, result.

A vendor-shaped stub plays a service that removes the echo perfectly (it sends back
the known dry take) but shifts it 800 samples, as WAV or as MP3, at the take's rate
or at 48 kHz. In the workspace the keys are `p` (process) then `k` (keep both); on
the command line `deecho process --backend URL --echo-output … --json` in a real
subprocess. Both must save no_echo ≥ 30 dB SI-SDR against the dry take on the
overlap, echo = take − no_echo exactly, and report the same figures.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tui_support import settle

from aligned_cases import MP3_BAND_HZ, SAMPLES, dry_and_take, read, saved_against_dry
from audio_fixtures import deecho_command
from deecho.backends import get_backend
from deecho.config import Settings
from deecho.history import History
from deecho.tui.app import DeechoApp
from deecho.tui.compare_view import CompareScreen
from deecho.tui.workspace import WorkspaceScreen
from stubs.musicgpt import MusicGPTStub

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

KEY = "stub-key"
#: What differs between two runs of the same job by nature: where files went, how long it took.
_NOT_COMPARED = frozenset({"input", "output", "echo_output", "seconds"})


def cli(take: Path, stub: MusicGPTStub, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DEECHO_API_KEY": KEY,
        "DEECHO_POLL_INTERVAL_S": "0.05",
    }
    return subprocess.run(
        [*deecho_command(), "process", str(take), "--backend", stub.origin, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


def assert_same_report(cli_report: dict[str, Any], workspace_report: dict[str, Any]) -> None:
    assert cli_report.keys() == workspace_report.keys()
    for key in cli_report.keys() - _NOT_COMPARED:
        assert cli_report[key] == pytest.approx(workspace_report[key], abs=1e-6), key


@pytest.mark.parametrize(
    ("kind", "fmt", "offset", "result_rate"),
    [
        pytest.param("mono", "wav", 800, None, id="mono-wav-late"),
        pytest.param("stereo", "mp3", -800, 48000, id="stereo-mp3-early-44k1-to-48k"),
    ],
)
async def test_workspace_and_cli_save_the_same_aligned_result(
    tmp_path: Path, history: History, kind: str, fmt: str, offset: int, result_rate: int | None
) -> None:
    session = tmp_path / "session"
    session.mkdir()
    dry, take, rate = dry_and_take(kind, session)
    band = MP3_BAND_HZ if fmt == "mp3" else None
    with MusicGPTStub(api_key=KEY) as stub:
        stub.result_audio = (dry, rate)
        stub.result_delay_frames = offset
        stub.result_format = fmt
        stub.result_rate = result_rate

        # The command line, in a real subprocess.
        outputs = tmp_path / "cli"
        outputs.mkdir()
        done = cli(
            take,
            stub,
            "-o",
            str(outputs / "no_echo.wav"),
            "--echo-output",
            str(outputs / "echo.wav"),
            "--json",
        )
        assert done.returncode == 0, done.stderr
        cli_report = json.loads(done.stdout)
        cli_sdr = saved_against_dry(
            dry, take, outputs / "no_echo.wav", outputs / "echo.wav", cli_report["alignment"], band
        )
        assert cli_sdr >= 30.0

        # The workspace: p, then k once the comparison is shown.
        settings = Settings(api_key=KEY, workspace={"server_url": stub.origin})
        backend = get_backend(stub.origin, settings, poll_interval_s=0.05)
        app = DeechoApp(take, settings=settings, backend=backend, history=history)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, WorkspaceScreen)
            await settle(pilot, lambda: screen.prep.preview is not None)
            await pilot.press("p")
            await settle(pilot, lambda: isinstance(app.screen, CompareScreen), timeout_s=240)
            compare = app.screen
            assert isinstance(compare, CompareScreen)
            await pilot.press("k")
            await settle(pilot, lambda: len(compare.kept) == 2)
    record = history.recent()[0]
    assert record.status == "COMPLETED" and record.workdir is not None
    workspace_report = json.loads((record.workdir / "job.json").read_text())
    ws_sdr = saved_against_dry(
        dry,
        take,
        session / "take.no_echo.wav",
        session / "take.echo.wav",
        workspace_report["alignment"],
        band,
    )
    assert ws_sdr >= 30.0
    assert_same_report(cli_report, workspace_report)
    assert workspace_report["alignment"]["offset_samples"] == pytest.approx(
        offset * rate / (result_rate or rate), abs=2.0
    )


async def test_another_file_fails_with_one_line_and_saves_nothing(
    tmp_path: Path, history: History
) -> None:
    session = tmp_path / "session"
    session.mkdir()
    _, take, _ = dry_and_take("mono", session)
    other, other_rate = read(SAMPLES / "music_dry.flac", 6.0)
    with MusicGPTStub(api_key=KEY) as stub:
        stub.result_audio = (other, other_rate)
        stub.result_format = "wav"
        done = cli(take, stub, "--echo-output", str(session / "echo.wav"))
        assert done.returncode == 69
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "does not match the audio sent" in lines[0]
        assert sorted(path.name for path in session.iterdir()) == ["take.wav"]

        # The workspace keeps the reason in its job panel, not only in a passing toast.
        settings = Settings(api_key=KEY, workspace={"server_url": stub.origin})
        backend = get_backend(stub.origin, settings, poll_interval_s=0.05)
        app = DeechoApp(take, settings=settings, backend=backend, history=history)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, WorkspaceScreen)
            await settle(pilot, lambda: screen.prep.preview is not None)
            await pilot.press("p")
            await settle(pilot, lambda: not screen.job.running and screen.job.status is not None)
            await settle(pilot, lambda: screen.job.status.status == "FAILED")  # type: ignore[union-attr]
            detail = str(screen.query_one("#job-detail").render())
            assert "does not match the audio sent" in detail
    assert sorted(path.name for path in session.iterdir()) == ["take.wav"]
    assert history.recent()[0].status == "FAILED"
