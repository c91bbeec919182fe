"""The engine's FFT FIR helpers give what scipy.signal gives, to float precision."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from deecho.engine.fir import convolve_valid, fir_filter


def test_convolve_valid_matches_numpy():
    rng = np.random.default_rng(1)
    signal, kernel = rng.standard_normal(5000), rng.standard_normal(301)
    np.testing.assert_allclose(
        convolve_valid(signal, kernel), np.convolve(signal, kernel, mode="valid"), atol=1e-10
    )


@pytest.mark.parametrize("count", [1, 33, 129, 700])
def test_fir_filter_matches_lfilter_along_the_last_axis(count: int):
    rng = np.random.default_rng(2)
    signal, taps = rng.standard_normal((2, 4000)), rng.standard_normal(count)
    np.testing.assert_allclose(
        fir_filter(taps, signal, axis=-1),
        scipy.signal.lfilter(taps, [1.0], signal, axis=-1),
        atol=1e-10,
    )
