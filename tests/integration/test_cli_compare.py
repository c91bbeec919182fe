"""`deecho compare` through a real subprocess: JSON, table, PNG, exit codes."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from audio_fixtures import deecho_command
from deecho.audio.io import write_audio
from deecho.compare.synthetic import SyntheticMusic

RATE = 16_000


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*deecho_command(), "compare", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def takes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A stereo original and a processed take 250.5 samples late, 3 dB down, inverted."""
    folder = tmp_path_factory.mktemp("takes")
    music = SyntheticMusic(seed=21, channels=2, partials=48, top_hz=6000)
    original = folder / "original.wav"
    processed = folder / "processed.flac"
    write_audio(original, music.render(RATE, 3 * RATE), RATE)
    late = music.render(RATE, 3 * RATE, delay_s=250.5 / RATE, gain=-(10 ** (-3 / 20)))
    write_audio(processed, late, RATE, bit_depth="24")
    return original, processed


def test_json_and_png(takes: tuple[Path, Path], tmp_path: Path) -> None:
    original, processed = takes
    png = tmp_path / "compare.png"
    done = run(original, processed, "--json", "--png", png, "--skip-echoes")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["offset_samples"] == pytest.approx(250.5, abs=0.05)
    assert report["offset_ms"] == pytest.approx(250.5 / RATE * 1000, abs=0.01)
    assert report["gain_db"] == pytest.approx(-3.0, abs=0.05)
    assert report["polarity"] == -1
    assert report["sample_rate"] == RATE
    assert abs(report["drift_ppm"]) < 1
    assert report["residual_db"] < -40  # 24-bit FLAC: the null is as deep as its quantisation
    assert report["overlap_s"] == pytest.approx(3.0 - 250.5 / RATE, abs=1e-3)
    assert report["png"] == str(png)
    assert report["original"]["path"] == str(original)
    assert png.stat().st_size > 50_000
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_table_with_engine_figures(tmp_path: Path) -> None:
    music = SyntheticMusic(seed=22, partials=32, top_hz=3000)
    original, processed = tmp_path / "a.wav", tmp_path / "b.wav"
    write_audio(original, music.render(8000, 2 * 8000), 8000)
    write_audio(processed, music.render(8000, 2 * 8000, delay_s=0.003), 8000)
    done = run(original, processed)
    assert done.returncode == 0, done.stderr
    for label in (
        "offset",
        "+24.000 samples",
        "drift",
        "gain",
        "null depth",
        "correlation",
        "SI-SDR",
        "RT60",
        "echoes",
        "octave (Hz)",
    ):
        assert label in done.stdout, label
    # The engine's estimators ran on both takes (RT60 may be n/a on 2 s: too few decays).
    assert "before: n/a" not in done.stdout and "after:  n/a" not in done.stdout


def test_missing_file_exits_66(takes: tuple[Path, Path], tmp_path: Path) -> None:
    done = run(takes[0], tmp_path / "nowhere.wav", "--skip-echoes")
    assert done.returncode == 66
    assert done.stderr.startswith("deecho: ") and len(done.stderr.strip().splitlines()) == 1


def test_bad_audio_exits_65(takes: tuple[Path, Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_text("this is not audio\n" * 100)
    done = run(takes[0], junk, "--skip-echoes")
    assert done.returncode == 65
    assert "Traceback" not in done.stderr


def test_unwritable_png_exits_73_before_any_work(takes: tuple[Path, Path], tmp_path: Path) -> None:
    png = tmp_path / "no-such-folder" / "c.png"
    done = run(*takes, "--png", png, "--skip-echoes")
    assert done.returncode == 73
    assert not png.parent.exists()


def test_png_over_an_input_is_refused(takes: tuple[Path, Path], tmp_path: Path) -> None:
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    before = hashlib.sha256(victim.read_bytes()).hexdigest()
    done = run(takes[0], victim, "--png", victim, "--skip-echoes")
    assert done.returncode == 64
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == before
