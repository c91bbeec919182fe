"""An input replaced while `deecho batch` has it queued: the output ends up of the new take.

An engineer re-exports a take from the DAW (saved the usual way: written beside, then
renamed over the old one) while a batch over its folder still has it waiting. The run
must not crash or leave a half file; whatever that run made of it, a rerun (what the
engineer does next) must leave the output of the new take, bit for bit what
`deecho process` makes of it, without redoing the files that did not change.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
from test_cli_batch import RATE, batch, clip, no_partials, rows, start_batch, wait_for_first_done

from audio_fixtures import deecho_command, tone_burst_signal


def test_an_input_replaced_while_queued_ends_as_the_new_take(tmp_path: Path) -> None:
    import subprocess

    folder = tmp_path / "in"
    for seed in range(6):
        clip(folder / f"take{seed}.wav", seconds=8.0, seed=seed)
    out = tmp_path / "out"
    running = start_batch(folder, "-o", out, "--jobs", "1")
    wait_for_first_done(running)
    # the DAW's save: the new take written beside, then renamed over the queued one
    new_take = tone_burst_signal(RATE, 5.0, seed=99).T
    beside = folder / ".take5.wav.saving"
    sf.write(beside, new_take, RATE, format="WAV")
    os.replace(beside, folder / "take5.wav")
    _, stderr = running.communicate(timeout=300)
    assert running.returncode == 0, stderr
    assert no_partials(out)
    first = sf.info(out / "take5.no_echo.wav").frames
    assert first in (8 * RATE, 5 * RATE), "the output is one take or the other, whole"
    unchanged = sorted(out.glob("take[0-4].no_echo.wav"))
    mtimes = {path.name: path.stat().st_mtime_ns for path in unchanged}

    rerun = batch(folder, "-o", out, "--jobs", "1", "--json")
    assert rerun.returncode == 0, rerun.stderr
    statuses = {name: row["status"] for name, row in rows(rerun).items()}
    assert all(statuses[f"take{n}.wav"] == "skipped" for n in range(5))
    assert {path.name: path.stat().st_mtime_ns for path in unchanged} == mtimes

    alone = tmp_path / "alone.wav"
    made = subprocess.run(
        [*deecho_command(), "process", str(folder / "take5.wav"), "-o", str(alone)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    from_batch, _ = sf.read(out / "take5.no_echo.wav", dtype="float32")
    from_process, _ = sf.read(alone, dtype="float32")
    assert from_batch.shape == from_process.shape == new_take.shape[:1]
    assert np.array_equal(from_batch, from_process)
