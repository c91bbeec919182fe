"""The percussive share (engine/attacks.py) on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from test_reverb_signals import drum_loop, speech_like

from deecho.engine import wpe
from deecho.engine.attacks import percussive_share

RATE = 44100


def spectra(audio: np.ndarray, rate: int = RATE) -> np.ndarray:
    """The reverb stage's analysis spectra (128 ms frames, bins below 5 kHz)."""
    size, hop = wpe.frame_layout(rate)
    bins = wpe.filtered_bins(size, rate)
    return wpe.stft(np.atleast_2d(audio), size, hop, wpe.window(size))[:, :, :bins]


def held_chord(seconds: float = 8.0, swell_s: float = 1.5) -> np.ndarray:
    """Three harmonic notes held together, swelling in and out slowly (a pad)."""
    t = np.arange(round(seconds * RATE)) / RATE
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / (2 * swell_s))
    chord = sum(
        0.5**k * np.sin(2 * np.pi * f0 * (k + 1) * t)
        for f0 in (220.0, 277.2, 329.6)
        for k in range(6)
    )
    return 0.1 * swell * chord


@pytest.mark.parametrize("swell_s", [0.5, 1.5, 4.0])
def test_a_held_chord_has_no_attacks(swell_s: float) -> None:
    assert percussive_share(spectra(held_chord(swell_s=swell_s))) < 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_a_drum_loop_is_mostly_attacks(seed: int) -> None:
    assert percussive_share(spectra(drum_loop(8.0, RATE, seed=seed))) > 0.3


def test_speech_sits_between() -> None:
    share = percussive_share(spectra(speech_like(8.0, RATE)))
    assert 0.1 < share < 0.7


def test_silence_and_channels() -> None:
    assert percussive_share(spectra(np.zeros(RATE))) == 0.0
    loop = drum_loop(8.0, RATE)
    both = percussive_share(spectra(np.stack([loop, loop])))
    assert both == pytest.approx(percussive_share(spectra(loop)), rel=1e-6)
