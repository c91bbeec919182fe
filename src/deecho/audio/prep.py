"""Preparation before echo removal: trim by time or silence, normalize to peak or LUFS.

Prep is planned from a scan of the audio (`plan_prep`) and then applied block
by block (`apply_prep`), so an hour-long file never has to sit in memory.
Gain goes through pedalboard; when a loudness target would push peaks past
the ceiling, a look-ahead limiter holds them under it: prep never clips.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pedalboard

from deecho.audio.limiter import PeakLimiter
from deecho.audio.loudness import LevelMeter, Levels
from deecho.errors import UsageError

__all__ = [
    "LIMITER_CEILING_DBFS",
    "BlockSource",
    "PrepOptions",
    "PrepPlan",
    "apply_prep",
    "find_sound_bounds",
    "parse_time",
    "plan_prep",
    "prep_audio",
]

#: Where the limiter holds peaks when a loudness target needs it (dBFS, sample peak).
LIMITER_CEILING_DBFS = -1.0
#: Measure-and-correct passes when the limiter takes loudness away.
_LIMITER_PASSES = 4
#: Silence detection resolution.
_SILENCE_WINDOW_S = 0.010
#: Kept before the first and after the last sound, so attacks and tails are not cut.
_SILENCE_MARGIN_S = 0.020

_TIME_PATTERN = re.compile(r"^(?:(?:(\d+):)?(\d{1,2}):)?(\d+(?:\.\d*)?|\.\d+)$")


def parse_time(text: str) -> float:
    """Seconds from "12.5", "1:02.250" or "01:01:02.250"."""
    match = _TIME_PATTERN.match(text.strip())
    if not match:
        raise UsageError(f"time {text!r}: write seconds (12.5) or hh:mm:ss.mmm (00:01:02.250)")
    hours, minutes, seconds = match.groups()
    if minutes is not None and float(seconds) >= 60:
        raise UsageError(f"time {text!r}: seconds must be under 60 in mm:ss form")
    try:
        total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)
    except (ValueError, OverflowError):  # more digits than Python converts to a number
        total = math.inf
    if not math.isfinite(total):
        shown = text if len(text) <= 24 else f"{text[:20]}…"
        raise UsageError(f"time {shown!r}: too large to be a time in a recording")
    return total


@dataclass(frozen=True)
class PrepOptions:
    """What the user asked prep to do; every field off by default."""

    start_s: float | None = None
    end_s: float | None = None
    trim_silence_dbfs: float | None = None
    normalize_peak_dbfs: float | None = None
    normalize_lufs: float | None = None

    def __post_init__(self) -> None:
        if self.start_s is not None and self.start_s < 0:
            raise UsageError("--start must not be negative")
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise UsageError("--end must come after --start")
        if self.normalize_peak_dbfs is not None and self.normalize_lufs is not None:
            raise UsageError("choose one of --normalize-peak and --normalize-lufs")
        if self.normalize_peak_dbfs is not None and self.normalize_peak_dbfs > 0:
            raise UsageError("--normalize-peak must be 0 dBFS or lower; above it would clip")
        if self.normalize_lufs is not None and not -70 <= self.normalize_lufs <= 0:
            raise UsageError("--normalize-lufs must be between -70 and 0 LUFS (e.g. -16)")
        if self.trim_silence_dbfs is not None and not -120 <= self.trim_silence_dbfs < 0:
            raise UsageError("--trim-silence must be a level below 0 dBFS (e.g. -50)")

    @property
    def normalizes(self) -> bool:
        return self.normalize_peak_dbfs is not None or self.normalize_lufs is not None


@dataclass(frozen=True)
class PrepPlan:
    """Frames to keep and the gain to apply, decided from a scan."""

    start_frame: int
    stop_frame: int
    gain_db: float = 0.0
    limit: bool = False
    levels_before: Levels | None = None

    @property
    def frames(self) -> int:
        return self.stop_frame - self.start_frame


def time_range_frames(options: PrepOptions, sample_rate: int, total_frames: int) -> tuple[int, int]:
    """[start, stop) frames of the --start/--end range, checked against the file's length."""
    start = 0 if options.start_s is None else round(options.start_s * sample_rate)
    stop = total_frames if options.end_s is None else round(options.end_s * sample_rate)
    stop = min(stop, total_frames)
    if start >= total_frames:
        length_s = total_frames / sample_rate
        raise UsageError(
            f"--start {options.start_s} s is past the end of the audio ({length_s:.2f} s)"
        )
    return start, stop


