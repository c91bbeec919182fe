"""Known-answer tests of the echo engine on generated signals (no files, no reverb stage)."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pedalboard
import pytest

import deecho.engine as engine
from deecho.engine import (
    Amounts,
    Echo,
    EchoCanceller,
    EchoPlan,
    EngineReport,
    analyze,
    estimate_echoes,
    excerpt_spans,
)

RATE = 16000


def speech_like(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Syllables: glottal pulse trains with a gliding pitch through two formant resonators,
    separated by pauses and noise bursts (fricatives). Mono float32."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate))
    position = 0
    while position < len(out) - rate // 4:
        length = int(rng.uniform(0.08, 0.3) * rate)
        if rng.uniform() < 0.75:
            pitch = rng.uniform(90, 220) * np.linspace(1.0, rng.uniform(0.8, 1.25), length)
            phase = np.cumsum(pitch / rate)
            pulses = np.diff(np.floor(phase), prepend=0.0)
            sound = _resonate(pulses, rate, rng.uniform(300, 900), rng.uniform(900, 2600))
        else:
            sound = rng.standard_normal(length) * 0.05
            sound = np.diff(sound, prepend=0.0)  # brighter, like a fricative
        envelope = np.hanning(length)
        out[position : position + length] += sound * envelope
        position += length + int(rng.uniform(0.02, 0.2) * rate)
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


def _resonate(signal: np.ndarray, rate: int, *formants: float) -> np.ndarray:
    from scipy.signal import lfilter

    for formant in formants:
        radius = np.exp(-np.pi * 120.0 / rate)
        theta = 2 * np.pi * formant / rate
        signal = lfilter([1.0 - radius], [1.0, -2 * radius * np.cos(theta), radius**2], signal)
    return signal


def music_like(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Notes of harmonic tones with decaying envelopes and random pitches. Mono float32."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate))
    position = 0
    while position < len(out):
        length = min(int(rng.uniform(0.15, 0.6) * rate), len(out) - position)
        t = np.arange(length) / rate
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        tone = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 8))
        out[position : position + length] += tone * np.exp(-t / 0.25)
        position += length
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


def with_echo(dry: np.ndarray, delay: int, gain: float) -> np.ndarray:
    wet = dry.astype(np.float64).copy()
    wet[delay:] += gain * dry[:-delay]
    return wet.astype(np.float32)


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    reference = reference.ravel().astype(np.float64)
    estimate = estimate.ravel().astype(np.float64)
    scale = np.dot(estimate, reference) / np.dot(reference, reference)
    target = scale * reference
    noise = np.sum((estimate - target) ** 2)
    return float(10 * np.log10(np.sum(target**2) / max(noise, 1e-30)))


def cancel_echoes_only(audio: np.ndarray, rate: int, strength: float = 1.0) -> np.ndarray:
    """Analyze and cancel with the echo stage alone (the reverb stage is tested elsewhere)."""
    audio = np.atleast_2d(audio)
    plan = analyze([audio], rate, strength)
    plan = dataclasses.replace(plan, reverb_plan=None)
    return np.concatenate(list(EchoCanceller(plan, rate, audio.shape[0]).run([audio])), axis=1)


def test_public_api_is_pinned() -> None:
    assert sorted(engine.__all__) == sorted(
        [
            "Amounts",
            "Echo",
            "EchoCanceller",
            "EchoPlan",
            "EngineReport",
            "EngineResult",
            "Room",
            "analyze",
            "estimate_echoes",
            "estimate_rt60",
            "excerpt_spans",
            "fit_room",
            "remove_echo",
        ]
    )


def test_known_echo_is_found_within_one_sample_and_two_hundredths_of_gain() -> None:
    dry = speech_like(10.0, seed=1)
    delay, gain = 2191, 0.45  # 136.9 ms
    echoes = estimate_echoes(with_echo(dry, delay, gain)[None, :], RATE)
    assert len(echoes) == 1
    assert abs(echoes[0].delay_ms - 1000 * delay / RATE) <= 1000 / RATE
    assert abs(echoes[0].gain - gain) <= 0.02
    assert echoes[0].channel is None


def test_feedback_delay_train_is_found_and_removed() -> None:
    dry = speech_like(10.0, seed=2)[None, :]
    delay = pedalboard.Delay(delay_seconds=0.3, feedback=0.4, mix=0.4)
    wet = delay(dry, RATE)
    echoes = estimate_echoes(wet, RATE)
    train = [echo for echo in echoes if abs(echo.delay_ms - 300.0) < 0.2]
    assert train, echoes
    assert abs(train[0].gain - 0.4 / 0.6) < 0.05
    assert abs(train[0].feedback - 0.4) < 0.05
    cleaned = cancel_echoes_only(wet, RATE)
    assert si_sdr(dry, cleaned) - si_sdr(dry, wet) >= 15.0


def test_lowpassed_reflections_are_found_and_removed() -> None:
    from scipy.signal import butter, sosfilt

    dry = speech_like(10.0, seed=15)
    wet = dry.astype(np.float64).copy()
    for delay_s, gain, cutoff in ((0.11, 0.5, 3000.0), (0.23, 0.35, 1500.0)):
        reflection = sosfilt(butter(4, cutoff, "lowpass", fs=RATE, output="sos"), dry)
        lag = round(delay_s * RATE)
        wet[lag:] += gain * reflection[:-lag]
    wet32 = wet.astype(np.float32)[None, :]
    delays = sorted(round(echo.delay_ms) for echo in estimate_echoes(wet32, RATE))
    assert len(delays) == 2 and abs(delays[0] - 110) <= 2 and abs(delays[1] - 230) <= 2
    cleaned = cancel_echoes_only(wet32, RATE)
    assert si_sdr(dry, cleaned) - si_sdr(dry, wet32) >= 10.0


def test_stereo_ping_pong_is_cancelled_per_channel() -> None:
    left, right = speech_like(10.0, seed=3), speech_like(10.0, seed=4)
    dry = np.stack([left, 0.8 * right])
    mono = dry.mean(axis=0)
    wet = dry.astype(np.float64).copy()
    delay, gain = 3520, 0.5  # 220 ms, repeating left, right, left...
    for repeat in range(1, 6):
        lag = repeat * delay
        wet[(repeat - 1) % 2, lag:] += gain * 0.5 ** (repeat - 1) * mono[:-lag]
    wet32 = wet.astype(np.float32)
    echoes = estimate_echoes(wet32, RATE)
    assert {echo.channel for echo in echoes} >= {0, 1}
    cleaned = cancel_echoes_only(wet32, RATE)
    assert si_sdr(dry, cleaned) - si_sdr(dry, wet32) >= 10.0
    # the stereo image is kept: each channel stays closest to its own dry channel
    for channel in range(2):
        assert si_sdr(dry[channel], cleaned[channel]) > si_sdr(dry[1 - channel], cleaned[channel])


@pytest.mark.parametrize(
    "kind",
    ["speech", "music", "tone", "noise", "stereo"],
)
def test_dry_input_comes_back_untouched(kind: str) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(8 * RATE) / RATE
    audio: np.ndarray
    if kind == "speech":
        audio = speech_like(8.0, seed=5)[None, :]
    elif kind == "music":
        audio = music_like(8.0, seed=6)[None, :]
    elif kind == "tone":
        audio = (0.4 * np.sin(2 * np.pi * 440.0 * t) + 0.1 * np.sin(2 * np.pi * 660.0 * t))[None, :]
    elif kind == "noise":
        audio = 0.1 * rng.standard_normal((1, len(t)))
    else:
        audio = np.stack([speech_like(8.0, seed=8), music_like(8.0, seed=9)])
    audio = audio.astype(np.float32)
    assert estimate_echoes(audio, RATE) == []
    assert si_sdr(audio, cancel_echoes_only(audio, RATE)) >= 30.0


def test_chunked_run_equals_whole_array() -> None:
    dry = speech_like(8.0, seed=10)
    wet = with_echo(dry, 1500, 0.5)[None, :]
    plan = dataclasses.replace(analyze([wet], RATE), reverb_plan=None)
    whole = np.concatenate(list(EchoCanceller(plan, RATE, 1).run([wet])), axis=1)
    rng = np.random.default_rng(11)
    cuts = np.sort(rng.integers(1, wet.shape[1] - 1, size=40))
    blocks = np.split(wet, cuts, axis=1)
    chunked_parts = list(EchoCanceller(plan, RATE, 1).run(iter(blocks)))
    chunked = np.concatenate(chunked_parts, axis=1)
    assert chunked.shape == wet.shape
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    assert si_sdr(dry, whole) > si_sdr(dry, wet) + 15.0


def test_complement_sums_back_to_the_input() -> None:
    wet = with_echo(speech_like(6.0, seed=12), 2400, 0.4)[None, :]
    result = engine.remove_echo(wet, RATE)
    assert result.no_echo.shape == wet.shape
    assert result.no_echo.dtype == np.float32
    np.testing.assert_allclose(result.echo + result.no_echo, wet, atol=1e-6)
    assert isinstance(result.report, EngineReport)
    assert result.report.echoes


def test_strength_zero_leaves_the_input_and_half_is_in_between() -> None:
    dry = speech_like(8.0, seed=13)
    wet = with_echo(dry, 2000, 0.5)[None, :]
    untouched = cancel_echoes_only(wet, RATE, strength=0.0)
    np.testing.assert_array_equal(untouched, wet)
    full = cancel_echoes_only(wet, RATE, strength=1.0)
    half = cancel_echoes_only(wet, RATE, strength=0.5)
    np.testing.assert_allclose(half, 0.5 * (wet + full), atol=1e-5)


def test_analysis_is_deterministic_and_the_plan_pickles() -> None:
    wet = with_echo(speech_like(6.0, seed=14), 1800, 0.4)[None, :]
    first, second = analyze([wet], RATE), analyze([wet], RATE)
    assert first.models == second.models
    assert first.report == second.report
    copy = pickle.loads(pickle.dumps(first))
    assert isinstance(copy, EchoPlan)
    assert copy.models == first.models


def test_excerpts_stay_bounded_for_long_files() -> None:
    rate = 44100
    assert excerpt_spans(30 * rate, rate) == [(0, 30 * rate)]
    spans = excerpt_spans(3600 * rate, rate)
    assert sum(stop - start for start, stop in spans) <= 60 * rate
    assert spans[0][0] == 0 and spans[-1][1] == 3600 * rate
    assert excerpt_spans(0, rate) == []


def test_report_is_json_ready() -> None:
    report = EngineReport([Echo(120.0, 0.5, 0.3, None)], 0.4, 0.2, Amounts(echo=1.0, reverb=1.0))
    data = report.to_dict()
    assert data["echoes"] == [{"delay_ms": 120.0, "gain": 0.5, "feedback": 0.3, "channel": None}]
    assert data["rt60_before_s"] == 0.4 and data["strength"] == 1.0


def test_amounts_refuse_out_of_range_and_name_the_strength() -> None:
    assert Amounts.both(0.5).strength == 0.5
    assert Amounts(echo=1.0, reverb=0.0).strength is None
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="use a value from 0 to 1"):
            Amounts(echo=bad)


def test_a_room_fitted_on_short_clips_finds_the_sessions_echo() -> None:
    dry = speech_like(30.0, seed=21)
    lag = round(0.4 * RATE)
    wet = dry.copy()
    wet[lag:] += 0.4 * dry[:-lag]
    clips = [wet[start : start + int(2.5 * RATE)] for start in range(0, 25 * RATE, 4 * RATE)]
    room = engine.fit_room(clips, RATE)
    assert [round(echo.delay_ms) for echo in room.echoes] == [400]
    plan = analyze([clips[0]], RATE, room=room)
    assert [echo.delay_ms for echo in plan.report.echoes] == [echo.delay_ms for echo in room.echoes]
    pickle.loads(pickle.dumps(room))  # it travels to the workers
    with pytest.raises(ValueError, match="room fitted at 16000 Hz"):
        analyze([clips[0]], 22050, room=room)


@pytest.mark.parametrize("delay_s", [0.7, 1.3])
def test_a_delay_on_a_phone_recording_is_found(delay_s: float) -> None:
    # At 8 kHz the cepstrum's low cut (300 Hz) sinks the echo's peak into a negative
    # pedestal as wide as the broad detection window; the whole window summed below zero
    # and the delay was dropped.
    rate = 8000
    dry = speech_like(10.0, seed=15, rate=rate)
    lag = round(delay_s * rate)
    wet = dry.astype(np.float64).copy()
    wet[lag:] += 0.5 * dry[:-lag]
    wet32 = wet.astype(np.float32)[None, :]
    assert [round(echo.delay_ms) for echo in estimate_echoes(wet32, rate)] == [delay_s * 1000]
    cleaned = cancel_echoes_only(wet32, rate)
    assert si_sdr(dry, cleaned) - si_sdr(dry, wet32) >= 20.0


def _noise(seconds: float, rate: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal(round(seconds * rate))).astype(
        np.float32
    )


def _gapped_tones(seconds: float, rate: int) -> np.ndarray:
    """Eight sine notes of 0.8 s, 0.3 s apart."""
    out = np.zeros(round(seconds * rate), dtype=np.float32)
    t = np.arange(round(0.8 * rate)) / rate
    for index, frequency in enumerate((220, 330, 440, 550, 660, 495, 385, 275)):
        start = round(index * 1.1 * rate)
        note = 0.3 * np.sin(2 * np.pi * frequency * t) * np.minimum(1.0, np.arange(t.size) / 400)
        out[start : start + t.size] = note[: out.size - start]
    return out


@pytest.mark.parametrize(
    ("source", "delay_s", "feedback", "mix"),
    [("noise", 0.25, 0.4, 0.4), ("tones", 0.12, 0.0, 0.4), ("tones", 0.25, 0.4, 0.4)],
)
def test_a_delay_at_16_khz_is_found(
    source: str, delay_s: float, feedback: float, mix: float
) -> None:
    # At 16 kHz the search read two broad bumps 2.2 ms either side of the echo's sharp peak
    # as echoes of their own; judged together with it, the echo over-predicted what the
    # recording holds and all three were refused (0.0 dB on each of these).
    rate = 16000
    sound = (_noise if source == "noise" else _gapped_tones)(9.0, rate)
    dry = np.concatenate([sound, np.zeros(rate, dtype=np.float32)])[None, :]
    delay = pedalboard.Delay(delay_seconds=delay_s, feedback=feedback, mix=mix)
    wet = np.asarray(delay(dry, rate))
    assert [round(echo.delay_ms) for echo in estimate_echoes(wet, rate)] == [delay_s * 1000]
    cleaned = cancel_echoes_only(wet, rate)
    assert si_sdr(dry, cleaned) - si_sdr(dry, wet) >= 20.0
