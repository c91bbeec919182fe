"""The late gain: streaming exactness, no cut without reverb, the floor on pure reverb."""

from __future__ import annotations

import numpy as np

from deecho.engine.late_gain import LAG_FRAMES, LateGain, late_scale


def spectra(frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (2, frames, 33)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_streaming_in_single_frames_equals_whole_array() -> None:
    dry = spectra(40)
    whole = LateGain(0.5).run(dry)
    streamed = LateGain(0.5)
    pieces = [streamed.run(dry[:, t : t + 1]) for t in range(dry.shape[1])]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, rtol=1e-6)


def test_no_reverb_means_no_cut() -> None:
    gains = LateGain(late_scale(0.0, 0.5)).run(spectra(20))
    np.testing.assert_allclose(gains, 1.0, atol=1e-6)


def test_sound_that_is_all_late_reverb_goes_to_the_floor() -> None:
    # Each frame exactly the late level the model expects: nothing of it is direct sound.
    power = np.full((1, 30, 8), 1.0, dtype=np.float32)
    gains = LateGain(1.0).run(power.astype(np.complex64))
    assert np.all(gains[:, :LAG_FRAMES] > 0.99)
    assert np.all(gains[:, LAG_FRAMES + 5 :] < 0.2)


def test_more_reverberant_rooms_get_a_larger_late_model() -> None:
    assert late_scale(0.1, 0.5) < late_scale(0.3, 0.5) < late_scale(0.3, 0.8)