class _SoundBounds:
    """Finds the first and last 10 ms window louder than a threshold, block by block."""

    def __init__(self, threshold_dbfs: float, sample_rate: int, channels: int) -> None:
        self.window = max(1, round(_SILENCE_WINDOW_S * sample_rate))
        self.threshold_ms = 10.0 ** (threshold_dbfs / 10.0)  # mean square
        self.first: int | None = None
        self.last: int | None = None
        self._position = 0
        self._pending = np.zeros((channels, 0), dtype=np.float32)

    def add(self, block: np.ndarray, final: bool = False) -> None:
        joined = np.concatenate([self._pending, block], axis=1)
        count = joined.shape[1] // self.window
        if final and joined.shape[1] % self.window:
            count += 1
            pad = count * self.window - joined.shape[1]
            joined = np.pad(joined, ((0, 0), (0, pad)))
        used = joined[:, : count * self.window]
        self._pending = joined[:, count * self.window :]
        if not count:
            return
        power = np.square(used).reshape(used.shape[0], count, self.window).mean(axis=2).max(axis=0)
        loud = np.flatnonzero(power >= self.threshold_ms)
        if loud.size:
            if self.first is None:
                self.first = self._position + int(loud[0]) * self.window
            self.last = self._position + (int(loud[-1]) + 1) * self.window
        self._position += count * self.window


def find_sound_bounds(
    blocks: Iterable[np.ndarray], threshold_dbfs: float, sample_rate: int, channels: int
) -> tuple[int, int] | None:
    """[first, last) frames holding sound above the threshold, with a small margin; None if none."""
    bounds = _SoundBounds(threshold_dbfs, sample_rate, channels)
    total = 0
    for block in blocks:
        bounds.add(block)
        total += block.shape[1]
    bounds.add(np.zeros((channels, 0), dtype=np.float32), final=True)
    if bounds.first is None or bounds.last is None:
        return None
    margin = round(_SILENCE_MARGIN_S * sample_rate)
    return max(0, bounds.first - margin), min(total, bounds.last + margin)


def measure_levels(blocks: Iterable[np.ndarray], sample_rate: int, channels: int) -> Levels:
    meter = LevelMeter(sample_rate, channels)
    for block in blocks:
        meter.add(block)
    return meter.levels()


def normalization_gain_db(options: PrepOptions, levels: Levels) -> tuple[float, bool]:
    """(gain in dB, whether the limiter must hold the peaks) for the asked target."""
    if options.normalize_peak_dbfs is not None:
        if levels.peak_dbfs <= -150:
            raise UsageError("cannot normalize digital silence; check the --start/--end range")
        return options.normalize_peak_dbfs - levels.peak_dbfs, False
    if options.normalize_lufs is not None:
        if levels.loudness_lufs is None:
            raise UsageError(
                "cannot measure loudness: the audio is under 0.4 s or silent; use --normalize-peak"
            )
        gain = options.normalize_lufs - levels.loudness_lufs
        return gain, levels.peak_dbfs + gain > LIMITER_CEILING_DBFS
    return 0.0, False


