"""`deecho batch --same-room`: one echo model, fitted on all the clips, applied to each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from test_cli_batch import RATE, batch, rows

from audio_fixtures import tone_burst_signal

DELAY_S = 0.35


def session(tmp_path: Path, clips: int) -> Path:
    """Clips of 2-3 s cut from one long take through a 350 ms echo."""
    dry = tone_burst_signal(RATE, 40.0, seed=11)[0]
    lag = round(DELAY_S * RATE)
    wet = dry.copy()
    wet[lag:] += 0.5 * dry[:-lag]
    folder = tmp_path / "session"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for number in range(clips):
        length = round(rng.uniform(2.0, 3.0) * RATE)
        start = number * 4 * RATE
        sf.write(folder / f"clip{number}.wav", wet[start : start + length], RATE)
    sf.write(tmp_path / "whole.wav", wet, RATE)
    return folder


def echoes(row: dict) -> list[tuple[float, float]]:
    return [(echo["delay_ms"], echo["gain"]) for echo in row["echoes"]]


def test_every_clip_gets_the_rooms_echo_and_a_new_room_redoes_them(tmp_path: Path):
    folder = session(tmp_path, clips=6)
    out = tmp_path / "out"
    result = batch(folder, "-o", out, "--same-room", "--jobs", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert "one room for every file" in result.stderr
    report = rows(result)
    assert {row["status"] for row in report.values()} == {"done"}
    found = {tuple(echoes(row)) for row in report.values()}
    assert len(found) == 1  # the same model for all
    (room,) = found
    assert any(abs(delay - DELAY_S * 1000) < 1.0 for delay, _ in room), room
    for row in report.values():
        cleaned, _ = sf.read(row["output"], dtype="float32")
        assert cleaned.shape[0] == round(row["duration_s"] * RATE)

    # the room from one long take instead: another model, so every file is done again
    again = batch(folder, "-o", out, "--room-from", tmp_path / "whole.wav", "--json")
    assert again.returncode == 0, again.stderr
    assert {row["status"] for row in rows(again).values()} == {"done"}
    same = batch(folder, "-o", out, "--room-from", tmp_path / "whole.wav", "--json")
    assert {row["status"] for row in rows(same).values()} == {"skipped"}


def test_same_room_refuses_a_remote_backend(tmp_path: Path):
    folder = session(tmp_path, clips=1)
    result = batch(folder, "-o", tmp_path / "out", "--same-room", "--backend", "http://127.0.0.1:9")
    assert result.returncode == 64
    assert "--same-room works with the local engine" in result.stderr
