"""Where the processed take sits on the original's timeline: offset, clock drift, overlap.

Measured on mono mixes, from a bounded amount of audio whatever the length:
- takes up to `WHOLE_S` long are measured whole (every lag searched at ~16 kHz,
  local lags over the whole overlap), exactly as before compare streamed;
- longer takes are read once, mono and decimated to `COARSE_HZ`, which finds the lag
  (among repeats, as `repeats.choose_lag` does) and a first drift; then full-rate
  excerpts of both, spread over the overlap, give the offset to a fraction of a
  sample and the drift, fitted together (as the engine's analysis measures a long
  file from excerpts).

Nothing here holds a whole take at full rate once it is past `WHOLE_S`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import soxr

from deecho.compare import align, repeats, resample
from deecho.compare.takes import Take

#: Takes up to this long (seconds, the longer of the two) are measured whole.
WHOLE_S = 240.0
#: Rate of the decimated mono copies a long take's lag is found on.
COARSE_HZ = 1000
#: Full-rate excerpts of a long original measured against the processed take.
EXCERPTS = 12
#: Length of each excerpt, seconds.
EXCERPT_S = 8.0
#: Local windows measured per excerpt.
EXCERPT_WINDOWS = 8
#: Processed audio read either side of where an excerpt is predicted to sit, seconds.
EXCERPT_REACH_S = 0.25

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Measurement:
    """The processed take holds original sample t at `offset + ratio * t` (samples at the
    original's rate); [start, stop) is the part of the original it covers."""

    offset: float
    ratio: float  # 1.0 when the drift is too small to be worth undoing
    drift: float  # as reported: ratio - 1, or the fitted slope when not undone
    drift_corrected: bool
    start: int
    stop: int
    first: align.LocalLags  # lags as measured before the drift was undone (for the picture)
    line: align.LagLine  # the final fit
    choice: repeats.LagChoice


def _overlap(
    offset: float, ratio: float, original_frames: int, processed_frames: int
) -> tuple[int, int]:
    """Original samples the processed take covers; a position a hair outside (estimation
    noise) still reads it fine."""
    shift = offset / ratio
    stretched_frames = math.floor((processed_frames - 1) / ratio) + 1
    start = max(0, math.ceil(-shift - 0.01))
    stop = min(original_frames, math.floor(stretched_frames - 1 - shift + 0.01) + 1)
    return start, max(start, stop)


def _mono(take: Take) -> np.ndarray:
    parts = [block.mean(axis=0, dtype=np.float64) for block in take.blocks()]
    return np.concatenate(parts) if parts else np.zeros(0)


def _processed_mono_at(take: Take, rate: int) -> np.ndarray:
    mono = _mono(take)
    if take.info.sample_rate == rate:
        return mono
    at_rate = resample.to_rate(mono[np.newaxis, :], take.info.sample_rate, rate)[0]
    return np.asarray(at_rate, dtype=np.float64)


def measure(original: Take, processed: Take, progress: Progress | None = None) -> Measurement:
    """Offset, drift and overlap of `processed` against `original`."""
    longest = max(
        original.info.frames / original.info.sample_rate,
        processed.info.frames / processed.info.sample_rate,
    )
    if longest <= WHOLE_S:
        return _measure_whole(original, processed)
    return _measure_long(original, processed, progress)


def _measure_whole(original: Take, processed: Take) -> Measurement:
    """Local lags over the whole overlap give a first line (offset and drift); once that
    drift is resampled away, the lags measured again give the offset and what drift is
    left, fitted together."""
    rate = original.info.sample_rate
    o_mono = _mono(original)
    p_mono = _processed_mono_at(processed, rate)
    choice = repeats.choose_lag(o_mono, p_mono, rate)
    first = align.local_lags(o_mono, p_mono, rate, choice.guess)
    line = align.fit_lag_line(first, choice.guess)
    fitted = line.windows_used >= 4
    ratio = 1.0
    if fitted and abs(line.slope) * len(o_mono) >= align.MIN_DRIFT_EFFECT_SAMPLES:
        ratio = 1.0 + line.slope
        frames = math.floor((len(p_mono) - 1) / ratio) + 1
        stretched = resample.undo_clock(p_mono[np.newaxis, :], ratio, frames)[0]
        guess = line.offset / ratio
        found = align.local_lags(o_mono, stretched.astype(np.float64), rate, guess)
        line = align.fit_lag_line(found, guess)
        # Lags are positions in the stretched take, which reads `processed` at ratio * m.
        offset = ratio * line.offset
        if line.windows_used >= 4:
            ratio *= 1.0 + line.slope
    else:
        # Drift too small to matter: one offset for the whole take, the fitted lag at
        # the middle of the overlap.
        usable = first.centers[first.usable]
        middle = float(np.median(usable)) if len(usable) else 0.0
        offset = line.offset + (line.slope * middle if fitted else 0.0)
    start, stop = _overlap(offset, ratio, len(o_mono), len(p_mono))
    drift = ratio - 1.0 if ratio != 1.0 else (line.slope if fitted else 0.0)
    return Measurement(offset, ratio, drift, ratio != 1.0, start, stop, first, line, choice)


def _decimated(take: Take, progress: Progress | None, share: float, done: float) -> np.ndarray:
    """The take's mono mix at COARSE_HZ, streamed through soxr."""
    stream = soxr.ResampleStream(take.info.sample_rate, COARSE_HZ, 1, dtype="float32", quality="HQ")
    parts = []
    read = 0
    for block in take.blocks():
        mono = block.mean(axis=0, dtype=np.float32)
        parts.append(stream.resample_chunk(mono))
        read += block.shape[1]
        if progress is not None:
            progress(done + share * read / max(take.info.frames, 1))
    parts.append(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    return np.concatenate(parts).astype(np.float64)


def _coarse_line(
    o_coarse: np.ndarray, p_coarse: np.ndarray
) -> tuple[repeats.LagChoice, align.LagLine]:
    """The lag (and a first drift) on the decimated copies, in coarse samples."""
    choice = repeats.choose_lag(o_coarse, p_coarse, COARSE_HZ)
    found = align.local_lags(o_coarse, p_coarse, COARSE_HZ, choice.guess)
    line = align.fit_lag_line(found, choice.guess)
    if line.windows_used >= 4:
        # Again along the line: windows far from where the lag was found now search
        # where the drift has moved it.
        found = align.local_lags(o_coarse, p_coarse, COARSE_HZ, line.offset, line.slope)
        line = align.fit_lag_line(found, line.offset)
    return choice, line


def _excerpt_starts(start: int, stop: int, width: int) -> list[int]:
    if stop - start <= width:
        return [start]
    return [int(s) for s in np.linspace(start, stop - width, EXCERPTS).round()]


def _spans_of(take: Take, spans: list[tuple[int, int]]) -> list[np.ndarray]:
    """Mono float64 copies of [lo, hi) spans (silence outside the take), in one pass."""
    pieces: list[list[np.ndarray]] = [[] for _ in spans]
    position = 0
    last = max(hi for _, hi in spans)
    for block in take.blocks():
        end = position + block.shape[1]
        if any(lo < end and hi > position for lo, hi in spans):
            mono = block.mean(axis=0, dtype=np.float64)
            for index, (lo, hi) in enumerate(spans):
                a, b = max(lo, position), min(hi, end)
                if b > a:
                    # A copy, so the block's mono mix is not kept alive by a slice of it.
                    pieces[index].append(mono[a - position : b - position].copy())
        position = end
        if position >= last:
            break
    out = []
    for (lo, hi), parts in zip(spans, pieces, strict=True):
        span = np.zeros(hi - lo)
        got = np.concatenate(parts) if parts else np.zeros(0)
        first = max(0, -lo)
        span[first : first + len(got)] = got[: hi - lo - first]
        out.append(span)
    return out


def _processed_excerpts(
    processed: Take, rate: int, spans: list[tuple[int, int]]
) -> list[np.ndarray]:
    """Processed spans given at the original's rate, read at the take's own rate and
    resampled; each span starts on a sample both rates share."""
    own = processed.info.sample_rate
    if own == rate:
        return _spans_of(processed, spans)
    step = rate // math.gcd(rate, own)  # original-rate positions that fall on own samples
    own_spans = []
    for lo, hi in spans:
        first = math.floor(lo / step) * step
        own_spans.append((first * own // rate, math.ceil(hi * own / rate) + 64))
    read = _spans_of(processed, own_spans)
    out = []
    for (lo, hi), own_span, piece in zip(spans, own_spans, read, strict=True):
        at_rate = resample.to_rate(piece[np.newaxis, :], own, rate)[0].astype(np.float64)
        skip = lo - own_span[0] * rate // own
        out.append(
            np.pad(at_rate[skip : skip + hi - lo], (0, max(0, hi - lo - len(at_rate) + skip)))
        )
    return out


def _merge(parts: list[align.LocalLags]) -> align.LocalLags:
    polarity = 1 if sum(p.polarity * float(p.quality.sum()) for p in parts) >= 0 else -1
    return align.LocalLags(
        np.concatenate([p.centers for p in parts]),
        np.concatenate([p.lags for p in parts]),
        np.concatenate([np.where(p.polarity == polarity, p.quality, 0.0) for p in parts]),
        polarity,
    )


def _measure_long(original: Take, processed: Take, progress: Progress | None) -> Measurement:
    rate = original.info.sample_rate
    o_frames = original.info.frames
    p_frames = round(processed.info.frames * rate / processed.info.sample_rate)
    # Both takes at once: decoding and soxr release the GIL, so a second core helps.
    with ThreadPoolExecutor(max_workers=2) as pool:
        o_job = pool.submit(_decimated, original, progress, 0.4, 0.0)
        p_coarse = _decimated(processed, None, 0.2, 0.2)
        o_coarse = o_job.result()
    choice, coarse = _coarse_line(o_coarse, p_coarse)
    scale = rate / COARSE_HZ
    # Coarse samples to full rate: lag(t) = scale * offset_c + slope * t.
    offset, slope = scale * coarse.offset, coarse.slope if coarse.windows_used >= 4 else 0.0
    start, stop = _overlap(offset, 1.0 + slope, o_frames, p_frames)
    width = min(round(EXCERPT_S * rate), max(stop - start, 1))
    reach = round(EXCERPT_REACH_S * rate)
    starts = _excerpt_starts(start, stop, width)
    o_spans = [(s, s + width) for s in starts]
    p_spans = [
        (
            math.floor(offset + (1 + slope) * s) - reach,
            math.ceil(offset + (1 + slope) * (s + width)) + reach,
        )
        for s in starts
    ]
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(_spans_of, original, o_spans)
        p_excerpts = _processed_excerpts(processed, rate, p_spans)
        o_excerpts = reading.result()
    if progress is not None:
        progress(0.6)

    # Round 1: lags on the excerpts as they came (they show the drift).
    firsts = []
    for (t0, _), (p0, _), o_ex, p_ex in zip(o_spans, p_spans, o_excerpts, p_excerpts, strict=True):
        found = align.local_lags(
            o_ex, p_ex, rate, offset + (1 + slope) * t0 - p0, slope, EXCERPT_WINDOWS
        )
        firsts.append(
            align.LocalLags(found.centers + t0, found.lags + p0 - t0, found.quality, found.polarity)
        )
    first = _merge(firsts)
    line = align.fit_lag_line(first, offset)
    fitted = line.windows_used >= 4
    ratio = 1.0 + (line.slope if fitted else 0.0)
    offset = line.offset
    if fitted:
        # Round 2: each excerpt's drift undone (soxr), the lags again, a line through them
        # as absolute positions: the offset and the drift fitted together.
        seconds = []
        for (t0, _), (p0, _), o_ex, p_ex in zip(
            o_spans, p_spans, o_excerpts, p_excerpts, strict=True
        ):
            frames = math.floor((len(p_ex) - 1) / ratio) + 1
            undone = resample.undo_clock(p_ex[np.newaxis, :], ratio, frames)
            stretched = undone[0].astype(np.float64)
            guess = (offset + ratio * t0 - p0) / ratio
            found = align.local_lags(o_ex, stretched, rate, guess, 0.0, EXCERPT_WINDOWS)
            positions = p0 + ratio * (found.centers + found.lags)
            seconds.append(
                align.LocalLags(
                    found.centers + t0,
                    positions - (found.centers + t0),
                    found.quality,
                    found.polarity,
                )
            )
        line = align.fit_lag_line(_merge(seconds), offset)
        if line.windows_used >= 4:
            offset, ratio = line.offset, 1.0 + line.slope
    drift = ratio - 1.0
    corrected = abs(drift) * o_frames >= align.MIN_DRIFT_EFFECT_SAMPLES
    if not corrected:
        middle = (start + stop) / 2
        offset, ratio = offset + drift * middle, 1.0
    start, stop = _overlap(offset, ratio, o_frames, p_frames)
    if progress is not None:
        progress(0.7)
    return Measurement(offset, ratio, drift, corrected, start, stop, first, line, choice)
