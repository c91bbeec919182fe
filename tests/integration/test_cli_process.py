"""`deecho process` through a real subprocess: outputs, stdout, exit codes, safety."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import soundfile as sf

from audio_fixtures import deecho_command, tone_burst_signal, write_m4a

RATE = 22050


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*deecho_command(), "process", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def echoed_take(tmp_path: Path) -> Path:
    dry = tone_burst_signal(RATE, 4.0, channels=2, seed=3)
    board = pedalboard.Pedalboard([pedalboard.Delay(delay_seconds=0.2, feedback=0.3, mix=0.4)])
    path = tmp_path / "take.wav"
    sf.write(path, board(dry, RATE).T, RATE, subtype="PCM_24")
    return path


def test_default_output_beside_input_and_path_on_stdout(echoed_take: Path):
    before = digest(echoed_take)
    result = run(echoed_take)
    assert result.returncode == 0, result.stderr
    expected = echoed_take.with_name("take.no_echo.wav")
    assert result.stdout.strip() == str(expected)
    info = sf.info(expected)
    assert (info.samplerate, info.channels, info.frames) == (RATE, 2, sf.info(echoed_take).frames)
    assert digest(echoed_take) == before
    assert not [p for p in echoed_take.parent.iterdir() if ".partial" in p.name]


def test_json_report_and_echo_output_sum_back_to_input(echoed_take: Path, tmp_path: Path):
    out, echo = tmp_path / "clean.wav", tmp_path / "removed.wav"
    result = run(echoed_take, "-o", out, "--echo-output", echo, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in (
        "input",
        "output",
        "echo_output",
        "duration_s",
        "sample_rate",
        "channels",
        "echoes",
        "rt60_before_s",
        "rt60_after_s",
        "seconds",
    ):
        assert key in report
    assert report["output"] == str(out)
    assert report["sample_rate"] == RATE and report["channels"] == 2
    assert report["duration_s"] == pytest.approx(4.0, abs=1e-3)
    assert any(abs(e["delay_ms"] - 200.0) < 2.0 for e in report["echoes"])
    original, _ = sf.read(echoed_take, dtype="float32", always_2d=True)
    no_echo, _ = sf.read(out, dtype="float32", always_2d=True)
    removed, _ = sf.read(echo, dtype="float32", always_2d=True)
    np.testing.assert_allclose(no_echo + removed, original, atol=1e-5)


def test_trim_range_sets_the_output_length(echoed_take: Path, tmp_path: Path):
    out = tmp_path / "part.wav"
    result = run(echoed_take, "-o", out, "--start", "0.5", "--end", "00:00:02.000")
    assert result.returncode == 0, result.stderr
    assert sf.info(out).frames == int(1.5 * RATE)


def test_existing_output_is_refused_without_force(echoed_take: Path, tmp_path: Path):
    out = tmp_path / "clean.wav"
    out.write_bytes(b"keep me")
    result = run(echoed_take, "-o", out)
    assert result.returncode == 73
    assert "--force" in result.stderr and "Traceback" not in result.stderr
    assert out.read_bytes() == b"keep me"
    assert run(echoed_take, "-o", out, "--force").returncode == 0
    assert sf.info(out).frames > 0


def test_never_writes_over_its_input(echoed_take: Path):
    before = digest(echoed_take)
    result = run(echoed_take, "-o", echoed_take, "--force")
    assert result.returncode == 73
    assert "input" in result.stderr
    assert digest(echoed_take) == before


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", 65), (b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10, 65), (None, 66)],
    ids=["empty", "corrupt", "missing"],
)
def test_bad_inputs_exit_with_one_clear_line(tmp_path: Path, content: bytes | None, code: int):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    result = run(path)
    assert result.returncode == code
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "bad.no_echo.wav").exists()


def test_usage_errors_exit_64(echoed_take: Path):
    assert run(echoed_take, "--strength", "3").returncode == 64
    assert run(echoed_take, "--start", "soon").returncode == 64
    assert run(echoed_take, "--normalize-peak", "-1", "--normalize-lufs", "-16").returncode == 64


def test_m4a_input_gives_a_wav_of_the_same_rate_and_channels(tmp_path: Path):
    dry = tone_burst_signal(44100, 3.0, channels=2, seed=5)
    path = write_m4a(tmp_path / "phone.m4a", dry, 44100)
    result = run(path, "--json")
    assert result.returncode == 0, result.stderr
    info = sf.info(json.loads(result.stdout)["output"])
    assert (info.samplerate, info.channels, info.frames) == (44100, 2, dry.shape[1])


def test_normalize_and_mp3_output(echoed_take: Path, tmp_path: Path):
    out = tmp_path / "clean.mp3"
    result = run(echoed_take, "-o", out, "--normalize-peak", "-3")
    assert result.returncode == 0, result.stderr
    assert sf.info(out).samplerate == RATE


@pytest.mark.parametrize(
    ("flag", "value"), [("--echo", "1.5"), ("--reverb", "-0.1"), ("--echo", "nan")]
)
def test_amounts_out_of_range_exit_64_with_one_clear_line(
    echoed_take: Path, flag: str, value: str
) -> None:
    result = run(echoed_take, flag, value)
    assert result.returncode == 64
    assert result.stderr.strip().splitlines() == [
        f"deecho: {flag} {float(value)}: use a value from 0 to 1"
    ]
    assert not echoed_take.with_name("take.no_echo.wav").exists()


def test_echo_and_reverb_amounts_are_reported(echoed_take: Path, tmp_path: Path) -> None:
    result = run(echoed_take, "--echo", "1", "--reverb", "0.25", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["echo_amount"] == 1.0 and report["reverb_amount"] == 0.25
    assert report["strength"] is None  # the two differ: no single strength stands for them
    for key in ("reverb_removed_db", "drr_before_db", "drr_after_db"):
        assert key in report
    assert isinstance(report["reverb_removed_db"], float)

    both = run(echoed_take, "-o", tmp_path / "both.wav", "--strength", "0.5", "--json")
    assert both.returncode == 0, both.stderr
    halves = json.loads(both.stdout)
    assert (halves["strength"], halves["echo_amount"], halves["reverb_amount"]) == (0.5, 0.5, 0.5)

    # --echo wins over --strength for the echo; the reverb keeps the strength.
    mixed = run(echoed_take, "-o", tmp_path / "m.wav", "--strength", "0.5", "--echo", "0", "--json")
    assert mixed.returncode == 0, mixed.stderr
    chosen = json.loads(mixed.stdout)
    assert (chosen["echo_amount"], chosen["reverb_amount"]) == (0.0, 0.5)


def test_nothing_asked_returns_the_input_exactly(echoed_take: Path, tmp_path: Path) -> None:
    out = tmp_path / "same.wav"
    result = run(echoed_take, "-o", out, "--echo", "0", "--reverb", "0")
    assert result.returncode == 0, result.stderr
    original, _ = sf.read(echoed_take, dtype="float32")
    cleaned, _ = sf.read(out, dtype="float32")
    np.testing.assert_array_equal(cleaned, original)
