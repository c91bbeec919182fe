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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deecho.compare import apply, metrics, repeats
from deecho.compare.figures import (
    CompareFigures,
    CompareTrace,
    OctaveBand,
    ResidualOverTime,
    TakeFigures,
)
from deecho.compare.measure import Measurement, measure
from deecho.compare.running import NullTest, Picture, Totals
from deecho.compare.takes import BLOCK_FRAMES, ArrayTake, FileTake, Take, prefetched
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


@dataclass
class CompareResult:
    """Everything `deecho compare` prints, draws and the workspace shows.

    Offsets are in samples at the original's rate; positive when the processed
    take is late. Drift is positive when the processed take runs long. Gain is
    processed relative to original. Arrays (fields with `repr=False`) are for
    pictures and playback; `to_dict` leaves them out.
    """

    offset_samples: float
    drift_ppm: float
    drift_corrected: bool
    gain_db: float
    polarity: int
    sample_rate: int
    correlation: float
    residual_db: float
    si_sdr_db: float
    energy_removed_db: float
    overlap_start_s: float
    overlap_s: float
    original_rate: int
    processed_rate: int
    original_channels: int
    processed_channels: int
    channels_compared: int
    original_duration_s: float
    processed_duration_s: float
    alignment_windows: int
    alignment_spread_samples: float | None
    compared_band_hz: float | None
    octave_bands: list[OctaveBand]
    echoes_before: list[dict[str, Any]] | None
    echoes_after: list[dict[str, Any]] | None
    rt60_before_s: float | None
    rt60_after_s: float | None
    shared_band_hz: float | None = None
    residual_shared_band_db: float | None = None
    notes: list[str] = field(default_factory=list)
    # Per-block summaries for the picture (None when none was asked for) and the workspace.
    picture: Picture | None = field(default=None, repr=False)
    over_time: metrics.OverTime | None = field(default=None, repr=False)
    lag_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    lag_samples: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def offset_ms(self) -> float:
        return 1000.0 * self.offset_samples / self.sample_rate

    @property
    def gain(self) -> float:
        """Signed linear gain of processed relative to original."""
        return float(self.polarity * 10.0 ** (self.gain_db / 20.0))

    def residual_summary(self) -> ResidualOverTime:
        series = self.over_time.residual_db if self.over_time is not None else np.zeros(0)
        finite = series[np.isfinite(series)]
        if len(finite) == 0 or self.over_time is None:
            return ResidualOverTime(metrics.WINDOW_S)
        worst = int(np.nanargmax(series))
        return ResidualOverTime(
            window_s=metrics.WINDOW_S,
            median_db=round(float(np.median(finite)), 2),
            worst_db=round(float(series[worst]), 2),
            worst_at_s=round(self.overlap_start_s + float(self.over_time.times_s[worst]), 3),
        )

    def figures(self) -> CompareFigures:
        """The figures, rounded as reported, without the arrays: what every face reads."""
        spread = self.alignment_spread_samples
        return CompareFigures(
            offset_samples=round(self.offset_samples, 4),
            offset_ms=round(self.offset_ms, 5),
            drift_ppm=round(self.drift_ppm, 3),
            drift_corrected=self.drift_corrected,
            gain_db=round(self.gain_db, 4),
            polarity=self.polarity,
            sample_rate=self.sample_rate,
            correlation=round(self.correlation, 6),
            residual_db=round(self.residual_db, 2),
            si_sdr_db=round(self.si_sdr_db, 2),
            energy_removed_db=round(self.energy_removed_db, 2),
            overlap_start_s=round(self.overlap_start_s, 6),
            overlap_s=round(self.overlap_s, 6),
            residual_over_time=self.residual_summary(),
            octave_bands=tuple(
                OctaveBand(**band.to_dict()) for band in self.octave_bands
            ),  # rounded as reported
            echoes_before=None if self.echoes_before is None else tuple(self.echoes_before),
            echoes_after=None if self.echoes_after is None else tuple(self.echoes_after),
            rt60_before_s=_rounded(self.rt60_before_s, 3),
            rt60_after_s=_rounded(self.rt60_after_s, 3),
            original=TakeFigures(
                self.original_rate, self.original_channels, round(self.original_duration_s, 6)
            ),
            processed=TakeFigures(
                self.processed_rate, self.processed_channels, round(self.processed_duration_s, 6)
            ),
            channels_compared=self.channels_compared,
            compared_band_hz=self.compared_band_hz,
            alignment_windows=self.alignment_windows,
            alignment_spread_samples=None if spread is None else round(spread, 4),
            shared_band_hz=self.shared_band_hz,
            residual_shared_band_db=_rounded(self.residual_shared_band_db, 2),
            notes=tuple(self.notes),
        )

    def to_dict(self) -> dict[str, Any]:
        """The `--json` object: plain numbers, lists and strings only."""
        return self.figures().to_dict()

    def trace(self) -> CompareTrace:
        """Where the compared stretch lies and the lags measured: what `kept_result` needs
        beside the figures to draw this comparison again."""
        return CompareTrace(
            overlap_start_frame=round(self.overlap_start_s * self.sample_rate),
            overlap_frames=round(self.overlap_s * self.sample_rate),
            lag_times_s=tuple(float(value) for value in self.lag_times_s),
            lag_samples=tuple(float(value) for value in self.lag_samples),
        )


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


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


