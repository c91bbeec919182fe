"""A comparison's figures as a type: what `deecho compare --json`, the workspace's compare
view, its history and its exported report all read.

A leaf module (standard library only), so the history and the workspace can hold the
figures of a past job without loading numpy; `CompareResult.figures()` builds them,
`to_dict()` is the `--json` object and `from_dict()` reads one back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CompareFigures", "CompareTrace", "OctaveBand", "ResidualOverTime", "TakeFigures"]


@dataclass(frozen=True)
class OctaveBand:
    center_hz: float
    original_db: float  # band level, dBFS (AES17: a full-scale sine is 0 dB), channels summed
    processed_db: float
    difference_db: float  # processed minus original
    residual_db: float  # null depth within the band

    def to_dict(self) -> dict[str, float]:
        return {
            "center_hz": self.center_hz,
            "original_db": round(self.original_db, 2),
            "processed_db": round(self.processed_db, 2),
            "difference_db": round(self.difference_db, 2),
            "residual_db": round(self.residual_db, 2),
        }


@dataclass(frozen=True)
class ResidualOverTime:
    """The residual in windows: its median, and the worst window and when it was."""

    window_s: float
    median_db: float | None = None
    worst_db: float | None = None
    worst_at_s: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {
            "window_s": self.window_s,
            "median_db": self.median_db,
            "worst_db": self.worst_db,
            "worst_at_s": self.worst_at_s,
        }


@dataclass(frozen=True)
class TakeFigures:
    """One of the two takes as it came: rate, channels, length."""

    sample_rate: int
    channels: int
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "duration_s": self.duration_s,
        }


@dataclass(frozen=True)
class CompareFigures:
    """Everything the null test measured, rounded as reported.

    Offsets are in samples at the original's rate, positive when the processed take
    is late; drift is positive when it runs long; gain is processed relative to original.
    """

    offset_samples: float
    offset_ms: float
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
    residual_over_time: ResidualOverTime
    octave_bands: tuple[OctaveBand, ...]
    echoes_before: tuple[dict[str, Any], ...] | None
    echoes_after: tuple[dict[str, Any], ...] | None
    rt60_before_s: float | None
    rt60_after_s: float | None
    original: TakeFigures
    processed: TakeFigures
    channels_compared: int
    compared_band_hz: float | None
    alignment_windows: int
    alignment_spread_samples: float | None
    shared_band_hz: float | None = None
    """Where the band both takes carry ends (an MP3's low-pass, a lower rate's band)."""
    residual_shared_band_db: float | None = None
    """The null depth over [0, shared_band_hz): beside `residual_db`, the full band's."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def brief(self) -> dict[str, Any]:
        """The few figures a row of many files shows (`deecho batch --compare`)."""
        return {
            "residual_db": self.residual_db,
            "shared_band_hz": self.shared_band_hz,
            "residual_shared_band_db": self.residual_shared_band_db,
            "energy_removed_db": self.energy_removed_db,
            "correlation": self.correlation,
            "offset_ms": self.offset_ms,
            "drift_ppm": self.drift_ppm,
            "overlap_s": self.overlap_s,
        }

    def to_dict(self) -> dict[str, Any]:
        """The `--json` object: plain numbers, lists and strings only."""
        return {
            "offset_samples": self.offset_samples,
            "offset_ms": self.offset_ms,
            "drift_ppm": self.drift_ppm,
            "drift_corrected": self.drift_corrected,
            "gain_db": self.gain_db,
            "polarity": self.polarity,
            "sample_rate": self.sample_rate,
            "correlation": self.correlation,
            "residual_db": self.residual_db,
            "shared_band_hz": self.shared_band_hz,
            "residual_shared_band_db": self.residual_shared_band_db,
            "si_sdr_db": self.si_sdr_db,
            "energy_removed_db": self.energy_removed_db,
            "overlap_start_s": self.overlap_start_s,
            "overlap_s": self.overlap_s,
            "residual_over_time": self.residual_over_time.to_dict(),
            "octave_bands": [band.to_dict() for band in self.octave_bands],
            "echoes_before": _listed(self.echoes_before),
            "echoes_after": _listed(self.echoes_after),
            "rt60_before_s": self.rt60_before_s,
            "rt60_after_s": self.rt60_after_s,
            "original": self.original.to_dict(),
            "processed": self.processed.to_dict(),
            "channels_compared": self.channels_compared,
            "compared_band_hz": self.compared_band_hz,
            "alignment": {
                "windows": self.alignment_windows,
                "spread_samples": self.alignment_spread_samples,
            },
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareFigures:
        """Read back what `to_dict` wrote (a history entry, an exported report)."""
        alignment = data.get("alignment") or {}
        return cls(
            offset_samples=float(data["offset_samples"]),
            offset_ms=float(data["offset_ms"]),
            drift_ppm=float(data["drift_ppm"]),
            drift_corrected=bool(data.get("drift_corrected", False)),
            gain_db=float(data["gain_db"]),
            polarity=int(data.get("polarity", 1)),
            sample_rate=int(data["sample_rate"]),
            correlation=float(data["correlation"]),
            residual_db=float(data["residual_db"]),
            si_sdr_db=float(data["si_sdr_db"]),
            energy_removed_db=float(data["energy_removed_db"]),
            overlap_start_s=float(data.get("overlap_start_s", 0.0)),
            overlap_s=float(data["overlap_s"]),
            residual_over_time=ResidualOverTime(**(data.get("residual_over_time") or {})),
            octave_bands=tuple(OctaveBand(**band) for band in data.get("octave_bands") or []),
            echoes_before=_tupled(data.get("echoes_before")),
            echoes_after=_tupled(data.get("echoes_after")),
            rt60_before_s=data.get("rt60_before_s"),
            rt60_after_s=data.get("rt60_after_s"),
            original=_take(data["original"]),
            processed=_take(data["processed"]),
            channels_compared=int(data.get("channels_compared", 1)),
            compared_band_hz=data.get("compared_band_hz"),
            alignment_windows=int(alignment.get("windows", 0)),
            alignment_spread_samples=alignment.get("spread_samples"),
            shared_band_hz=data.get("shared_band_hz"),
            residual_shared_band_db=data.get("residual_shared_band_db"),
            notes=tuple(data.get("notes") or ()),
        )


@dataclass(frozen=True)
class CompareTrace:
    """What the picture of a comparison draws beyond its figures and the two takes: where
    the compared stretch lies in the original, and the lag measured window by window.

    Measuring the lags is the slow part of a comparison; kept beside the figures (the
    workspace's history does), the picture can be drawn again from the takes alone
    (`deecho.compare.redraw.kept_result`).
    """

    overlap_start_frame: int
    overlap_frames: int
    lag_times_s: tuple[float, ...] = ()
    lag_samples: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "overlap_start_frame": self.overlap_start_frame,
            "overlap_frames": self.overlap_frames,
            "lag_times_s": list(self.lag_times_s),
            "lag_samples": list(self.lag_samples),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareTrace:
        return cls(
            overlap_start_frame=int(data["overlap_start_frame"]),
            overlap_frames=int(data["overlap_frames"]),
            lag_times_s=tuple(float(value) for value in data.get("lag_times_s") or ()),
            lag_samples=tuple(float(value) for value in data.get("lag_samples") or ()),
        )


def _take(data: dict[str, Any]) -> TakeFigures:
    return TakeFigures(int(data["sample_rate"]), int(data["channels"]), float(data["duration_s"]))


def _listed(echoes: tuple[dict[str, Any], ...] | None) -> list[dict[str, Any]] | None:
    return None if echoes is None else [dict(echo) for echo in echoes]


def _tupled(echoes: list[dict[str, Any]] | None) -> tuple[dict[str, Any], ...] | None:
    return None if echoes is None else tuple(dict(echo) for echo in echoes)
