"""Read a take on another timeline: a new sample rate, a clock that ran fast or slow, an offset.

Alignment (compare/align.py) measures the offset and drift; these put the audio where
they say. Three tools for three jobs: `to_rate` a long polyphase filter for a change of
rate whose result is kept, `undo_clock` soxr for measuring under drift, `stretch` one
polyphase pass that undoes drift and a fractional offset together, and `shift` an FFT
phase shift when there is no drift.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import scipy.fft as sfft
import soxr

__all__ = ["MAX_DRIFT_DENOMINATOR", "drift_ratio", "shift", "stretch", "to_rate", "undo_clock"]

#: Largest denominator of the rational resampling ratio used to undo drift;
#: 1e5 keeps the ratio's error under ~1e-4 ppm.
MAX_DRIFT_DENOMINATOR = 100_000


def to_rate(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample (channels, n) audio with a long Kaiser-windowed polyphase filter."""
    if from_rate == to_rate:
        return audio
    import scipy.signal as ss  # here, not at the top: it costs a second or two (scipy.stats)

    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    # 24 zero crossings a side and beta 9 keep images below -90 dB, flat to ~0.9 Nyquist.
    half_len = 24 * max(up, down)
    # resample_poly scales the taps by `up` itself.
    taps = ss.firwin(2 * half_len + 1, 1.0 / max(up, down), window=("kaiser", 9.0))
    out = ss.resample_poly(audio, up, down, axis=-1, window=taps)
    return np.asarray(out, dtype=np.float32)


def undo_clock(audio: np.ndarray, ratio: float, frames: int) -> np.ndarray:
    """`frames` samples of (channels, n) audio read at positions n * ratio (soxr, VHQ).

    soxr's output sample m is its input at m * ratio exactly (it removes its own
    delay), and its passband reaches past 0.9 Nyquist, where `stretch`'s short Kaiser
    filter already rolls off (a -37 dB null at 20 kHz of 44.1 kHz), in a fifth of the
    time. (For a change of rate `to_rate`'s long polyphase filter stays: it keeps the
    top tenth of the band that soxr cuts, and nulls as deep over the shared band.)
    """
    interleaved = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).T)
    out = soxr.resample(interleaved, ratio, 1.0, quality="VHQ").T
    if out.shape[1] < frames:
        out = np.pad(out, ((0, 0), (0, frames - out.shape[1])))
    return np.ascontiguousarray(out[:, :frames], dtype=np.float32)


def drift_ratio(drift: float) -> Fraction:
    """The clock ratio 1 + drift as a fraction a polyphase resampler can use."""
    return Fraction(1.0 + drift).limit_denominator(MAX_DRIFT_DENOMINATOR)


@functools.lru_cache(maxsize=4)
def _polyphase_filter(up: int, down: int, sharp: bool = False) -> np.ndarray:
    """resample_poly's own default design (Kaiser, beta 5, 10 zero crossings a side), or with
    `sharp` to_rate's (beta 9, 24 zero crossings: images below -90 dB, flat to ~0.9 Nyquist)."""
    import scipy.signal as ss  # here, not at the top: it costs a second or two (scipy.stats)

    crossings, beta = (24, 9.0) if sharp else (10, 5.0)
    half_len = crossings * max(up, down)
    taps = ss.firwin(2 * half_len + 1, 1.0 / max(up, down), window=("kaiser", beta))
    return np.asarray(taps * up)


def stretch(
    audio: np.ndarray, ratio: Fraction, start: float, length: int, *, sharp: bool = False
) -> np.ndarray:
    """`length` samples of (channels, n) audio read at positions start + n * ratio.

    A polyphase resampler (scipy's upfirdn) whose output grid is moved by a
    whole number of its 1/up phases, so one pass undoes both a clock drift and
    a fractional offset (to 1/up of a sample, ~1e-5 for ppm-sized drifts).
    `sharp` uses to_rate's longer filter, for a rate change whose result is kept.
    """
    down, up = ratio.numerator, ratio.denominator
    whole = math.floor(start)
    phase = round((start - whole) * up)
    taps = _polyphase_filter(up, down, sharp)
    # Input samples of context before `whole`, so the filter starts on real sound.
    margin = max(16, math.ceil(len(taps) / (2 * up)) + 2)
    needed = math.ceil(length * down / up) + 2 * margin + 2
    source = np.zeros((audio.shape[0], needed), dtype=np.float32)
    lo, hi = max(whole - margin, 0), min(whole - margin + needed, audio.shape[1])
    if hi > lo:
        source[:, lo - (whole - margin) : hi - (whole - margin)] = audio[:, lo:hi]
    center = (len(taps) - 1) // 2
    # Output m of upfirdn reads the input at (m * down - center - pre) / up; choose the
    # front padding `pre` and the dropped outputs `skip` so output `skip` reads
    # margin + phase / up, i.e. the position `start`.
    target = margin * up + phase
    pre = (-(center + target)) % down
    skip = (center + target + pre) // down
    padded = np.concatenate([np.zeros(pre), taps])
    from scipy.signal import upfirdn  # (see _polyphase_filter)

    out = upfirdn(padded, source, up, down, axis=-1)[:, skip : skip + length]
    if out.shape[1] < length:
        out = np.pad(out, ((0, 0), (0, length - out.shape[1])))
    return np.asarray(out, dtype=np.float32)


def shift(audio: np.ndarray, offset: float, length: int) -> np.ndarray:
    """Return `length` samples of (channels, n) audio read from position `offset` on.

    Sample n of the result is audio[offset + n], band-limited interpolation by an
    FFT phase shift (single precision: its error stays below -120 dB); positions
    outside `audio` read as silence.
    """
    whole = math.floor(offset)
    fraction = offset - whole
    pad = 4096 if fraction else 0
    start, stop = whole - pad, whole + length + pad
    piece = np.zeros((audio.shape[0], stop - start), dtype=np.float32)
    lo, hi = max(start, 0), min(stop, audio.shape[1])
    if hi > lo:
        piece[:, lo - start : hi - start] = audio[:, lo:hi]
    if fraction:
        n = sfft.next_fast_len(piece.shape[1] + pad, real=True)
        spectrum = sfft.rfft(piece, n, axis=-1, workers=-1)
        turns = np.arange(spectrum.shape[-1], dtype=np.float64) * (fraction / n)
        spectrum *= np.exp(2j * np.pi * (turns - np.round(turns))).astype(np.complex64)
        piece = sfft.irfft(spectrum, n, axis=-1, workers=-1)[:, : stop - start]
    return np.ascontiguousarray(piece[:, pad : pad + length], dtype=np.float32)