def _block_lengths(length: int, window: int) -> list[int]:
    """Blocks of whole residual windows (so no window straddles two), the rest last."""
    block = window * max(1, BLOCK_FRAMES // window)
    lengths = [block] * (length // block)
    if length % block:
        lengths.append(length % block)
    return lengths


def _compared(block: np.ndarray, mono: bool) -> np.ndarray:
    return block.mean(axis=0, keepdims=True) if mono else block


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
    lengths = _block_lengths(length, test.window)
    pairs = prefetched(
        zip(
            apply.original_blocks(original, found.start, lengths, band_hz),
            apply.aligned_blocks(processed, rate, found, lengths, band_hz),
            strict=True,
        )
    )
    position = 0
    for original_block, aligned_block in pairs:
        o, a = _compared(original_block, mono), _compared(aligned_block, mono)
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


def _take_of(source: np.ndarray | Path, rate: int, what: str) -> Take:
    if isinstance(source, Path):
        return FileTake(source)
    return ArrayTake(source, rate, what)


def kept_result(
    figures: CompareFigures,
    trace: CompareTrace,
    original: np.ndarray | Path,
    aligned: np.ndarray | Path,
) -> CompareResult:
    """A comparison drawn again from what was kept: its figures and trace, and the two takes
    on one timeline (the original, and the processed take already aligned on it, as a job
    keeps them), as arrays or files. Nothing is measured again: the two are read in blocks
    for the picture's summaries and the residual over time; the figures are the ones kept."""
    rate = figures.sample_rate
    original_take = _take_of(original, rate, "original")
    aligned_take = _take_of(aligned, rate, "processed")
    start = trace.overlap_start_frame
    stop = min(start + trace.overlap_frames, original_take.info.frames)
    if stop <= start:
        raise AudioDecodeError("the kept comparison's stretch lies outside the original")
    channels = original_take.info.channels
    mono = figures.channels_compared != channels or aligned_take.info.channels != channels
    test = NullTest(rate, stop - start, 1 if mono else channels, picture=True)
    lengths = _block_lengths(stop - start, test.window)
    band_hz = figures.compared_band_hz
    pairs = zip(
        apply.original_blocks(original_take, start, lengths, band_hz),
        apply.original_blocks(aligned_take, start, lengths, band_hz),
        strict=True,
    )
    for original_block, aligned_block in pairs:
        test.add(_compared(original_block, mono), _compared(aligned_block, mono))
    totals = test.totals()
    return CompareResult(
        offset_samples=figures.offset_samples,
        drift_ppm=figures.drift_ppm,
        drift_corrected=figures.drift_corrected,
        gain_db=figures.gain_db,
        polarity=figures.polarity,
        sample_rate=rate,
        correlation=figures.correlation,
        residual_db=figures.residual_db,
        si_sdr_db=figures.si_sdr_db,
        energy_removed_db=figures.energy_removed_db,
        overlap_start_s=start / rate,
        overlap_s=(stop - start) / rate,
        original_rate=figures.original.sample_rate,
        processed_rate=figures.processed.sample_rate,
        original_channels=figures.original.channels,
        processed_channels=figures.processed.channels,
        channels_compared=1 if mono else channels,
        original_duration_s=figures.original.duration_s,
        processed_duration_s=figures.processed.duration_s,
        alignment_windows=figures.alignment_windows,
        alignment_spread_samples=figures.alignment_spread_samples,
        compared_band_hz=band_hz,
        octave_bands=list(figures.octave_bands),
        echoes_before=None if figures.echoes_before is None else list(figures.echoes_before),
        echoes_after=None if figures.echoes_after is None else list(figures.echoes_after),
        rt60_before_s=figures.rt60_before_s,
        rt60_after_s=figures.rt60_after_s,
        shared_band_hz=figures.shared_band_hz,
        residual_shared_band_db=figures.residual_shared_band_db,
        notes=list(figures.notes),
        picture=test.picture(figures.polarity * 10.0 ** (figures.gain_db / 20.0)),
        over_time=totals.over_time,
        lag_times_s=np.asarray(trace.lag_times_s, dtype=np.float64),
        lag_samples=np.asarray(trace.lag_samples, dtype=np.float64),
    )
