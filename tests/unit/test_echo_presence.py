"""An echo is part of the recording: the presence check that tells a delay from a source
repeating itself (engine/echo_presence.py), on signals whose answer is known."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pedalboard
import pytest

from deecho.engine import Amounts, estimate_echoes, remove_echo
from deecho.engine.comb_filter import EchoFamily
from deecho.engine.echo_presence import unheard_share


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    estimate, reference = np.ravel(estimate), np.ravel(reference)
    target = np.dot(estimate, reference) / np.dot(reference, reference) * reference
    return float(10 * np.log10(np.sum(target**2) / np.sum((estimate - target) ** 2)))


RATE = 44100


def burst(seconds: float = 2.0) -> np.ndarray:
    """Half a second of noise, then silence."""
    signal = np.zeros(round(seconds * RATE))
    signal[: RATE // 2] = np.random.default_rng(0).standard_normal(RATE // 2) * 0.1
    return signal


def test_an_echo_added_to_the_recording_is_all_heard() -> None:
    dry = burst()
    lag = round(0.3 * RATE)
    wet = dry.copy()
    wet[lag:] += 0.5 * dry[:-lag]
    assert unheard_share([wet], [EchoFamily(lag=lag, feedback=0.0, kernel=(0.5,))], RATE) < 0.02


def test_an_echo_the_recording_does_not_hold_is_unheard() -> None:
    # The burst ends at 0.5 s; its "echo" at 0.3 s would sound from 0.3 to 0.8 s, and
    # 0.3 s of that lands on silence (0.6 of it, more with the frames that straddle the
    # burst's end).
    family = EchoFamily(lag=round(0.3 * RATE), feedback=0.0, kernel=(0.5,))
    assert unheard_share([burst()], [family], RATE) == pytest.approx(0.65, abs=0.07)
    assert unheard_share([np.zeros(RATE)], [family], RATE) == 0.0  # predicts nothing


def looped_phrase(loop_s: float, seconds_per_note: float = 0.8) -> np.ndarray:
    """A sampler playing a melody: each note a 0.15 s attack, then one `loop_s` stretch of
    its sustain (harmonics, vibrato, breath noise) repeated until the note ends."""
    rng = np.random.default_rng(1)
    notes = []
    for f0 in (392.0, 440.0, 494.0, 523.0, 587.0, 523.0, 494.0, 440.0, 392.0, 440.0):
        attack, loop = round(0.15 * RATE), round(loop_s * RATE)
        t = np.arange(attack + loop) / RATE
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.005 * np.sin(2 * np.pi * t / loop_s))) / RATE
        tone = sum(0.6**k * np.sin((k + 1) * phase + k) for k in range(6))
        tone = (tone + 0.05 * rng.standard_normal(t.size)) * np.minimum(1.0, t / 0.05)
        length = round(seconds_per_note * RATE)
        note = np.concatenate([tone[:attack], np.resize(tone[attack:], length - attack)])
        note[-round(0.03 * RATE) :] *= np.linspace(1.0, 0.0, round(0.03 * RATE))
        notes.append(note)
    audio = np.concatenate([*notes, np.zeros(RATE)])
    return (0.5 * audio / np.max(np.abs(audio))).astype(np.float32)[None, :]


@pytest.mark.parametrize("loop_s", [0.15, 0.227, 0.3])
def test_a_looped_sustain_is_not_an_echo(loop_s: float) -> None:
    # Within a note the loop repeats exactly (the cepstrum reads a 0.5-0.8 first repeat
    # with 0.5-0.9 feedback); at each note change the "echo" would be the old note.
    dry = looped_phrase(loop_s)
    assert estimate_echoes(dry, RATE) == []
    result = remove_echo(dry, RATE, Amounts(echo=1.0, reverb=0.0))
    np.testing.assert_allclose(result.no_echo, dry, atol=1e-6)


def test_a_delay_on_a_looped_sustain_is_still_found() -> None:
    dry = looped_phrase(0.227)
    wet = np.asarray(pedalboard.Delay(delay_seconds=0.4, feedback=0.3, mix=0.3)(dry, RATE))
    echoes = estimate_echoes(wet, RATE)
    assert [round(echo.delay_ms) for echo in echoes] == [400]
    assert echoes[0].gain == pytest.approx(0.43, abs=0.05)


def test_one_echo_read_as_several_families_is_judged_whole() -> None:
    # The search reads this 1.3 s delay on music as a sharp family and two broad ones at
    # the same lag; judged apart, each with the others cancelled, each looked unheard and
    # the echo was lost (gain -0.4 dB instead of 21.5).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench import cases

    rate = 16000
    music = cases.source("music", rate, 9.0, seed=5)
    wet, dry, _ = cases.digital_delay(music, rate, delay_s=1.3, feedback=0.0, mix=0.5)
    echoes = estimate_echoes(wet, rate)
    assert [round(echo.delay_ms / 100) for echo in echoes] == [13]
    out = remove_echo(wet, rate, Amounts(echo=1.0, reverb=0.0)).no_echo
    assert si_sdr(out, dry) > si_sdr(wet, dry) + 15.0
