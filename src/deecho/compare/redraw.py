"""A comparison drawn again from what a job kept, without measuring anything again."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deecho.compare import apply
from deecho.compare.figures import CompareFigures, CompareTrace
from deecho.compare.result import CompareResult
from deecho.compare.running import NullTest
from deecho.compare.takes import ArrayTake, FileTake, Take, block_lengths, compared_channels
from deecho.errors import AudioDecodeError

__all__ = ["kept_result"]


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
    lengths = block_lengths(stop - start, test.window)
    band_hz = figures.compared_band_hz
    pairs = zip(
        apply.original_blocks(original_take, start, lengths, band_hz),
        apply.original_blocks(aligned_take, start, lengths, band_hz),
        strict=True,
    )
    for original_block, aligned_block in pairs:
        test.add(compared_channels(original_block, mono), compared_channels(aligned_block, mono))
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
