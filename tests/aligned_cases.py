"""Known answers for the alignment tests: a dry take, the same take with echo, and how to
judge a saved no_echo against the dry take (imported by name, like audio_fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from deecho.compare.metrics import band_limit, si_sdr_db

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
#: MP3 (V0) drops what lies above ~19 kHz: MP3 results are judged below this.
MP3_BAND_HZ = 16_000.0


def read(path: Path, seconds: float | None = None) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    frames = len(audio) if seconds is None else int(seconds * rate)
    return np.ascontiguousarray(audio.T[:, :frames]), int(rate)


def dry_and_take(kind: str, folder: Path) -> tuple[np.ndarray, Path, int]:
    """The dry take (array) and the echoey take written as a float WAV in `folder`:
    `mono` is speech at 22.05 kHz, `stereo` ping-pong music at 44.1 kHz; 6 s each."""
    names = {
        "mono": ("speech_dry.wav", "speech_echo.wav"),
        "stereo": ("music_dry.flac", "music_pingpong.flac"),
    }[kind]
    dry, rate = read(SAMPLES / names[0], 6.0)
    take, _ = read(SAMPLES / names[1], 6.0)
    path = folder / "take.wav"
    sf.write(path, take.T, rate, subtype="FLOAT")
    return dry, path, rate


def saved_against_dry(
    dry: np.ndarray,
    take: Path,
    no_echo: Path,
    echo: Path,
    alignment: dict[str, Any],
    band_hz: float | None,
) -> float:
    """SI-SDR (dB) of a saved no_echo against the dry take on the overlap the job reported,
    after checking it has the take's shape and rate and that echo = take − no_echo exactly."""
    original, rate = read(take)
    cleaned, cleaned_rate = read(no_echo)
    removed, _ = read(echo)
    assert cleaned.shape == original.shape and cleaned_rate == rate
    np.testing.assert_array_equal(original - cleaned, removed)  # sample for sample
    start = round(alignment["overlap_start_s"] * rate)
    stop = start + round(alignment["overlap_s"] * rate)
    assert stop - start > 0.9 * original.shape[1]
    reference, judged = dry[:, start:stop], cleaned[:, start:stop]
    if band_hz is not None and band_hz < rate / 2:
        reference, judged = band_limit(reference, rate, band_hz), band_limit(judged, rate, band_hz)
    return si_sdr_db(reference, judged)
