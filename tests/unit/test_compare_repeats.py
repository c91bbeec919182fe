"""Repeated material: among lags that explain the audio equally well, the greatest overlap wins.

The take is one 20-second loop of noise-burst drums played four times, so it
matches itself one, two and three loops later. With clock drift the right
lag's correlation peak is smeared over many samples and a one-loop-late lag
used to win (seed 0 at 16 kHz makes main's whole-file search pick the wrong
peak at +20 ppm, both offsets). The drifted takes are made with soxr directly:
only where the take sits matters here, not how finely it was resampled.
"""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from deecho.compare import align_and_compare, repeats
from deecho.compare.broadband import noise_bursts

RATE = 16_000
LOOP_S = 20
REPEATS = 4


def looped_takes(channels: int, offset: int, drift_ppm: float) -> tuple[np.ndarray, np.ndarray]:
    """The looped original, and a take of it `offset` samples late on a clock `drift_ppm` long."""
    loop = noise_bursts(0, channels, LOOP_S * RATE, RATE, top_hz=7000.0)
    original = np.tile(loop, REPEATS).astype(np.float32)
    frames = original.shape[1]
    late = np.pad(original, ((0, 0), (offset, 0))) if offset > 0 else original[:, -offset:]
    if drift_ppm:
        # Output sample m is the input at m / (1 + drift): the take runs long.
        late = soxr.resample(late.T, 1.0, 1.0 + drift_ppm * 1e-6, quality="VHQ").T
    processed = np.zeros_like(original)
    kept = min(frames, late.shape[1])
    processed[:, :kept] = 0.8 * late[:, :kept]
    return original, processed


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("offset", [1500, -1500])
@pytest.mark.parametrize("drift_ppm", [0.0, 20.0])
def test_a_looped_take_aligns_at_the_lag_that_covers_it_all(
    channels: int, offset: int, drift_ppm: float
) -> None:
    original, processed = looped_takes(channels, offset, drift_ppm)
    found = align_and_compare(original, RATE, processed, RATE, engine_estimates=False)
    # The processed position of original sample t is offset * (1 + drift) + (1 + drift) * t.
    assert found.offset_samples == pytest.approx(offset * (1 + drift_ppm * 1e-6), abs=2)
    assert found.drift_ppm == pytest.approx(drift_ppm, abs=0.5)
    duration = REPEATS * LOOP_S
    assert found.overlap_s >= 0.95 * duration
    assert found.residual_db < -40
    assert any("material repeats" in note for note in found.notes)


def test_the_choice_lists_the_other_loops_as_equally_good() -> None:
    original, processed = looped_takes(1, 1500, 20.0)
    choice = repeats.choose_lag(
        original[0].astype(np.float64), processed[0].astype(np.float64), RATE
    )
    assert choice.repeats
    assert choice.chosen is not None
    assert choice.chosen.overlap == max(c.overlap for c in choice.candidates)
    loops_away = sorted(
        round((c.lag - choice.chosen.lag) / (LOOP_S * RATE), 2) for c in choice.alternatives
    )
    # Every alternative sits a whole number of loops from the chosen lag.
    assert loops_away and all(float(n).is_integer() and n != 0 for n in loops_away)


def test_material_that_does_not_repeat_gives_no_warning() -> None:
    take = noise_bursts(1, 1, 30 * RATE, RATE, top_hz=7000.0).astype(np.float32)
    late = np.pad(take, ((0, 0), (700, 0)))[:, : take.shape[1]]
    found = align_and_compare(take, RATE, late, RATE, engine_estimates=False)
    assert found.offset_samples == pytest.approx(700, abs=1e-3)
    assert not any("repeats" in note for note in found.notes)