def apply_prep(
    blocks: Iterable[np.ndarray], plan: PrepPlan, sample_rate: int, channels: int
) -> Iterator[np.ndarray]:
    """Apply the plan's gain (and limiter) to blocks already cut to the plan's range."""
    stream: Iterable[np.ndarray] = blocks
    if not math.isclose(plan.gain_db, 0.0, abs_tol=1e-9):
        board = pedalboard.Pedalboard([pedalboard.Gain(gain_db=plan.gain_db)])
        stream = (board.process(b, sample_rate, reset=False) for b in stream)
    if plan.limit:
        limiter = PeakLimiter(LIMITER_CEILING_DBFS, sample_rate, channels)
        stream = limiter.run(stream)
    yield from stream


def _blocks_of(audio: np.ndarray, size: int = 1 << 16) -> Iterator[np.ndarray]:
    for start in range(0, audio.shape[1], size):
        yield audio[:, start : start + size]


#: Gives the (channels, n) blocks of frames [start, stop) of some audio; stop None: to the end.
BlockSource = Callable[[int, int | None], Iterable[np.ndarray]]


def plan_prep(
    source: BlockSource,
    total_frames: int,
    sample_rate: int,
    channels: int,
    options: PrepOptions,
) -> PrepPlan:
    """Decide what prep does from one or two scans of the audio.

    `total_frames` may be 0 when a header does not tell the length; the scan counts it.
    """
    start, stop = time_range_frames(options, sample_rate, total_frames or (1 << 62))
    if options.trim_silence_dbfs is not None:
        bounds = find_sound_bounds(
            source(start, stop), options.trim_silence_dbfs, sample_rate, channels
        )
        if bounds is None:
            level = options.trim_silence_dbfs
            raise UsageError(f"nothing louder than {level} dBFS to keep; lower --trim-silence")
        start, stop = start + bounds[0], start + bounds[1]
    elif total_frames <= 0:
        stop = start + sum(block.shape[1] for block in source(start, None))
    plan = PrepPlan(start, stop)
    if plan.frames <= 0:
        raise UsageError("the chosen range holds no audio; check --start and --end")
    if not options.normalizes:
        return plan
    levels = measure_levels(source(start, stop), sample_rate, channels)
    gain_db, limit = normalization_gain_db(options, levels)
    plan = replace(plan, gain_db=gain_db, limit=limit, levels_before=levels)
    if limit and options.normalize_lufs is not None:
        plan = _make_up_for_limiting(plan, options.normalize_lufs, source, sample_rate, channels)
    return plan


def _make_up_for_limiting(
    plan: PrepPlan, target_lufs: float, source: BlockSource, sample_rate: int, channels: int
) -> PrepPlan:
    """Raise the gain until the limited result reaches the loudness target.

    Holding peaks down takes loudness away (a lot, on material with sharp
    transients), so the limited result is measured and the gain corrected; a
    few passes converge within 0.1 LU, as far as the ceiling allows.
    """
    for _ in range(_LIMITER_PASSES):
        limited = apply_prep(source(plan.start_frame, plan.stop_frame), plan, sample_rate, channels)
        loudness = measure_levels(limited, sample_rate, channels).loudness_lufs
        if loudness is None or abs(target_lufs - loudness) < 0.1:
            break
        plan = replace(plan, gain_db=plan.gain_db + target_lufs - loudness)
    return plan


def prep_audio(audio: np.ndarray, sample_rate: int, options: PrepOptions) -> np.ndarray:
    """Trim and normalize an in-memory (channels, samples) float32 array; returns a new array."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))

    def source(start: int, stop: int | None) -> Iterator[np.ndarray]:
        return _blocks_of(audio[:, start:stop])

    plan = plan_prep(source, audio.shape[1], sample_rate, audio.shape[0], options)
    region = audio[:, plan.start_frame : plan.stop_frame]
    blocks = list(apply_prep(_blocks_of(region), plan, sample_rate, audio.shape[0]))
    if not blocks:
        return np.zeros((audio.shape[0], 0), dtype=np.float32)
    return np.concatenate(blocks, axis=1)
