"""`align_and_compare`: put the processed take on top of the original and measure what changed.

This is the null test of DeltaWave or Audio DiffMaker: the processed take is
resampled to the original's rate, its clock drift and offset are undone, and
its gain and polarity are matched by least squares; whatever does not cancel is
what the processing changed.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deecho.compare import align, metrics, repeats
from deecho.compare.figures import (
    CompareFigures,
    CompareTrace,
    OctaveBand,
    ResidualOverTime,
    TakeFigures,
)
from deecho.errors import AudioDecodeError

log = logging.getLogger(__name__)

#: Below this correlation the alignment is likely a chance match, and the result says so.
POOR_CORRELATION = 0.3
#: More channels than this means the array was passed as (samples, channels).
MAX_CHANNELS = 64
#: Shortest overlap worth comparing, seconds.
MIN_OVERLAP_S = 0.05
#: Longest stretch handed to the engine's echo and RT60 estimators, seconds.
ESTIMATOR_EXCERPT_S = 20.0
#: Metrics over a band-limited view when the rates differ: fraction of the lower Nyquist.
SHARED_BAND_FRACTION = 0.9


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
    notes: list[str] = field(default_factory=list)
    # Arrays for the picture and the workspace (channels_compared, overlap samples).
    original: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)), repr=False)
    aligned: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)), repr=False)
    difference: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)), repr=False)
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
            overlap_frames=int(self.original.shape[-1]),
            lag_times_s=tuple(float(value) for value in self.lag_times_s),
            lag_samples=tuple(float(value) for value in self.lag_samples),
        )


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _as_channels(audio: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise AudioDecodeError(f"{what}: no audio to compare (shape {np.shape(audio)})")
    if array.shape[0] > MAX_CHANNELS:
        raise AudioDecodeError(
            f"{what}: {array.shape[0]} channels; audio must be (channels, samples)"
        )
    if not np.isfinite(array).all():
        raise AudioDecodeError(f"{what}: holds NaN or infinite samples")
    return array


@dataclass(frozen=True)
class _Alignment:
    offset: float  # processed position (at the original's rate) of original sample 0
    drift: float  # fractional clock difference, processed relative to original
    drift_corrected: bool  # False when too small to move the lag measurably
    aligned: np.ndarray  # processed, on the original's timeline, original's length
    start: int  # overlap in original samples [start, stop)
    stop: int
    found: align.LocalLags  # lags measured on the drift-corrected take
    first: align.LocalLags  # lags measured on the take as it came (they show the drift)
    line: align.LagLine
    choice: repeats.LagChoice  # the lags tried, when the material repeats


def _align(original: np.ndarray, processed: np.ndarray, rate: int) -> _Alignment:
    """Estimate and undo offset and drift of `processed` (already at `rate`).

    Local lags over the whole overlap give a first line (offset and drift); once
    that drift is resampled away (mono, for measuring), the lags measured again
    over the whole overlap give the offset and what drift is left, fitted
    together. The take is then read once with both: soxr for the clock, an FFT
    phase shift for the offset.
    """
    o_mono = original.mean(axis=0, dtype=np.float64)
    p_mono = processed.mean(axis=0, dtype=np.float64)
    choice = repeats.choose_lag(o_mono, p_mono, rate)
    first = align.local_lags(o_mono, p_mono, rate, choice.guess)
    line = align.fit_lag_line(first, choice.guess)
    found = first
    fitted = line.windows_used >= 4
    ratio = 1.0  # processed samples per original sample, once the drift is undone
    if fitted and abs(line.slope) * len(o_mono) >= align.MIN_DRIFT_EFFECT_SAMPLES:
        ratio = 1.0 + line.slope
        frames = math.floor((len(p_mono) - 1) / ratio) + 1
        stretched = align.undo_clock(p_mono[np.newaxis, :], ratio, frames)[0]
        guess = line.offset / ratio
        found = align.local_lags(o_mono, stretched.astype(np.float64), rate, guess)
        line = align.fit_lag_line(found, guess)
        # Lags are positions in the stretched take, which reads `processed` at ratio * m.
        offset = ratio * line.offset
        if line.windows_used >= 4:
            ratio *= 1.0 + line.slope
        shift = offset / ratio
    else:
        # Drift too small to matter: one offset for the whole take, the fitted lag at
        # the middle of the overlap.
        usable = found.centers[found.usable]
        middle = float(np.median(usable)) if len(usable) else 0.0
        shift = offset = line.offset + (line.slope * middle if fitted else 0.0)
    stretched_frames = math.floor((processed.shape[1] - 1) / ratio) + 1
    if ratio != 1.0:
        processed = align.undo_clock(processed, ratio, stretched_frames)
    aligned = align.shift(processed, shift, original.shape[1])
    # A position a hair outside the take (estimation noise) still reads it fine.
    start = max(0, math.ceil(-shift - 0.01))
    stop = min(original.shape[1], math.floor(stretched_frames - 1 - shift + 0.01) + 1)
    drift = ratio - 1.0 if ratio != 1.0 else (line.slope if fitted else 0.0)
    return _Alignment(
        offset=offset,
        drift=drift,
        drift_corrected=ratio != 1.0,
        aligned=aligned,
        start=start,
        stop=max(start, stop),
        found=found,
        first=first,
        line=line,
        choice=choice,
    )


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
    """Echoes and RT60 of both takes, by the engine's own blind estimators.

    Only the middle ESTIMATOR_EXCERPT_S of the overlap is measured, so a long
    file costs no more than a song's worth of analysis; the two takes are
    analysed in two threads (the estimators spend their time in FFTs, which
    release the GIL).
    """
    try:
        from deecho.engine import estimate_echoes, estimate_rt60
    except ImportError:
        notes.append("echo and RT60 figures need deecho.engine's estimators, not installed yet")
        return None, None, None, None

    length = original.shape[-1]
    excerpt = min(length, round(ESTIMATOR_EXCERPT_S * rate))
    begin = (length - excerpt) // 2

    def estimate(take: np.ndarray) -> tuple[list[dict[str, Any]], float | None]:
        mono = np.ascontiguousarray(take[:, begin : begin + excerpt].mean(axis=0, keepdims=True))
        echoes = [echo.to_dict() for echo in estimate_echoes(mono, rate)]
        return echoes, estimate_rt60(mono, rate)

    with ThreadPoolExecutor(max_workers=2) as pool:
        before, after = pool.map(estimate, (original, aligned))
    return before[0], after[0], before[1], after[1]


def align_and_compare(
    original: np.ndarray,
    original_rate: int,
    processed: np.ndarray,
    processed_rate: int,
    *,
    engine_estimates: bool = True,
) -> CompareResult:
    """Align `processed` onto `original` and measure what differs.

    Both are (channels, n) or (n,) float arrays. The processed take may be at
    another sample rate, have another channel count or length, start early or
    late by up to its whole length, run on a clock off by some ppm, and have
    another gain or inverted polarity. `engine_estimates=False` skips the
    engine's echo and RT60 estimators (their fields are then None), for callers
    that only need the alignment.
    """
    original = _as_channels(original, "original")
    processed = _as_channels(processed, "processed")
    rate = int(original_rate)
    notes: list[str] = []
    at_rate = align.to_rate(processed, int(processed_rate), rate)
    found = _align(original, at_rate, rate)
    if found.stop - found.start < MIN_OVERLAP_S * rate:
        raise AudioDecodeError(
            "the two files do not overlap once aligned; check that PROCESSED was made from ORIGINAL"
        )
    if found.choice.repeats:
        notes.append(_repeat_note(found.choice, rate))

    compared_orig = np.ascontiguousarray(original[:, found.start : found.stop])
    compared_proc = np.ascontiguousarray(found.aligned[:, found.start : found.stop])
    if compared_orig.shape[0] != compared_proc.shape[0]:
        notes.append(
            f"{original.shape[0]} channel(s) against {processed.shape[0]}: compared as mono mixes"
        )
        compared_orig = compared_orig.mean(axis=0, keepdims=True)
        compared_proc = compared_proc.mean(axis=0, keepdims=True)
    band_hz = None
    if int(processed_rate) != rate:
        band_hz = round(SHARED_BAND_FRACTION * min(rate, int(processed_rate)) / 2, 1)
        notes.append(f"sample rates differ: null figures cover 0-{band_hz:g} Hz, the shared band")
        compared_orig = metrics.band_limit(compared_orig, rate, band_hz)
        compared_proc = metrics.band_limit(compared_proc, rate, band_hz)

    gain = metrics.ls_gain(compared_orig, compared_proc)
    correlation = metrics.correlation(compared_orig, compared_proc)
    if found.line.windows_used == 0 or abs(correlation) < POOR_CORRELATION:
        notes.append(
            f"the processed file hardly matched the original (correlation {correlation:.2f}): "
            "check that PROCESSED was made from ORIGINAL; the alignment is a guess"
        )
    difference = metrics.residual(compared_orig, compared_proc, gain)
    e_orig, e_proc = metrics.energy(compared_orig), metrics.energy(compared_proc)
    echoes_before, echoes_after, rt60_before, rt60_after = (
        _engine_estimates(compared_orig, compared_proc, rate, notes)
        if engine_estimates
        else (None, None, None, None)
    )
    usable = found.first.usable
    return CompareResult(
        offset_samples=found.offset,
        drift_ppm=found.drift * 1e6,
        drift_corrected=found.drift_corrected,
        gain_db=metrics.db(gain * gain) if gain else metrics.FLOOR_DB,
        polarity=-1 if gain < 0 else 1,
        sample_rate=rate,
        correlation=correlation,
        residual_db=metrics.db(metrics.energy(difference) / e_orig) if e_orig else 0.0,
        si_sdr_db=metrics.si_sdr_db(compared_orig, compared_proc),
        energy_removed_db=metrics.db(e_orig) - metrics.db(e_proc),
        overlap_start_s=found.start / rate,
        overlap_s=(found.stop - found.start) / rate,
        original_rate=rate,
        processed_rate=int(processed_rate),
        original_channels=original.shape[0],
        processed_channels=processed.shape[0],
        channels_compared=compared_orig.shape[0],
        original_duration_s=original.shape[1] / rate,
        processed_duration_s=processed.shape[1] / int(processed_rate),
        alignment_windows=found.line.windows_used,
        alignment_spread_samples=(found.line.spread if math.isfinite(found.line.spread) else None),
        compared_band_hz=band_hz,
        octave_bands=metrics.octave_bands(compared_orig, compared_proc, difference, rate),
        echoes_before=echoes_before,
        echoes_after=echoes_after,
        rt60_before_s=rt60_before,
        rt60_after_s=rt60_after,
        notes=notes,
        original=compared_orig,
        aligned=compared_proc,
        difference=difference,
        over_time=metrics.over_time(compared_orig, compared_proc, difference, rate),
        lag_times_s=found.first.centers[usable] / rate,
        lag_samples=found.first.lags[usable],
    )


def kept_result(
    figures: CompareFigures, trace: CompareTrace, original: np.ndarray, aligned: np.ndarray
) -> CompareResult:
    """A comparison drawn again from what was kept: its figures and trace, and the two takes
    on one timeline (the original, and the processed take already aligned on it, as a job
    keeps them). Nothing is measured again but the difference and its level over time,
    which are a subtraction and a windowed sum; the figures are the ones kept."""
    original = _as_channels(original, "original")
    aligned = _as_channels(aligned, "processed")
    rate = figures.sample_rate
    start, stop = trace.overlap_start_frame, trace.overlap_start_frame + trace.overlap_frames
    compared_orig = np.ascontiguousarray(original[:, start:stop])
    compared_proc = np.ascontiguousarray(aligned[:, start:stop])
    if figures.channels_compared != compared_orig.shape[0]:
        compared_orig = compared_orig.mean(axis=0, keepdims=True)
        compared_proc = compared_proc.mean(axis=0, keepdims=True)
    if figures.compared_band_hz is not None:
        compared_orig = metrics.band_limit(compared_orig, rate, figures.compared_band_hz)
        compared_proc = metrics.band_limit(compared_proc, rate, figures.compared_band_hz)
    gain = figures.polarity * 10.0 ** (figures.gain_db / 20.0)
    difference = metrics.residual(compared_orig, compared_proc, gain)
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
        overlap_s=compared_orig.shape[-1] / rate,
        original_rate=figures.original.sample_rate,
        processed_rate=figures.processed.sample_rate,
        original_channels=figures.original.channels,
        processed_channels=figures.processed.channels,
        channels_compared=compared_orig.shape[0],
        original_duration_s=figures.original.duration_s,
        processed_duration_s=figures.processed.duration_s,
        alignment_windows=figures.alignment_windows,
        alignment_spread_samples=figures.alignment_spread_samples,
        compared_band_hz=figures.compared_band_hz,
        octave_bands=list(figures.octave_bands),
        echoes_before=None if figures.echoes_before is None else list(figures.echoes_before),
        echoes_after=None if figures.echoes_after is None else list(figures.echoes_after),
        rt60_before_s=figures.rt60_before_s,
        rt60_after_s=figures.rt60_after_s,
        notes=list(figures.notes),
        original=compared_orig,
        aligned=compared_proc,
        difference=difference,
        over_time=metrics.over_time(compared_orig, compared_proc, difference, rate),
        lag_times_s=np.asarray(trace.lag_times_s, dtype=np.float64),
        lag_samples=np.asarray(trace.lag_samples, dtype=np.float64),
    )
