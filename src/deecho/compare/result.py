"""`CompareResult`: everything one comparison measured, and its figures for a report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deecho.compare import metrics
from deecho.compare.figures import (
    CompareFigures,
    CompareTrace,
    OctaveBand,
    ResidualOverTime,
    TakeFigures,
)
from deecho.compare.running import Picture

__all__ = ["CompareResult"]


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
