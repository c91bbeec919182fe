"""The benchmark's cases: an input with echo or reverb, and the reference a perfect engine outputs.

Every case is deterministic and generated on demand:

    from bench.cases import all_cases
    for case in all_cases():
        audio, reference, sample_rate = case.generate()   # (channels, samples) float32

Groups and their references:
- delay: pedalboard.Delay (80-600 ms, feedback <= 0.5, mix <= 0.5); reference = the dry source.
- reflections: two lowpassed, delayed copies at 100-300 ms; reference = the dry source.
- pingpong: stereo echoes that repeat left, right, left...; reference = the dry stereo source.
- room: pyroomacoustics ShoeBox rooms (RT60 0.4/0.7/1.0 s by inverse Sabine, one mic);
  reference = the source convolved with the direct path plus the first 50 ms of the
  room impulse response, on the same time axis as the input.
- dry: no echo at all; reference = the input (an engine must leave it alone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pedalboard
from scipy import signal

from bench import sources

CaseAudio = tuple[np.ndarray, np.ndarray, int]
GROUPS = ("delay", "reflections", "pingpong", "room", "dry")

# Silence after the source, so echo and reverb tails fit inside the file.
TAIL_S = 1.0
# Inputs are scaled to this peak (references by the same factor): room to spare, no clipping.
INPUT_PEAK = 0.5
# pyroomacoustics draws each image source as a windowed-sinc fractional delay of 81 taps,
# so the direct sound starts 40 samples before its peak.
_FRACTIONAL_DELAY_HALF = 40
EARLY_PART_S = 0.05


@dataclass(frozen=True)
class Case:
    """One benchmark input; `generate()` builds it (deterministically) when asked."""

    name: str
    group: str
    description: str
    make: Callable[[], CaseAudio] = field(repr=False, compare=False)
    params: dict[str, float | str] = field(default_factory=dict, compare=False)

    def generate(self) -> CaseAudio:
        """(input, reference, sample_rate): both (channels, samples) float32, same shape."""
        return self.make()


# --- sources ---------------------------------------------------------------------------


def _with_tail(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(channels, samples) with TAIL_S of silence appended."""
    audio = np.atleast_2d(audio)
    tail = np.zeros((audio.shape[0], round(TAIL_S * sample_rate)), dtype=np.float32)
    return np.concatenate([audio, tail], axis=1)


