"""Line a backend's result up with the prepped input it was made from, always by measuring.

Whatever a backend sends back may start early or late (a service that trims
leading silence, an MP3 decoder that keeps the encoder's delay), run at another
sample rate, on a clock a few ppm off, or with another channel count; a WAV is
no promise that it is sample-exact. So every result is measured the same way,
with compare's estimator (`deecho.compare.align`): a whole-excerpt GCC-PHAT lag,
then sub-sample lags in windows over the first and last `EXCERPT_S` seconds,
and a robust line through them (offset and drift). A result whose best match
is poor (another file) or lies beyond `MAX_OFFSET_S` is refused.

Applying the measurement streams: the result is read once from the top in
blocks and each output block is read off it at the measured positions
(a plain copy for a whole-sample offset, an FFT phase shift for a fractional
one, one polyphase pass for a rate change or drift), so the written `no_echo`
has exactly the prepped input's length, rate and channel count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from deecho.audio.io import iter_blocks, opened
from deecho.compare import align as estimator
from deecho.compare import resample
from deecho.compare.takes import SlidingWindow
from deecho.errors import ResultMismatchError

__all__ = [
    "EXCERPT_S",
    "MAX_OFFSET_S",
    "MIN_MATCH",
    "Alignment",
    "aligned_blocks",
    "match_channels",
    "measure_alignment",
]

#: The reach: a result may start up to this many seconds early or late. Codec delays
#: are milliseconds and trimmed leading silence rarely more than a breath; beyond this
#: the match is more likely chance than a shift.
MAX_OFFSET_S = 5.0
#: Seconds measured at the start (and, for longer files, at the end, which gives drift).
EXCERPT_S = 20.0
#: Least correlation (mono mixes, at the measured offset) of a result with what was sent.
#: A cleaned take keeps its direct sound, so it correlates far above this; another file
#: correlates near 0.
MIN_MATCH = 0.2
#: A whole-sample offset is taken as such when the fit lands this close to it.
WHOLE_SAMPLE_SNAP = 0.05
#: Drift that moves the result by less than this many samples over the file is none.
MIN_DRIFT_SAMPLES = 0.05
#: Below this peak a result is silence: a service that removed everything; nothing to align.
SILENCE_PEAK = 1e-6
#: Samples of result kept either side of each output block, for the interpolation filters.
_MARGIN = 4096 + 64


@dataclass(frozen=True)
class Alignment:
    """Where the result sits against the prepped input, as measured.

    `offset_samples` (at the input's rate) is the result's position of input sample 0:
    positive when the result starts late. `drift_ppm` is positive when the result runs long.
    """

    offset_samples: float
    drift_ppm: float
    correlation: float | None
    """None when there was nothing to correlate (a silent input or a silent result)."""
    sample_rate: int
    result_rate: int
    result_channels: int
    result_frames: int
    frames: int
    measured: bool = True
    """False when the backend writes on the input's timeline by construction (the local
    engine): the identity alignment, taken from the headers without a measurement."""

    @property
    def ratio(self) -> Fraction:
        """Result samples (at its own rate) per input sample."""
        nominal = Fraction(self.result_rate, self.sample_rate)
        if not self.drift_ppm:
            return nominal
        drifted = float(nominal) * (1.0 + self.drift_ppm * 1e-6)
        return Fraction(drifted).limit_denominator(resample.MAX_DRIFT_DENOMINATOR)

    @property
    def overlap(self) -> tuple[int, int]:
        """Input samples [start, stop) that the result covers."""
        step = 1.0 + self.drift_ppm * 1e-6
        covered = self.result_frames * self.sample_rate / self.result_rate
        start = max(0, math.ceil(-self.offset_samples / step - 1e-6))
        stop = min(self.frames, math.floor((covered - 1 - self.offset_samples) / step + 1e-6) + 1)
        return start, max(start, stop)

    def to_dict(self) -> dict[str, Any]:
        start, stop = self.overlap
        rate = self.sample_rate
        return {
            "offset_samples": round(self.offset_samples, 4),
            "offset_ms": round(1000.0 * self.offset_samples / rate, 5),
            "drift_ppm": round(self.drift_ppm, 3),
            "correlation": None if self.correlation is None else round(self.correlation, 6),
            "overlap_start_s": round(start / rate, 6),
            "overlap_s": round((stop - start) / rate, 6),
            "result_sample_rate": self.result_rate,
            "result_channels": self.result_channels,
            "measured": self.measured,
        }


def on_input_timeline(prepped: Path, result: Path) -> Alignment:
    """The identity alignment of a result written on the input's own samples."""
    with opened(prepped) as reader:
        rate, frames = reader.info.sample_rate, reader.info.frames
    with opened(result) as reader:
        info = reader.info
    return Alignment(
        0.0, 0.0, None, rate, info.sample_rate, info.channels, info.frames, frames, measured=False
    )


