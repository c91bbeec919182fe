"""Known-answer tests for the blind RT60 estimator."""

from __future__ import annotations

import numpy as np
import pytest
from test_reverb_signals import exponential_rir, reverberate, speech_like

from deecho.engine.reverb import DRY_FASTEST_DECAY_S
from deecho.engine.rt60 import estimate_rt60, measure_decays

RATE = 16000


def gated_noise(seconds: float, on_s: float, off_s: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    gate = (np.arange(n) % int((on_s + off_s) * RATE)) < int(on_s * RATE)
    return rng.standard_normal(n) * gate * 0.2


@pytest.mark.parametrize("rt60", [0.3, 0.6, 1.0])
def test_noise_bursts_in_a_known_room(rt60: float) -> None:
    wet = reverberate(gated_noise(10.0, 0.5, 1.2), exponential_rir(rt60, RATE, seed=1))
    estimate = estimate_rt60(wet, RATE)
    assert estimate is not None
    assert estimate == pytest.approx(rt60, rel=0.2)


@pytest.mark.parametrize("rt60", [0.4, 0.8])
def test_speech_in_a_known_room(rt60: float) -> None:
    wet = reverberate(speech_like(10.0, RATE, seed=2), exponential_rir(rt60, RATE, seed=3))
    estimate = estimate_rt60(wet, RATE)
    assert estimate is not None
    assert estimate == pytest.approx(rt60, rel=0.2)


def test_longer_reverb_reads_longer() -> None:
    dry = speech_like(10.0, RATE, seed=4)
    short = estimate_rt60(reverberate(dry, exponential_rir(0.4, RATE)), RATE)
    long = estimate_rt60(reverberate(dry, exponential_rir(0.9, RATE)), RATE)
    assert short is not None and long is not None
    assert long > 1.5 * short


def test_dry_speech_decays_faster_than_any_room() -> None:
    dry = speech_like(12.0, RATE, seed=5)
    decay = measure_decays(dry, RATE)
    assert decay is None or decay.fastest_s < DRY_FASTEST_DECAY_S
    wet = measure_decays(reverberate(dry, exponential_rir(0.4, RATE)), RATE)
    assert wet is not None and wet.fastest_s > DRY_FASTEST_DECAY_S
    assert wet.fastest_s <= wet.rt60_s


def test_stereo_input_is_accepted() -> None:
    wet = reverberate(gated_noise(8.0, 0.5, 1.0), exponential_rir(0.5, RATE))
    stereo = np.stack([wet, 0.7 * wet]).astype(np.float32)
    estimate = estimate_rt60(stereo, RATE)
    assert estimate == pytest.approx(0.5, rel=0.2)


@pytest.mark.parametrize(
    "name",
    ["silence", "stationary noise", "sustained tone", "too short"],
)
def test_no_decays_means_no_estimate(name: str) -> None:
    t = np.arange(8 * RATE) / RATE
    signals = {
        "silence": np.zeros(t.size),
        "stationary noise": np.random.default_rng(0).standard_normal(t.size) * 0.1,
        "sustained tone": 0.5 * np.sin(2 * np.pi * 440.0 * t),
        "too short": speech_like(0.2, RATE)[:100],
    }
    assert estimate_rt60(signals[name], RATE) is None


def test_notes_ringing_out_on_their_own_read_as_no_room() -> None:
    # Plucked notes with decay times from 0.1 to 2 s: their decays spread far wider than a
    # room's, so the blind RT60 is unknown, not the median of the notes' own fades.
    rng = np.random.default_rng(7)
    out = np.zeros(12 * RATE)
    position = 0
    while position < out.size - RATE:
        length = int(rng.uniform(0.4, 1.2) * RATE)
        t = np.arange(length) / RATE
        tau = rng.uniform(0.1, 2.0) / 6.9  # 60 dB in 0.1-2 s
        note = np.sin(2 * np.pi * rng.uniform(200, 1500) * t) * np.exp(-t / tau)
        out[position : position + length] += note
        position += length
    decay = measure_decays(out, RATE)
    assert decay is not None and decay.spread > 2.0
    assert estimate_rt60(out, RATE) is None
