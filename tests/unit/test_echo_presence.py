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
from deecho.engine.echo_presence import looped_share, pitched_share, unheard_share


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


def tiled_loop(bar_s: float, seed: int = 0, seconds: float = 9.0) -> np.ndarray:
    """A drum bar repeated sample-exactly, as a loop in a DAW, then 1 s of silence."""
    from test_reverb_signals import drum_loop

    bar = drum_loop(bar_s + 0.35, RATE, seed=seed)[: round(bar_s * RATE)]
    audio = np.tile(bar, int(seconds / bar_s) + 1)[: round(seconds * RATE)]
    return np.concatenate([audio, np.zeros(RATE)]).astype(np.float32)[None, :]


@pytest.mark.parametrize("bar_s", [0.6, 0.884, 1.2])
def test_a_loop_repeats_itself_exactly(bar_s: float) -> None:
    loop = tiled_loop(bar_s)
    lag = round(bar_s * RATE)
    assert looped_share([loop[0]], lag, RATE) > 0.7
    # A reverb is linear and time-invariant: the loop stays a loop through it.
    hall = pedalboard.Reverb(room_size=0.9, wet_level=0.5, dry_level=0.8)
    assert looped_share([np.asarray(hall(loop, RATE))[0]], lag, RATE) > 0.6
    assert looped_share([loop[0]], lag + round(0.05 * RATE), RATE) == 0.0


@pytest.mark.parametrize(("feedback", "mix"), [(0.0, 0.5), (0.5, 0.5), (0.9, 0.5), (0.3, 0.7)])
def test_an_echo_never_repeats_a_sound_exactly_at_its_level(feedback: float, mix: float) -> None:
    # Its first repeat may be as loud as the sound (mix 0.5), but the next one falls by
    # the feedback; on new sound the sum differs from a copy.
    from test_reverb_signals import speech_like

    lag = round(0.3 * RATE)
    clicks = np.zeros((1, 9 * RATE), dtype=np.float32)
    clicks[0, :: 2 * RATE] = 0.5
    speech = speech_like(9.0, RATE)[None, :].astype(np.float32)
    for dry in (clicks, speech, tiled_loop(1.2)[:, : 4 * RATE]):
        delay = pedalboard.Delay(delay_seconds=0.3, feedback=feedback, mix=mix)
        assert looped_share([np.asarray(delay(dry, RATE))[0]], lag, RATE) < 0.05


@pytest.mark.parametrize(("bar_s", "seed"), [(0.6, 0), (0.6, 1), (1.2, 0), (1.2, 2)])
def test_a_loop_is_not_cancelled_as_an_echo(bar_s: float, seed: int) -> None:
    # Read as an echo (first repeat 0.9-1.4, feedback 0.9), a loop kept its first bar
    # and lost the rest: through a long reverb these came out 5-9 dB worse, dry 8 dB
    # changed (a "3000 ms echo"), or the broad families read around the bar's lag made it
    # 3 dB changed once the sharp one was refused.
    dry = tiled_loop(bar_s, seed)
    assert estimate_echoes(dry, RATE) == []
    hall = pedalboard.Reverb(room_size=0.9, wet_level=0.5, dry_level=0.8)
    wet = np.asarray(hall(dry, RATE))
    out = remove_echo(wet, RATE).no_echo
    assert si_sdr(out, dry) >= si_sdr(wet, dry) - 0.5


def test_a_delay_on_a_loop_is_still_removed() -> None:
    dry = tiled_loop(1.2)
    wet = np.asarray(pedalboard.Delay(delay_seconds=0.3, feedback=0.3, mix=0.3)(dry, RATE))
    result = remove_echo(wet, RATE, Amounts(echo=1.0, reverb=0.0))
    assert [round(echo.delay_ms) for echo in result.report.echoes] == [300]
    assert si_sdr(result.no_echo, dry) > si_sdr(wet, dry) + 15.0


def low_notes(periods: list[float], seconds_each: float = 0.8) -> np.ndarray:
    """Held harmonic notes of the given periods (s), one after another, then 1 s of silence."""
    t = np.arange(round(seconds_each * RATE)) / RATE
    notes = [
        sum(np.sin(2 * np.pi * h * t / period) * 0.8**h for h in range(1, 12))
        * np.minimum(1.0, t / 0.03)
        for period in periods
    ]
    audio = np.concatenate([*notes, np.zeros(RATE)])
    return (0.5 * audio / np.max(np.abs(audio))).astype(np.float32)


def test_a_lag_of_two_periods_of_a_held_note_is_the_note() -> None:
    # C2 (15.3 ms) and its neighbours: the C2 notes hold half the energy; 30.6 ms is two of
    # their periods, three of a 10.2 ms note's, four of a 7.6 ms one's.
    audio = low_notes([1 / 65.4, 1 / 73.4, 1 / 65.4, 1 / 82.4])
    assert pitched_share([audio], round(2 / 65.4 * RATE), RATE) == pytest.approx(0.5, abs=0.1)
    for divisor, period in ((3, 1 / 98.0), (4, 1 / 131.0)):
        held = low_notes([period] * 3)
        assert pitched_share([held], round(divisor * period * RATE), RATE) > 0.9
    # One period is the note's own lag, not a fraction of it; 2.5 periods no multiple.
    assert pitched_share([audio], round(RATE / 65.4), RATE) < 0.05
    assert pitched_share([audio], round(2.5 / 65.4 * RATE), RATE) < 0.05


@pytest.mark.parametrize("delay_s", [0.03, 0.05, 0.12, 0.3])
def test_an_echo_is_not_a_fraction_of_the_lag_it_repeats_at(delay_s: float) -> None:
    from test_reverb_signals import speech_like

    lag = round(delay_s * RATE)
    speech = speech_like(9.0, RATE)[None, :].astype(np.float32)
    # A high sine repeats at 60 ms too (33 of its periods), but its period is 1.8 ms.
    t = np.arange(9 * RATE) / RATE
    sine = (0.3 * np.sin(2 * np.pi * 550.0 * t)).astype(np.float32)[None, :]
    for dry in (speech, sine):
        delay = pedalboard.Delay(delay_seconds=delay_s, feedback=0.4, mix=0.4)
        assert pitched_share([np.asarray(delay(dry, RATE))[0]], lag, RATE) < 0.05
