"""`compare_takes`: put the processed take on top of the original and measure what changed.

This is the null test of DeltaWave or Audio DiffMaker: the processed take is
resampled to the original's rate, its clock drift and offset are undone, and
its gain and polarity are matched by least squares; whatever does not cancel is
what the processing changed.

It streams: the offset and drift are measured on a bounded amount of audio
(`measure`), then both takes are read in blocks, the processed one resampled and
shifted onto the original's timeline (`apply`), and every figure is accumulated
block by block (`running`). `compare_files` reads from disk, `align_and_compare`
from arrays; both run the same code.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from deecho.compare import apply, metrics, repeats
from deecho.compare.measure import Measurement, measure
from deecho.compare.result import CompareResult
from deecho.compare.running import NullTest, Totals
from deecho.compare.takes import (
    ArrayTake,
    FileTake,
    Take,
    block_lengths,
    compared_channels,
    prefetched,
)
from deecho.errors import AudioDecodeError

log = logging.getLogger(__name__)

#: Below this correlation the alignment is likely a chance match, and the result says so.
POOR_CORRELATION = 0.3
#: Shortest overlap worth comparing, seconds.
MIN_OVERLAP_S = 0.05
#: Longest stretch handed to the engine's echo and RT60 estimators, seconds.
ESTIMATOR_EXCERPT_S = 20.0
#: Metrics over a band-limited view when the rates differ: fraction of the lower Nyquist.
SHARED_BAND_FRACTION = 0.9
#: A shared band within this fraction of the compared band is the compared band.
SAME_BAND = 0.98

Progress = Callable[[float], None]


def _repeat_note(choice: repeats.LagChoice, rate: int) -> str:
    others = sorted(round(c.lag / rate, 3) for c in choice.alternatives)
    shown = ", ".join(f"{lag:g} s" for lag in others[:4])
    return (
        f"the material repeats: offsets of {shown} explain it within {repeats.EQUAL_DB:g} dB"
        " too; the one covering the most of the original was taken"
    )


def _engine_estimates(
    original: np.ndarray, aligned: np.ndarray, rate: int, notes: list[str]
) -> tuple[Any, Any, float | None, float | None]:
    """Echoes and RT60 of both takes (mono excerpts), by the engine's own blind estimators.

    The two takes are analysed in two threads (the estimators spend their time in
    FFTs, which release the GIL).
    """
    try:
        from deecho.engine import estimate_echoes, estimate_rt60
    except ImportError:
        notes.append("echo and RT60 figures need deecho.engine's estimators, not installed yet")
        return None, None, None, None

    def estimate(mono: np.ndarray) -> tuple[list[dict[str, Any]], float | None]:
        take = np.ascontiguousarray(mono[np.newaxis, :], dtype=np.float32)
        echoes = [echo.to_dict() for echo in estimate_echoes(take, rate)]
        return echoes, estimate_rt60(take, rate)

    with ThreadPoolExecutor(max_workers=2) as pool:
        before, after = pool.map(estimate, (original, aligned))
    return before[0], after[0], before[1], after[1]


class _Excerpt:
    """The middle ESTIMATOR_EXCERPT_S of the overlap, mono, gathered as blocks pass."""

    def __init__(self, length: int, rate: int) -> None:
        self.size = min(length, round(ESTIMATOR_EXCERPT_S * rate))
        self.begin = (length - self.size) // 2
        self.original = np.zeros(self.size, dtype=np.float32)
        self.aligned = np.zeros(self.size, dtype=np.float32)

    def add(self, position: int, original: np.ndarray, aligned: np.ndarray) -> None:
        lo = max(position, self.begin)
        hi = min(position + original.shape[1], self.begin + self.size)
        if hi > lo:
            where = slice(lo - self.begin, hi - self.begin)
            self.original[where] = original[:, lo - position : hi - position].mean(axis=0)
            self.aligned[where] = aligned[:, lo - position : hi - position].mean(axis=0)


def compare_takes(
    original: Take,
    processed: Take,
    *,
    engine_estimates: bool = True,
    picture: bool = True,
    progress: Progress | None = None,
) -> CompareResult:
    """Align `processed` onto `original` and measure what differs, reading both in blocks.

    The processed take may be at another sample rate, have another channel count or
    length, start early or late by up to its whole length, run on a clock off by some
    ppm, and have another gain or inverted polarity. `engine_estimates=False` skips the
    engine's echo and RT60 estimators (their fields are then None); `picture=False`
    skips the summaries the PNG is drawn from. `progress` is called with 0..1.
    """
    rate = original.info.sample_rate
    processed_rate = processed.info.sample_rate
    notes: list[str] = []

    def report(share: float, offset: float) -> Progress | None:
        if progress is None:
            return None
        return lambda done: progress(offset + share * done)

    found = measure(original, processed, report(0.3, 0.0))
    if found.stop - found.start < MIN_OVERLAP_S * rate:
        raise AudioDecodeError(
            "the two files do not overlap once aligned; check that PROCESSED was made from ORIGINAL"
        )
    if found.choice.repeats:
        notes.append(_repeat_note(found.choice, rate))
    mono = original.info.channels != processed.info.channels
    if mono:
        notes.append(
            f"{original.info.channels} channel(s) against {processed.info.channels}:"
            " compared as mono mixes"
        )
    band_hz = None
    if processed_rate != rate:
        band_hz = round(SHARED_BAND_FRACTION * min(rate, processed_rate) / 2, 1)
        notes.append(f"sample rates differ: null figures cover 0-{band_hz:g} Hz, the shared band")

    length = found.stop - found.start
    channels = 1 if mono else original.info.channels
    test = NullTest(rate, length, channels, picture=picture)
    excerpt = _Excerpt(length, rate) if engine_estimates else None
    lengths = block_lengths(length, test.window)
    pairs = prefetched(
        zip(
            apply.original_blocks(original, found.start, lengths, band_hz),
            apply.aligned_blocks(processed, rate, found, lengths, band_hz),
            strict=True,
        )
    )
    position = 0
    for original_block, aligned_block in pairs:
        o, a = compared_channels(original_block, mono), compared_channels(aligned_block, mono)
        test.add(o, a)
        if excerpt is not None:
            excerpt.add(position, o, a)
        position += o.shape[1]
        if progress is not None:
            progress(0.3 + 0.6 * position / length)
    totals = test.totals()
    if found.line.windows_used == 0 or abs(totals.correlation) < POOR_CORRELATION:
        notes.append(
            f"the processed file hardly matched the original (correlation"
            f" {totals.correlation:.2f}): check that PROCESSED was made from ORIGINAL;"
            " the alignment is a guess"
        )
    estimates: tuple[Any, Any, float | None, float | None] = (None, None, None, None)
    if excerpt is not None:
        estimates = _engine_estimates(excerpt.original, excerpt.aligned, rate, notes)
    if progress is not None:
        progress(1.0)
    return _result(found, totals, test, estimates, original, processed, band_hz, channels, notes)


def _shared_band(
    totals: Totals, rate: int, band_hz: float | None
) -> tuple[float | None, float | None]:
    """The band both takes carry and the null over it; None when it is the compared band."""
    top = band_hz if band_hz is not None else rate / 2
    edge = min(totals.band_edge_hz, top)
    if edge >= SAME_BAND * top or totals.residual_shared_db is None:
        return round(top, 1), totals.residual_db
    return round(edge, 1), totals.residual_shared_db


def _result(
    found: Measurement,
    totals: Totals,
    test: NullTest,
    estimates: tuple[Any, Any, float | None, float | None],
    original: Take,
    processed: Take,
    band_hz: float | None,
    channels: int,
    notes: list[str],
) -> CompareResult:
    rate = original.info.sample_rate
    gain = totals.gain
    shared_hz, shared_db = _shared_band(totals, rate, band_hz)
    usable = found.first.usable
    echoes_before, echoes_after, rt60_before, rt60_after = estimates
    return CompareResult(
        offset_samples=found.offset,
        drift_ppm=found.drift * 1e6,
        drift_corrected=found.drift_corrected,
        gain_db=metrics.db(gain * gain) if gain else metrics.FLOOR_DB,
        polarity=-1 if gain < 0 else 1,
        sample_rate=rate,
        correlation=totals.correlation,
        residual_db=totals.residual_db,
        si_sdr_db=totals.si_sdr_db,
        energy_removed_db=totals.energy_removed_db,
        overlap_start_s=found.start / rate,
        overlap_s=(found.stop - found.start) / rate,
        original_rate=rate,
        processed_rate=processed.info.sample_rate,
        original_channels=original.info.channels,
        processed_channels=processed.info.channels,
        channels_compared=channels,
        original_duration_s=original.info.frames / rate,
        processed_duration_s=processed.info.frames / processed.info.sample_rate,
        alignment_windows=found.line.windows_used,
        alignment_spread_samples=(found.line.spread if math.isfinite(found.line.spread) else None),
        compared_band_hz=band_hz,
        octave_bands=totals.octave_bands,
        echoes_before=echoes_before,
        echoes_after=echoes_after,
        rt60_before_s=rt60_before,
        rt60_after_s=rt60_after,
        shared_band_hz=shared_hz,
        residual_shared_band_db=shared_db,
        notes=notes,
        picture=test.picture(gain),
        over_time=totals.over_time,
        lag_times_s=found.first.centers[usable] / rate,
        lag_samples=found.first.lags[usable],
    )


def compare_files(
    original: Path,
    processed: Path,
    *,
    engine_estimates: bool = True,
    picture: bool = True,
    progress: Progress | None = None,
) -> CompareResult:
    """`compare_takes` on two files, read from disk in blocks (memory does not grow with
    their length)."""
    return compare_takes(
        FileTake(Path(original)),
        FileTake(Path(processed)),
        engine_estimates=engine_estimates,
        picture=picture,
        progress=progress,
    )


def align_and_compare(
    original: np.ndarray,
    original_rate: int,
    processed: np.ndarray,
    processed_rate: int,
    *,
    engine_estimates: bool = True,
    picture: bool = True,
) -> CompareResult:
    """`compare_takes` on two (channels, n) or (n,) float arrays already in memory."""
    return compare_takes(
        ArrayTake(original, int(original_rate), "original"),
        ArrayTake(processed, int(processed_rate), "processed"),
        engine_estimates=engine_estimates,
        picture=picture,
    )
