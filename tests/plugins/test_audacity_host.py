"""The Audacity script against real Audacity (Debian's 3.2) under Xvfb.

The take is imported through mod-script-pipe, a passage is selected, the script
runs as a user runs it (a subprocess, deecho on PATH), and the result is read
back from Audacity itself: its track list, and the new track exported through
the pipe and compared with the dry take the echo was added to.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_fixtures import tone_burst_signal

from .conftest import ECHO_DELAY_S, PLUGINS, RATE, speech_with_echo, write_wav
from .real_audacity import (
    Audacity,
    running_audacity,
)

SCRIPT = PLUGINS / "audacity" / "deecho_audacity.py"
SELECTION_S = 2.0


def si_sdr_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    estimate = estimate - estimate.mean()
    reference = reference - reference.mean()
    target = reference * np.dot(estimate, reference) / np.dot(reference, reference)
    error = estimate - target
    return float(10.0 * np.log10(np.dot(target, target) / np.dot(error, error)))


def dry_take() -> np.ndarray:
    """The take before the echo was added (conftest.speech_with_echo's source)."""
    return tone_burst_signal(RATE, 4.0, seed=7)[0].astype(np.float64)


def start_in_a_pause(dry: np.ndarray, after_s: float = 1.0) -> float:
    """The first moment after `after_s` with no sound for one echo delay before it.

    An engineer cuts a passage in a pause; a selection cut mid-word would carry the
    echo of a word it does not contain, which no echo remover can take out.
    """
    window = int(ECHO_DELAY_S * RATE) + 1
    loud = np.concatenate([[0], np.cumsum(np.abs(dry) > 1e-6)])
    for start in range(int(after_s * RATE), len(dry)):
        if loud[start] == loud[start - window]:
            return start / RATE
    raise AssertionError("the take has no pause to start a selection in")


def run_script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--timeout", "120", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def host_env(audacity: Audacity, deecho_bin: Path) -> dict[str, str]:
    """What the user's shell has: deecho and the system tools on PATH, their HOME."""
    env = {k: v for k, v in audacity.env.items() if not k.startswith("DEECHO_")}
    env["PATH"] = os.pathsep.join([str(deecho_bin.parent), "/usr/local/bin", "/usr/bin", "/bin"])
    return env


@pytest.fixture(scope="module")
def audacity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audacity]:
    workdir = tmp_path_factory.mktemp("audacity")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("DEECHO_")}
    with running_audacity(workdir, base_env) as host:
        yield host


def test_the_selection_comes_back_cleaned_as_a_track_in_real_audacity(
    audacity: Audacity, deecho_bin: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "my takes"
    folder.mkdir()
    take = write_wav(folder / "vocal take.wav", speech_with_echo(4.0, 2))
    dry = dry_take()
    start = start_in_a_pause(dry)
    end = start + SELECTION_S

    with audacity.client() as pipe:
        pipe.command(f'Import2: Filename="{take}"')
        pipe.command("SelectTracks: Track=0 TrackCount=1 Mode=Set")
        pipe.command(f"SelectTime: Start={start} End={end}")
        [imported] = pipe.tracks()
    assert imported["name"] == "vocal take" and imported["channels"] == 2

    kept = tmp_path / "kept"
    done = run_script(host_env(audacity, deecho_bin), "--output-dir", str(kept))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deecho: added track 'vocal take (deecho)'"), done.stdout

    exported = tmp_path / "exported.wav"
    echoey = tmp_path / "echoey.wav"
    with audacity.client() as pipe:
        original, cleaned = pipe.tracks()
        for index, path in ((1, exported), (0, echoey)):
            pipe.command(f"SelectTracks: Track={index} TrackCount=1 Mode=Set")
            pipe.command(f"SelectTime: Start={start} End={end}")
            pipe.command(f'Export2: Filename="{path}" NumChannels=2')

    assert original["name"] == "vocal take", "the original track keeps its name"
    assert original["start"] == 0.0 and original["end"] == pytest.approx(4.0, abs=1 / RATE)
    assert cleaned["name"] == "vocal take (deecho)" and cleaned["channels"] == 2
    assert cleaned["start"] == pytest.approx(start, abs=1 / RATE), "lined up with the selection"
    assert cleaned["end"] == pytest.approx(end, abs=1 / RATE)

    audio, rate = sf.read(exported, always_2d=True)
    assert rate == RATE, "the project kept the take's rate"
    assert audio.shape == (round(SELECTION_S * RATE), 2)
    first = round(start * RATE)
    reference = dry[first : first + audio.shape[0]]
    before, _ = sf.read(echoey, always_2d=True)
    gain = si_sdr_db(audio[:, 0], reference) - si_sdr_db(before[:, 0], reference)
    assert gain >= 15.0, f"SI-SDR gain {gain:.1f} dB against the dry take"
    [kept_file] = kept.iterdir()
    assert kept_file.name.startswith("vocal_take-"), "the cleaned file is kept for Audacity"


def test_without_deecho_on_path_the_user_is_told_how_to_get_it(
    audacity: Audacity, deecho_bin: Path
) -> None:
    env = host_env(audacity, deecho_bin)
    env["PATH"] = "/usr/bin:/bin"
    done = run_script(env)
    assert done.returncode == 69
    assert done.stderr.strip() == (
        "deecho: the deecho command is not on PATH; install it (pipx install deecho) "
        "or pass --deecho /full/path/to/deecho"
    )