def source(kind: str, sample_rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A dry source with a silent tail: speech, music, speech_stereo or music_stereo."""
    if kind == "speech":
        dry = sources.speech(sample_rate, seconds, seed)
    elif kind == "music":
        dry = sources.music(sample_rate, seconds, seed)
    elif kind == "speech_stereo":
        dry = sources.speech_stereo(sample_rate, seconds, seed)
    elif kind == "music_stereo":
        dry = sources.music(sample_rate, seconds, seed, stereo=True)
    else:
        raise ValueError(f"unknown source kind {kind!r}")
    return _with_tail(dry, sample_rate)


def _scaled(audio: np.ndarray, reference: np.ndarray, sample_rate: int) -> CaseAudio:
    scale = INPUT_PEAK / (float(np.max(np.abs(audio))) + 1e-12)
    return (
        (audio * scale).astype(np.float32),
        (reference * scale).astype(np.float32),
        sample_rate,
    )


def _delayed(audio: np.ndarray, frames: int) -> np.ndarray:
    """`audio` (channels, samples) shifted later by `frames`, same length."""
    shifted = np.zeros_like(audio)
    if frames < audio.shape[-1]:
        shifted[..., frames:] = audio[..., : audio.shape[-1] - frames]
    return shifted


# --- echo generators: each returns (input, reference, sample_rate) ---------------------------


def digital_delay(
    dry: np.ndarray, sample_rate: int, delay_s: float, feedback: float, mix: float
) -> CaseAudio:
    """pedalboard.Delay on every channel alike; the reference is the dry source."""
    effect = pedalboard.Delay(delay_seconds=delay_s, feedback=feedback, mix=mix)
    wet = effect(np.ascontiguousarray(dry, dtype=np.float32), sample_rate)
    return _scaled(wet, dry, sample_rate)


def filtered_reflections(
    dry: np.ndarray,
    sample_rate: int,
    reflections: tuple[tuple[float, float, float], ...],
) -> CaseAudio:
    """dry + each (delay_s, gain, lowpass_hz) reflection: a 4th-order Butterworth-lowpassed copy."""
    wet = dry.astype(np.float64)
    for delay_s, gain, cutoff_hz in reflections:
        sos = signal.butter(4, cutoff_hz, "lowpass", fs=sample_rate, output="sos")
        reflection = signal.sosfilt(sos, dry.astype(np.float64), axis=-1)
        wet = wet + gain * _delayed(reflection, round(delay_s * sample_rate))
    return _scaled(wet, dry, sample_rate)


def ping_pong(
    dry: np.ndarray, sample_rate: int, delay_s: float, gain: float, feedback: float
) -> CaseAudio:
    """Stereo ping-pong: the mono sum repeats at k*delay, alternately left (k odd) and right."""
    if dry.shape[0] != 2:
        raise ValueError("ping-pong echoes need a stereo source")
    mono = dry.astype(np.float64).mean(axis=0, keepdims=True)
    wet = dry.astype(np.float64)
    frames = round(delay_s * sample_rate)
    repeat_gain = gain
    repeat = 1
    while repeat_gain > 1e-4 and repeat * frames < dry.shape[-1]:
        channel = (repeat - 1) % 2
        wet[channel] += repeat_gain * _delayed(mono, repeat * frames)[0]
        repeat_gain *= feedback
        repeat += 1
    return _scaled(wet, dry, sample_rate)


def room_impulse_response(
    rt60_s: float, room_dim: tuple[float, float, float], sample_rate: int
) -> np.ndarray:
    """One-mic ShoeBox RIR with absorption and reflection order from inverse Sabine.

    Cut so that it starts `_FRACTIONAL_DELAY_HALF` samples before the direct path's
    peak: the input then stays on the source's time axis (no propagation delay).
    """
    import pyroomacoustics as pra  # slow to import: only the room cases need it

    absorption, max_order = pra.inverse_sabine(rt60_s, list(room_dim))
    room = pra.ShoeBox(
        list(room_dim), fs=sample_rate, materials=pra.Material(absorption), max_order=max_order
    )
    width, depth, _ = room_dim
    room.add_source([0.3 * width, 0.4 * depth, 1.6])
    room.add_microphone([0.6 * width, 0.55 * depth, 1.5])
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float64)
    direct = int(np.argmax(np.abs(rir)))
    return rir[max(direct - _FRACTIONAL_DELAY_HALF, 0) :]


def room(
    dry: np.ndarray, sample_rate: int, rt60_s: float, room_dim: tuple[float, float, float]
) -> CaseAudio:
    """dry * RIR; the reference is dry * (direct path + the first 50 ms of the RIR)."""
    rir = room_impulse_response(rt60_s, room_dim, sample_rate)
    early = rir[: _FRACTIONAL_DELAY_HALF + round(EARLY_PART_S * sample_rate)]
    frames = dry.shape[-1]
    wet = signal.fftconvolve(dry.astype(np.float64), rir[None, :], axes=-1)[:, :frames]
    reference = signal.fftconvolve(dry.astype(np.float64), early[None, :], axes=-1)[:, :frames]
    return _scaled(wet, reference, sample_rate)


def dry_input(dry: np.ndarray, sample_rate: int) -> CaseAudio:
    """No echo: the reference is the input itself."""
    return _scaled(dry, dry, sample_rate)


# --- the case list ----------------------------------------------------------------------


def _case(
    name: str,
    group: str,
    description: str,
    kind: str,
    sample_rate: int,
    seconds: float,
    seed: int,
    effect: Callable[..., CaseAudio],
    **params: float | tuple[float, float, float] | tuple[tuple[float, float, float], ...],
) -> Case:
    def make() -> CaseAudio:
        return effect(source(kind, sample_rate, seconds, seed), sample_rate, **params)

    flat: dict[str, float | str] = {"source": kind, "sample_rate": sample_rate, "seconds": seconds}
    for key, value in params.items():
        flat[key] = value if isinstance(value, float | int) else str(value)
    return Case(name, group, description, make, flat)


def all_cases(quick: bool = False) -> list[Case]:
    """Every case, in a fixed order. `quick`: shorter sources and one or two cases per group."""
    seconds = 4.0 if quick else 9.0
    rate = 44100
    cases = [
        _case(
            "delay_speech_120ms",
            "delay",
            "speech, Delay 120 ms, feedback 0, mix 0.4",
            "speech",
            rate,
            seconds,
            1,
            digital_delay,
            delay_s=0.12,
            feedback=0.0,
            mix=0.4,
        ),
        _case(
            "delay_music_600ms_fb0.5",
            "delay",
            "stereo music, Delay 600 ms, feedback 0.5, mix 0.5",
            "music_stereo",
            rate,
            seconds,
            2,
            digital_delay,
            delay_s=0.6,
            feedback=0.5,
            mix=0.5,
        ),
        _case(
            "delay_speech48k_350ms_fb0.4",
            "delay",
            "speech at 48 kHz, Delay 350 ms, feedback 0.4, mix 0.35",
            "speech",
            48000,
            seconds,
            3,
            digital_delay,
            delay_s=0.35,
            feedback=0.4,
            mix=0.35,
        ),
        _case(
            "delay_music_80ms_fb0.3",
            "delay",
            "music, Delay 80 ms, feedback 0.3, mix 0.3",
            "music",
            rate,
            seconds,
            4,
            digital_delay,
            delay_s=0.08,
            feedback=0.3,
            mix=0.3,
        ),
        _case(
            "delay_speech_250ms_fb0.5",
            "delay",
            "speech, Delay 250 ms, feedback 0.5, mix 0.5",
            "speech",
            rate,
            seconds,
            5,
            digital_delay,
            delay_s=0.25,
            feedback=0.5,
            mix=0.5,
        ),
        _case(
            "reflections_speech",
            "reflections",
            "speech + 120 ms (x0.5, lowpass 3 kHz) + 270 ms (x0.35, lowpass 1.5 kHz)",
            "speech",
            rate,
            seconds,
            6,
            filtered_reflections,
            reflections=((0.12, 0.5, 3000.0), (0.27, 0.35, 1500.0)),
        ),
        _case(
            "reflections_music",
            "reflections",
            "music + 180 ms (x0.45, lowpass 2.5 kHz) + 290 ms (x0.3, lowpass 1.2 kHz)",
            "music",
            rate,
            seconds,
            7,
            filtered_reflections,
            reflections=((0.18, 0.45, 2500.0), (0.29, 0.3, 1200.0)),
        ),
        _case(
            "pingpong_speech",
            "pingpong",
            "two talkers, ping-pong 220 ms, gain 0.5, feedback 0.5",
            "speech_stereo",
            rate,
            seconds,
            8,
            ping_pong,
            delay_s=0.22,
            gain=0.5,
            feedback=0.5,
        ),
        _case(
            "pingpong_music",
            "pingpong",
            "stereo music, ping-pong 300 ms, gain 0.4, feedback 0.45",
            "music_stereo",
            rate,
            seconds,
            9,
            ping_pong,
            delay_s=0.3,
            gain=0.4,
            feedback=0.45,
        ),
    ]
    rooms = ((0.4, (6.0, 5.0, 3.0)), (0.7, (8.0, 6.0, 3.2)), (1.0, (10.0, 7.5, 3.5)))
    for index, (rt60, dim) in enumerate(rooms):
        size = "x".join(f"{side:g}" for side in dim)
        for kind in ("speech", "music"):
            cases.append(
                _case(
                    f"room_{kind}_rt{rt60:.1f}",
                    "room",
                    f"{kind}, {size} m room, RT60 {rt60} s",
                    kind,
                    rate,
                    seconds,
                    10 + index,
                    room,
                    rt60_s=rt60,
                    room_dim=dim,
                )
            )
    cases += [
        _case("dry_speech", "dry", "dry speech", "speech", rate, seconds, 20, dry_input),
        _case("dry_music", "dry", "dry music", "music", rate, seconds, 21, dry_input),
        _case(
            "dry_stereo", "dry", "dry stereo music", "music_stereo", rate, seconds, 22, dry_input
        ),
    ]
    if quick:
        keep = {
            "delay_speech_120ms",
            "delay_music_600ms_fb0.5",
            "reflections_speech",
            "pingpong_music",
            "room_speech_rt0.7",
            "dry_speech",
        }
        cases = [case for case in cases if case.name in keep]
    return cases


def find_cases(selector: str, quick: bool = False) -> Iterator[Case]:
    """Cases whose name or group equals one of the comma-separated words, or contains it."""
    words = [word.strip() for word in selector.split(",") if word.strip()]
    for case in all_cases(quick):
        if any(word == case.group or word in case.name for word in words):
            yield case


__all__ = ["GROUPS", "Case", "CaseAudio", "all_cases", "find_cases"]