def match_channels(block: np.ndarray, channels: int) -> np.ndarray:
    """Mono to many by copying, many to mono by averaging, else drop or repeat the last."""
    have = block.shape[0]
    if have == channels:
        return block
    if have == 1:
        return np.repeat(block, channels, axis=0)
    if channels == 1:
        return block.mean(axis=0, keepdims=True)
    if have > channels:
        return block[:channels]
    return np.concatenate([block, np.repeat(block[-1:], channels - have, axis=0)], axis=0)


def _mono_spans(path: Path, spans: list[tuple[int, int]]) -> tuple[list[np.ndarray], int]:
    """Mono float64 copies of [start, stop) spans, read from the top in one pass (seeking into
    an MP3 can land a few samples off, which would spoil the measurement); and the frame count."""
    found = [np.zeros(0) for _ in spans]
    pieces: list[list[np.ndarray]] = [[] for _ in spans]
    position = 0
    with opened(path) as reader:
        for block in iter_blocks(reader, 0, None, 1 << 17):
            mono = block.mean(axis=0, dtype=np.float64)
            end = position + len(mono)
            for index, (start, stop) in enumerate(spans):
                lo, hi = max(start, position), min(stop, end)
                if hi > lo:
                    pieces[index].append(mono[lo - position : hi - position])
            position = end
    for index, parts in enumerate(pieces):
        if parts:
            found[index] = np.concatenate(parts)
    return found, position


def _spans(frames: int, rate: int) -> list[tuple[int, int]]:
    excerpt = int(EXCERPT_S * rate)
    if frames <= 2 * excerpt:
        return [(0, frames)]
    return [(0, excerpt), (frames - excerpt, frames)]


def _result_span(start: int, stop: int, reach: int, scale: float) -> tuple[int, int]:
    """The result's span (own rate) that holds input [start, stop) give or take `reach`."""
    return max(0, math.floor((start - reach) * scale)), math.ceil((stop + reach) * scale)


def _lags_in(
    reference: np.ndarray,
    ref_start: int,
    result: np.ndarray,
    res_start: float,
    rate: int,
    reach: int,
) -> estimator.LocalLags:
    """Local lags of one excerpt pair, as absolute input positions and absolute lags."""
    guess = float(estimator.coarse_lag(reference, result, rate))
    lag_shift = res_start - ref_start
    if abs(guess + lag_shift) > reach:
        raise ResultMismatchError(
            "the backend's result does not line up with the audio sent within"
            f" ±{MAX_OFFSET_S:g} s; it may be another file: nothing was saved"
        )
    found = estimator.local_lags(reference, result, rate, guess)
    return estimator.LocalLags(
        found.centers + ref_start, found.lags + lag_shift, found.quality, found.polarity
    )


def _correlation(reference: np.ndarray, result: np.ndarray, offset: float, slope: float) -> float:
    """Correlation of mono `reference` with mono `result` read along the lag line, a
    second at a time (whole-sample lags: enough to tell the same audio from another)."""
    chunk = 1 << 14
    dot = energy_a = energy_b = 0.0
    for first in range(0, len(reference), chunk):
        a = reference[first : first + chunk]
        lag = round(offset + slope * (first + len(a) / 2))
        lo = first + lag
        b = result[max(lo, 0) : max(lo + len(a), 0)]
        if lo < 0:
            a = a[-lo:] if -lo < len(a) else a[:0]
        length = min(len(a), len(b))
        a, b = a[:length], b[:length]
        dot += float(np.einsum("i,i->", a, b))
        energy_a += float(np.einsum("i,i->", a, a))
        energy_b += float(np.einsum("i,i->", b, b))
    scale = math.sqrt(energy_a * energy_b)
    return dot / scale if scale > 0 else 0.0


