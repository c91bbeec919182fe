"""Known answers for the voiced share (engine/voicing.py), which tells a voice from drums."""

from __future__ import annotations

import numpy as np
import pytest
from test_reverb_signals import drum_loop, speech_like

from deecho.engine.voicing import voiced_share

RATE = 44100


def harmonic_tone(f0: float, top_hz: float = 4000.0, seconds: float = 3.0) -> np.ndarray:
    """A sung vowel: harmonics up to `top_hz`, a 5 Hz vibrato."""
    t = np.arange(round(seconds * RATE)) / RATE
    pitch = f0 * (1.0 + 0.01 * np.sin(2 * np.pi * 5.0 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    harmonics = range(1, int(top_hz // f0) + 1)
    return sum(np.sin(k * phase) / np.sqrt(k) for k in harmonics) * 0.05


@pytest.mark.parametrize("f0", [90.0, 150.0, 300.0])
def test_a_pitched_tone_in_the_voice_range_is_all_voiced(f0: float) -> None:
    assert voiced_share(harmonic_tone(f0), RATE) > 0.95


def test_a_pure_low_tone_is_a_drum_body_not_a_voice() -> None:
    # A tom rings at a pitch, with nothing harmonic above 1 kHz.
    assert voiced_share(harmonic_tone(150.0, top_hz=160.0), RATE) < 0.05
    assert voiced_share(harmonic_tone(60.0), RATE) < 0.05  # below a voice's pitch


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_speech_is_voiced_and_drums_are_not(rate: int) -> None:
    # The reverb stage draws the line at 0.5.
    assert voiced_share(speech_like(10.0, rate, seed=21), rate) > 0.7
    assert voiced_share(drum_loop(10.0, rate), rate) < 0.3


def test_noise_and_silence_are_not_voiced() -> None:
    noise = np.random.default_rng(0).standard_normal(3 * RATE) * 0.1
    assert voiced_share(noise, RATE) < 0.05
    assert voiced_share(np.zeros(3 * RATE), RATE) == 0.0
    assert voiced_share(np.zeros(100), RATE) == 0.0  # shorter than one frame


def test_channels_are_mixed() -> None:
    tone = harmonic_tone(150.0)
    noise = np.random.default_rng(1).standard_normal(tone.size) * 0.001
    assert voiced_share(np.stack([tone, noise]), RATE) > 0.95
