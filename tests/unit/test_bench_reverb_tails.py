"""Known answers for bench/reverb_tails.py: which cells it counts as a room's tail, what
its offset-tail suppressor does to them, and where the ideal mask's gain lies."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import reverb_tails  # noqa: E402
from bench.oracle import STFT_HOP, _stft  # noqa: E402

RATE = 44100


def steady_then_free_decay(rt60_s: float) -> np.ndarray:
    """A 1 kHz tone held for 1 s, then dying at exactly 60 dB per rt60_s for 1 s."""
    t = np.arange(2 * RATE) / RATE
    envelope = np.where(t < 1.0, 1.0, 10.0 ** (-3.0 * (t - 1.0) / rt60_s))
    return (np.sin(2 * np.pi * 1000.0 * t) * envelope)[None, :]


def test_a_held_tone_reads_0_and_its_free_decay_reads_the_rooms_pace() -> None:
    audio = steady_then_free_decay(0.8)
    spectrum = _stft(audio)
    fall = reverb_tails.relative_fall(spectrum, 0.8, STFT_HOP / RATE)[0]
    tone_bin = round(1000.0 * 2048 / RATE)
    frames_per_s = RATE / STFT_HOP
    held = fall[tone_bin, int(0.3 * frames_per_s) : int(0.9 * frames_per_s)]
    dying = fall[tone_bin, int(1.2 * frames_per_s) : int(1.8 * frames_per_s)]
    assert np.all(np.abs(held) < 0.05)
    assert np.all(np.abs(dying - 1.0) < 0.05)
    # Read against a room twice as long, the same decay is twice the room's pace.
    twice = reverb_tails.relative_fall(spectrum, 1.6, STFT_HOP / RATE)[0]
    assert np.all(
        np.abs(twice[tone_bin, int(1.2 * frames_per_s) : int(1.8 * frames_per_s)] - 2.0) < 0.1
    )


def test_the_suppressor_cuts_a_tail_at_the_rooms_pace_and_leaves_held_and_dry_stops() -> None:
    frames_per_s = RATE / STFT_HOP
    tone_bin = round(1000.0 * 2048 / RATE)
    held = slice(int(0.3 * frames_per_s), int(0.9 * frames_per_s))
    tail = slice(int(1.2 * frames_per_s), int(1.8 * frames_per_s))
    in_room = reverb_tails.offset_tail_gain(
        _stft(steady_then_free_decay(0.8)), 0.8, STFT_HOP / RATE
    )
    assert np.all(in_room[0, tone_bin, held] == 1.0)
    assert np.all(in_room[0, tone_bin, tail] < 0.9)
    assert np.all(in_room[0, tone_bin, tail] >= reverb_tails.FLOOR)
    # A stop four times faster than the room can make is the source's own: untouched.
    dry_stop = reverb_tails.offset_tail_gain(
        _stft(steady_then_free_decay(0.2)), 0.8, STFT_HOP / RATE
    )
    assert np.all(dry_stop[0, tone_bin, tail] == 1.0)


def test_on_a_tone_in_a_room_the_ideal_masks_gain_is_on_the_partial() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(4 * RATE) / RATE
    dry = (np.sin(2 * np.pi * 700.0 * t) * ((t % 0.8) < 0.3))[None, :]
    rir = rng.standard_normal(int(0.7 * RATE)) * 10.0 ** (-3.0 * t[: int(0.7 * RATE)] / 0.6)
    rir = 0.02 * rir
    rir[0] = 1.0
    wet = fftconvolve(dry, rir[None, :], axes=-1)[:, : dry.shape[1]]
    everywhere, partials, between = reverb_tails.partial_split(wet, dry)
    assert everywhere > 1.0
    assert partials > between
    assert everywhere >= partials - 0.1