def measure_alignment(prepped: Path, result: Path) -> Alignment:
    """Measure the offset and drift of `result` against `prepped`; raise ResultMismatchError
    when the result does not match what was sent."""
    with opened(prepped) as reader:
        rate, frames = reader.info.sample_rate, reader.info.frames
    with opened(result) as reader:
        result_rate, result_channels = reader.info.sample_rate, reader.info.channels
    spans = _spans(frames, rate)
    reach = int(MAX_OFFSET_S * rate)
    scale = result_rate / rate
    references, _ = _mono_spans(prepped, spans)
    result_spans = [_result_span(start, stop, reach, scale) for start, stop in spans]
    results, result_frames = _mono_spans(result, result_spans)

    def outcome(offset: float, drift_ppm: float, correlation: float | None) -> Alignment:
        return Alignment(
            offset,
            drift_ppm,
            correlation,
            rate,
            result_rate,
            result_channels,
            result_frames,
            frames,
        )

    result_peak = max((float(np.abs(r).max(initial=0.0)) for r in results), default=0.0)
    if result_peak < SILENCE_PEAK:
        return outcome(0.0, 0.0, None)  # everything removed: silence sits anywhere
    if not any(r.any() for r in references):
        raise ResultMismatchError(
            "the audio sent is silent but the backend's result is not; nothing was saved"
        )
    at_rate = [resample.to_rate(r[np.newaxis, :], result_rate, rate)[0] for r in results]
    measured = [
        _lags_in(ref, start, res, span[0] / scale, rate, reach)
        for ref, (start, _), res, span in zip(references, spans, at_rate, result_spans, strict=True)
    ]
    combined = estimator.LocalLags(
        np.concatenate([m.centers for m in measured]),
        np.concatenate([m.lags for m in measured]),
        np.concatenate([m.quality for m in measured]),
        measured[0].polarity,
    )
    line = estimator.fit_lag_line(combined, fallback_offset=0.0)
    head_offset = line.offset - result_spans[0][0] / scale
    correlation = _correlation(
        references[0], at_rate[0].astype(np.float64), head_offset, line.slope
    )
    if line.windows_used == 0 or correlation < MIN_MATCH:
        raise ResultMismatchError(
            f"the backend's result does not match the audio sent (correlation {correlation:.2f}"
            " at the best offset); it may be another file: nothing was saved"
        )
    slope = line.slope if abs(line.slope) * frames >= MIN_DRIFT_SAMPLES else 0.0
    offset = line.offset
    if abs(offset - round(offset)) < WHOLE_SAMPLE_SNAP:
        offset = float(round(offset))
    return outcome(offset, slope * 1e6, correlation)


def aligned_blocks(
    result: Path, alignment: Alignment, channels: int, block_frames: int
) -> Iterator[np.ndarray]:
    """The result on the input's timeline: `alignment.frames` samples in blocks of
    `block_frames`, `channels` wide, at the input's rate; silence outside the overlap."""
    ratio = alignment.ratio
    start = alignment.offset_samples * alignment.result_rate / alignment.sample_rate
    with opened(result) as reader:
        window = SlidingWindow(iter_blocks(reader, 0, None, block_frames), reader.info.channels)
        for first in range(0, alignment.frames, block_frames):
            length = min(block_frames, alignment.frames - first)
            position = start + float(first * ratio)
            lo = math.floor(position) - _MARGIN
            hi = math.ceil(position + length * float(ratio)) + _MARGIN
            piece = window.read(lo, hi)
            if ratio == 1:
                block = resample.shift(piece, position - lo, length)
            else:
                block = resample.stretch(piece, ratio, position - lo, length, sharp=True)
            yield match_channels(block, channels)
