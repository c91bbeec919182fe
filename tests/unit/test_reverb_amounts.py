"""Known answers for the reverb stage and the echo/reverb amounts, on generated signals.

A held note is predictable from its own past, so delayed prediction would take it for
reverb; these pin that the engine keeps it, leaves dry held chords alone, and that the
two amounts act independently and exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_reverb_signals import exponential_rir, reverberate, speech_like

from deecho.engine import Amounts, EchoCanceller, analyze, remove_echo

RATE = 16000


def held_notes(seconds: float, note_s: float = 1.6, seed: int = 0) -> np.ndarray:
    """A melody of held harmonic notes (flute-like): steady partials, short gaps between."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE))
    length = int(note_s * RATE)
    t = np.arange(length) / RATE
    envelope = np.minimum(1.0, t / 0.04) * np.minimum(1.0, (t[-1] - t) / 0.05)
    for start in range(0, out.size - length, length + int(0.15 * RATE)):
        f0 = 392.0 * 2 ** (rng.integers(0, 12) / 12)
        note = sum(np.sin(2 * np.pi * h * f0 * t) / h**1.5 for h in range(1, 6))
        out[start : start + length] = note * envelope
    return (0.4 * out / np.max(np.abs(out))).astype(np.float32)


def delayed(audio: np.ndarray, seconds: float, gain: float) -> np.ndarray:
    lag = int(seconds * RATE)
    out = audio.copy()
    out[..., lag:] += gain * audio[..., :-lag]
    return out


def direct_share(output: np.ndarray, dry: np.ndarray) -> float:
    """Least-squares amplitude of the dry signal inside `output`."""
    return float(np.dot(output, dry) / np.dot(dry, dry))


def test_held_notes_through_an_exponential_decay_keep_their_direct_energy() -> None:
    dry = held_notes(10.0)
    wet = reverberate(dry, exponential_rir(0.8, RATE, seed=5)).astype(np.float32)
    result = remove_echo(wet, RATE)
    kept = direct_share(result.no_echo[0], dry) / direct_share(wet, dry)
    assert kept**2 >= 0.99


def test_a_dry_held_chord_is_untouched() -> None:
    t = np.arange(8 * RATE) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    swell = np.minimum(1.0, t / 0.5) * np.minimum(1.0, (t[-1] - t) / 0.5)
    audio = (0.2 * chord * swell).astype(np.float32)[None, :]
    assert np.array_equal(remove_echo(audio, RATE).no_echo, audio)


@pytest.fixture(scope="module")
def echo_in_a_room() -> np.ndarray:
    dry = speech_like(8.0, RATE, seed=7)
    wet = reverberate(delayed(dry, 0.25, 0.5), exponential_rir(0.7, RATE, seed=8))
    return wet.astype(np.float32)[None, :]


def test_no_echo_and_no_reverb_return_the_input_exactly(echo_in_a_room: np.ndarray) -> None:
    result = remove_echo(echo_in_a_room, RATE, Amounts(echo=0.0, reverb=0.0))
    assert np.array_equal(result.no_echo, echo_in_a_room)
    assert not np.any(result.echo)


def test_reverb_zero_removes_the_echo_and_leaves_the_reverb(echo_in_a_room: np.ndarray) -> None:
    plan = analyze([echo_in_a_room], RATE, Amounts(echo=1.0, reverb=0.0))
    assert plan.reverb_plan is None and plan.report.echoes
    echo_only = dataclasses.replace(analyze([echo_in_a_room], RATE), reverb_plan=None)
    assert echo_only.reverb_plan is None
    both = remove_echo(echo_in_a_room, RATE, Amounts(echo=1.0, reverb=0.0)).no_echo
    alone = np.concatenate(list(EchoCanceller(echo_only, RATE, 1).run([echo_in_a_room])), axis=1)
    assert np.array_equal(both, alone)  # bit for bit: the reverb stage did not run


def test_echo_zero_removes_reverb_only_and_the_complement_holds(
    echo_in_a_room: np.ndarray,
) -> None:
    full = analyze([echo_in_a_room], RATE)
    assert full.reverb_plan is not None, "the room should engage the reverb stage"
    result = remove_echo(echo_in_a_room, RATE, Amounts(echo=0.0, reverb=1.0))
    assert result.report.amounts == Amounts(echo=0.0, reverb=1.0)
    assert result.report.reverb_removed_db > 0.5
    np.testing.assert_array_equal(result.echo, echo_in_a_room - result.no_echo)
    # the echo is still there: its lag still correlates strongly in the output
    lag = int(0.25 * RATE)
    out = result.no_echo[0]
    assert np.dot(out[lag:], out[:-lag]) / np.dot(out, out) > 0.2


def test_the_report_says_how_much_reverb_was_taken() -> None:
    dry = speech_like(8.0, RATE, seed=9)
    wet = reverberate(dry, exponential_rir(0.7, RATE, seed=10)).astype(np.float32)[None, :]
    full = remove_echo(wet, RATE).report
    half = remove_echo(wet, RATE, Amounts(echo=1.0, reverb=0.5)).report
    assert full.reverb_removed_db > half.reverb_removed_db > 0.0
    assert full.drr_before_db is not None and full.drr_after_db is not None
    assert full.drr_after_db > full.drr_before_db
    assert remove_echo(dry[None, :].astype(np.float32), RATE).report.drr_before_db is None


def test_the_drr_is_read_from_the_audio_before_and_after() -> None:
    """Both DRR figures come from one estimator on the same stretch: before, close to the
    room's own early-to-late ratio (64 ms, where the prediction's delay puts it); after, an
    order that follows how much reverb was taken, rather than a figure derived from it."""
    dry = speech_like(8.0, RATE, seed=9)
    rir = exponential_rir(0.7, RATE, seed=10)
    early = int(0.064 * RATE)
    room_drr = 10.0 * np.log10(np.sum(rir[:early] ** 2) / np.sum(rir[early:] ** 2))
    wet = reverberate(dry, rir).astype(np.float32)[None, :]
    full = remove_echo(wet, RATE).report
    half = remove_echo(wet, RATE, Amounts(echo=1.0, reverb=0.5)).report
    assert full.drr_before_db is not None and full.drr_after_db is not None
    assert half.drr_after_db is not None
    assert abs(full.drr_before_db - room_drr) < 2.0
    assert full.drr_after_db > half.drr_after_db > full.drr_before_db
    # what the suppressor leaves is measurable reverb: not the "all gone" a subtraction
    # of the energy taken out read before (late share floored at 1 %: +20 dB)
    assert full.drr_after_db - full.drr_before_db < 15.0
