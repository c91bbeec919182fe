"""The processed take read on the original's timeline, block by block, from its file.

One pass whatever the length: a rate change and a clock drift are undone together by
a soxr stream (VHQ), whose output sample n is its input at q + n * R. soxr rounds R
(by about 1e-10, 0.02 samples an hour), so the stream is restarted every `_SEGMENT`
outputs at an exact position. Each time, its start q and the output index taken for
the segment's first sample are picked so that what is left of the offset is under
`FRACTION_EPS` of a sample (with drift the output grid slides past the input by
R - 1 a sample, so some start lands within that of any fraction); only what is left
beyond that, or an offset without any resampling, is read off by an FFT phase shift
with `_PAD` samples of context.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import numpy as np
import scipy.fft as sfft
import soxr

from deecho.compare.measure import Measurement
from deecho.compare.takes import SlidingWindow, Take

#: An offset left within this fraction of a sample is not worth a phase shift: its
#: error is below -90 dB even at 0.45 of the sample rate.
FRACTION_EPS = 1e-5
#: Context read either side of a block before a phase shift or band limit, so the
#: FFT's wrap-around stays outside the block (error about -110 dB on broadband noise).
_PAD = 1 << 14
#: Output starts searched for the one that leaves the smallest fraction (with drift d,
#: a start within d of any fraction is found among 1/d of them: 50,000 at 20 ppm).
_START_SEARCH = 1 << 17
#: Outputs of a restarted stream before the first kept one: soxr's filter then reads real
#: input (and an FFT's context is there too).
_WARM = _PAD + 4096
#: Outputs per restart of the stream (about 22 s at 48 kHz).
_SEGMENT = 1 << 20
#: Input samples handed to soxr at a time.
_FEED = 1 << 16
#: Input kept before the last read, so the next segment can start a little earlier.
_KEEP = 2 * (_WARM + _START_SEARCH + _FEED) + _PAD


@functools.lru_cache(maxsize=8)
def _phase(n: int, fraction: float) -> np.ndarray:
    turns = np.arange(n // 2 + 1, dtype=np.float64) * (fraction / n)
    return np.exp(2j * np.pi * (turns - np.round(turns))).astype(np.complex64)


@functools.lru_cache(maxsize=8)
def _band_mask(n: int, rate: int, cutoff_hz: float) -> np.ndarray:
    """|H|² of a 10th-order Butterworth low-pass on rfft bins: what a zero-phase
    forward-backward pass of it (`metrics.band_limit`) does to a spectrum."""
    import scipy.signal as ss  # here, not at the top: it costs a second or two (scipy.stats)

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


def _best_start(position: float, step: float, lowest: int) -> tuple[int, int, float]:
    """(k, q, left): fed from input sample q, the stream's output k + left holds input
    `position`; k >= lowest, with `left` under FRACTION_EPS where the search finds one."""
    ks = lowest + np.arange(_START_SEARCH, dtype=np.float64)
    starts = position - ks * step
    misses = starts - np.round(starts)
    # The first start close enough, so few outputs are made only to be dropped.
    close = np.flatnonzero(np.abs(misses) <= FRACTION_EPS * step)
    best = int(close[0]) if len(close) else int(np.argmin(np.abs(misses)))
    k = int(ks[best])
    return k, round(position - k * step), float(misses[best]) / step


def _stream_outputs(
    source: SlidingWindow, q: int, in_rate: float, out_rate: int, channels: int
) -> Iterator[np.ndarray]:
    """A soxr stream's outputs, fed from input sample q on (silence before the take and
    past its end: the caller stops reading)."""
    stream = soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality="VHQ")
    position = q
    while True:
        piece = source.read(position, position + _FEED)
        position += _FEED
        out = stream.resample_chunk(np.ascontiguousarray(piece.T))
        if len(out):
            yield np.ascontiguousarray(out.T)


def _segments(lengths: list[int]) -> Iterator[list[int]]:
    """Consecutive blocks grouped into segments of about _SEGMENT samples."""
    group: list[int] = []
    for length in lengths:
        group.append(length)
        if sum(group) >= _SEGMENT:
            yield group
            group = []
    if group:
        yield group


def aligned_blocks(
    processed: Take,
    rate: int,
    found: Measurement,
    lengths: list[int],
    band_hz: float | None = None,
) -> Iterator[np.ndarray]:
    """The processed take on the original's timeline from `found.start` on, in blocks of
    the given lengths, at `rate`, band-limited to `band_hz` when given."""
    own = processed.info.sample_rate
    step = found.ratio * own / rate  # input samples per output sample
    if step == 1.0:
        window = SlidingWindow(processed.blocks(), processed.info.channels)
        position = found.offset + found.start
        for length in lengths:
            yield filtered_read(window, position, length, rate, band_hz)
            position += length
        return
    # soxr places its outputs on a grid whose step it rounds (about 1e-10 relative:
    # 0.02 samples an hour), so each segment restarts the stream at an exact position.
    source = SlidingWindow(processed.blocks(), processed.info.channels, keep=_KEEP)
    channels = processed.info.channels
    first = found.start
    for group in _segments(lengths):
        position = found.offset * own / rate + step * first  # input position of `first`
        k, q, left = _best_start(position, step, _WARM)
        outputs = SlidingWindow(
            _stream_outputs(source, q, own * found.ratio, rate, channels), channels
        )
        at = k + (left if abs(left) > FRACTION_EPS else 0.0)
        for length in group:
            yield filtered_read(outputs, at, length, rate, band_hz)
            at += length
        first += sum(group)


def original_blocks(
    original: Take, start: int, lengths: Iterator[int] | list[int], band_hz: float | None = None
) -> Iterator[np.ndarray]:
    """The original from `start` on, in blocks of the given lengths (band-limited when asked)."""
    window = SlidingWindow(original.blocks(), original.info.channels)
    position = start
    for length in lengths:
        yield filtered_read(window, position, length, original.info.sample_rate, band_hz)
        position += length
