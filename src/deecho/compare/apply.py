"""The processed take read on the original's timeline, block by block, from its file.

One pass whatever the length: a rate change and a clock drift are undone together by
a soxr stream (VHQ), whose output sample n is its input at q + n * R exactly. The
stream's start q and the output index chosen for original sample 0 are picked so
that what is left of the offset is under `FRACTION_EPS` of a sample (with drift, the
output grid slides past the input by `R - 1` a sample, so some start lands within
that of any fraction); only what is left beyond that, or an offset without any
resampling, is read off by an FFT phase shift with `_PAD` samples of context.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import numpy as np
import scipy.fft as sfft
import scipy.signal as ss
import soxr

from deecho.compare.measure import Measurement
from deecho.compare.takes import BLOCK_FRAMES, SlidingWindow, Take

#: An offset left within this fraction of a sample is not worth a phase shift: its
#: error is below -90 dB even at 0.45 of the sample rate.
FRACTION_EPS = 1e-5
#: Context read either side of a block before a phase shift or band limit, so the
#: FFT's wrap-around stays outside the block (error about -110 dB on broadband noise).
_PAD = 1 << 14
#: Output starts searched for the one that leaves the smallest fraction.
_START_SEARCH = 1 << 20


@functools.lru_cache(maxsize=8)
def _phase(n: int, fraction: float) -> np.ndarray:
    turns = np.arange(n // 2 + 1, dtype=np.float64) * (fraction / n)
    return np.exp(2j * np.pi * (turns - np.round(turns))).astype(np.complex64)


@functools.lru_cache(maxsize=8)
def _band_mask(n: int, rate: int, cutoff_hz: float) -> np.ndarray:
    """|H|² of a 10th-order Butterworth low-pass on rfft bins: what a zero-phase
    forward-backward pass of it (`metrics.band_limit`) does to a spectrum."""
    sos = ss.butter(10, cutoff_hz, fs=rate, output="sos")
    _, response = ss.sosfreqz(sos, worN=np.fft.rfftfreq(n, 1 / rate), fs=rate)
    return np.abs(response).astype(np.float32) ** 2


def filtered_read(
    window: SlidingWindow,
    position: float,
    length: int,
    rate: int,
    band_hz: float | None = None,
) -> np.ndarray:
    """`length` samples of a stream from a (fractional) position, band-limited to
    `band_hz` when given; positions outside the stream read as silence."""
    whole = math.floor(position)
    fraction = position - whole
    if abs(fraction) < 1e-12 and band_hz is None:
        return window.read(whole, whole + length)
    piece = window.read(whole - _PAD, whole + length + _PAD)
    n = sfft.next_fast_len(piece.shape[1], real=True)
    spectrum = sfft.rfft(piece, n, axis=-1)
    if fraction:
        spectrum *= _phase(n, fraction)
    if band_hz is not None:
        spectrum *= _band_mask(n, rate, band_hz)
    out = sfft.irfft(spectrum, n, axis=-1)[:, _PAD : _PAD + length]
    return np.ascontiguousarray(out, dtype=np.float32)


def _best_start(offset_in: float, step: float, lowest: int) -> tuple[int, int, float]:
    """(k, q, left): feeding the stream from input sample q (q <= 0: zeros first) puts
    original sample 0 at output k + left, `left` the smallest in the search."""
    ks = lowest + np.arange(_START_SEARCH, dtype=np.float64)
    positions = offset_in - ks * step
    misses = positions - np.round(positions)
    # The first start close enough, so few outputs are made only to be dropped.
    close = np.flatnonzero(np.abs(misses) <= FRACTION_EPS * step)
    best = int(close[0]) if len(close) else int(np.argmin(np.abs(misses)))
    k = int(ks[best])
    q = round(offset_in - k * step)
    return k, q, float(misses[best]) / step


def _resampled(processed: Take, q: int, in_rate: float, out_rate: int) -> Iterator[np.ndarray]:
    """soxr's output, fed from input sample q (zeros before the take)."""
    channels = processed.info.channels
    stream = soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality="VHQ")
    if q < 0:
        silence = np.zeros((min(-q, BLOCK_FRAMES), channels), dtype=np.float32)
        left = -q
        while left > 0:
            out = stream.resample_chunk(silence[: min(left, BLOCK_FRAMES)])
            left -= min(left, BLOCK_FRAMES)
            if len(out):
                yield np.ascontiguousarray(out.T)
    for block in processed.blocks(max(q, 0)):
        out = stream.resample_chunk(np.ascontiguousarray(block.T))
        if len(out):
            yield np.ascontiguousarray(out.T)
    out = stream.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)
    if len(out):
        yield np.ascontiguousarray(out.T)


def aligned_blocks(
    processed: Take,
    rate: int,
    found: Measurement,
    lengths: Iterator[int] | list[int],
    band_hz: float | None = None,
) -> Iterator[np.ndarray]:
    """The processed take on the original's timeline from `found.start` on, in blocks of
    the given lengths, at `rate`, band-limited to `band_hz` when given."""
    own = processed.info.sample_rate
    step = found.ratio * own / rate  # input samples per output sample
    if step == 1.0:
        window = SlidingWindow(processed.blocks(), processed.info.channels)
        position = found.offset + found.start
    else:
        offset_in = found.offset * own / rate
        # Original sample t sits at output t + k + left; outputs before `start` are not read.
        lowest = math.ceil(offset_in / step)
        k, q, left = _best_start(offset_in, step, lowest)
        window = SlidingWindow(
            _resampled(processed, q, own * found.ratio, rate), processed.info.channels
        )
        position = found.start + k + (left if abs(left) > FRACTION_EPS else 0.0)
    for length in lengths:
        yield filtered_read(window, position, length, rate, band_hz)
        position += length


def original_blocks(
    original: Take, start: int, lengths: Iterator[int] | list[int], band_hz: float | None = None
) -> Iterator[np.ndarray]:
    """The original from `start` on, in blocks of the given lengths (band-limited when asked)."""
    window = SlidingWindow(original.blocks(), original.info.channels)
    position = start
    for length in lengths:
        yield filtered_read(window, position, length, original.info.sample_rate, band_hz)
        position += length
