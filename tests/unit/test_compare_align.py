"""The alignment building blocks against exact answers from the synthetic take's formula."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from deecho.compare import align, resample
from deecho.compare.synthetic import SyntheticMusic

RATE = 16_000
MUSIC = SyntheticMusic(seed=5, partials=64, top_hz=6000)


def null_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum((reference - estimate) ** 2) / np.sum(reference**2)))


def test_shift_reads_between_samples() -> None:
    audio = MUSIC.render(RATE, 2 * RATE)
    out = resample.shift(audio, 123.37, RATE)
    exact = MUSIC.at((123.37 + np.arange(RATE)) / RATE)
    assert null_db(exact[:, 100:-100], out[:, 100:-100]) < -80


def test_shift_by_whole_samples_is_a_slice_with_silence_outside() -> None:
    audio = MUSIC.render(RATE, RATE)
    out = resample.shift(audio, -10.0, 100)
    assert np.all(out[:, :10] == 0)
    np.testing.assert_array_equal(out[:, 10:], audio[:, :90])


def test_stretch_undoes_drift_and_offset_in_one_pass() -> None:
    audio = MUSIC.render(RATE, 3 * RATE)
    ratio = Fraction(25001, 25000)  # +40 ppm
    out = resample.stretch(audio, ratio, 250.6, 2 * RATE)
    exact = MUSIC.at((250.6 + np.arange(2 * RATE) * float(ratio)) / RATE)
    assert null_db(exact[:, 50:-50], out[:, 50:-50]) < -60


def test_drift_ratio_is_exact_to_a_thousandth_of_a_ppm() -> None:
    for ppm in (40.0, -13.37, 250.0):
        assert (float(resample.drift_ratio(ppm * 1e-6)) - 1) * 1e6 == pytest.approx(ppm, abs=1e-3)


def test_coarse_lag_spans_the_whole_length_both_ways() -> None:
    original = MUSIC.render(RATE, 2 * RATE)[0].astype(np.float64)
    late = MUSIC.render(RATE, 4 * RATE, delay_s=1.5)[0].astype(np.float64)
    assert align.coarse_lag(original, late, RATE) == pytest.approx(1.5 * RATE, abs=1)
    assert align.coarse_lag(late, original, RATE) == pytest.approx(-1.5 * RATE, abs=1)


def test_robust_line_ignores_wrong_windows() -> None:
    centers = np.linspace(0, 1e6, 20)
    lags = 100.0 + 40e-6 * centers
    lags[[3, 11]] += 4096.0  # two windows matched a repeat of the music
    found = align.LocalLags(centers, lags, np.full(20, 0.9), 1)
    line = align.fit_lag_line(found, 0.0)
    assert line.offset == pytest.approx(100.0, abs=1e-6)
    assert line.slope == pytest.approx(40e-6, abs=1e-12)
    assert line.windows_used == 18
