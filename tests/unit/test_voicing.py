"""Known answers for the voiced share (engine/voicing.py), which tells a voice from drums."""

from __future__ import annotations

import numpy as np
import pytest
from test_reverb_signals import drum_loop, speech_like

from deecho.engine.voicing import Voicing, voiced_share, voicing

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


def melody(seconds: float = 8.0, step_s: float = 0.3, pluck: bool = False) -> np.ndarray:
    """A pitched instrument's melody: one timbre (harmonics 1/k), notes of a scale."""
    rng = np.random.default_rng(3)
    t = np.arange(round(step_s * RATE)) / RATE
    notes = []
    for _ in range(round(seconds / step_s)):
        f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        note = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 4000 // int(f0)))
        decay = np.exp(-t / 0.15) if pluck else np.minimum(1.0, (t[-1] - t) / 0.02)
        notes.append(note * np.minimum(1.0, t / 0.005) * decay)
    return 0.1 * np.concatenate(notes)


@pytest.mark.parametrize("pluck", [False, True])
def test_a_melody_is_voiced_but_not_articulated(pluck: bool) -> None:
    # As voiced as a voice, but one colour from note to note: not a voice.
    found = voicing(melody(pluck=pluck), RATE)
    assert found.share > 0.8
    assert found.articulation < 0.25
    assert not found.speaks(0.5)


@pytest.mark.parametrize("rate", [16000, 44100])
def test_speech_is_articulated_dry_and_in_a_room(rate: int) -> None:
    from scipy.signal import fftconvolve
    from test_reverb_signals import shoebox_room

    speech = speech_like(8.0, rate, seed=11)
    assert voicing(speech, rate).articulation > 0.9
    in_a_room = fftconvolve(speech, shoebox_room(0.4, rate))[: speech.size]
    assert voicing(in_a_room, rate).speaks(0.5)


def test_silence_has_no_articulation() -> None:
    assert voicing(np.zeros(3 * RATE), RATE) == Voicing(0.0, 0.0)
