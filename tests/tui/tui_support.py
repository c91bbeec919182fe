"""Helpers for the workspace tests (a module of its own: conftest files are not imported)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from textual.pilot import Pilot

from deecho.audio.io import read_audio
from deecho.compare.figures import CompareFigures, ResidualOverTime, TakeFigures
from deecho.overview import overview_of_array
from deecho.tui.tasks import CompareOutcome

REPO = Path(__file__).resolve().parents[2]
SAMPLE = Path("samples/speech_echo.wav")  # relative: the title bar shows it as given


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def settle(pilot: Pilot[Any], done: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Let workers run and messages land until `done()` holds (or fail after the timeout)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("the workspace did not reach the expected state in time")
        await pilot.pause()
        await asyncio.sleep(0.05)
    # Let what the change set off (a screen's mount, its header) finish before the test
    # goes on, or ends and tears the app down under it.
    await pilot.pause()


def made_up_outcome(tmp_path: Path) -> CompareOutcome:
    """A compare result built from known arrays, so the picture does not hang on the engine."""
    original, rate = read_audio(REPO / SAMPLE)
    delay = int(0.12 * rate)
    echo = np.zeros_like(original)
    echo[:, delay:] = 0.4 * original[:, :-delay]
    no_echo = original - echo
    windows = np.arange(30)
    residual = [-12.0 + 6.0 * math.sin(w / 4.0) for w in windows]
    residual[5] = math.nan  # a quiet window
    figures = CompareFigures(
        offset_samples=0.0,
        offset_ms=0.0,
        drift_ppm=0.0,
        drift_corrected=False,
        gain_db=-0.42,
        polarity=1,
        sample_rate=rate,
        correlation=0.9512,
        residual_db=-11.3,
        si_sdr_db=11.1,
        energy_removed_db=2.7,
        overlap_start_s=0.0,
        overlap_s=11.988,
        residual_over_time=ResidualOverTime(0.4),
        octave_bands=(),
        echoes_before=({"delay_ms": 120.0, "gain": 0.4},),
        echoes_after=None,
        rt60_before_s=0.61,
        rt60_after_s=0.32,
        original=TakeFigures(rate, 1, 11.988),
        processed=TakeFigures(rate, 1, 11.988),
        channels_compared=1,
        compared_band_hz=None,
        alignment_windows=48,
        alignment_spread_samples=0.01,
    )
    return CompareOutcome(
        prepped=tmp_path / "prepped.wav",
        no_echo=tmp_path / "no_echo.wav",
        echo=tmp_path / "echo.wav",
        raw_no_echo=tmp_path / "no_echo.wav",
        sample_rate=rate,
        figures=figures,
        residual_db=residual,
        residual_window_s=0.4,
        original_overview=overview_of_array(original, rate),
        no_echo_overview=overview_of_array(no_echo, rate),
        echo_overview=overview_of_array(echo, rate),
        report_json=tmp_path / "compare.json",
    )
