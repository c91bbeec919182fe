"""How long a task will take: the engine's stages, each at the rate finished tasks showed.

The eta used to fit one line of processing seconds against audio seconds. Two
things made that line dishonest for long recordings (bench/load.py: an hour behind
200 one-second takes was promised in 375 s and took 29 s):
- a second of audio costs what its samples cost: 44.1 kHz stereo is 5.5 times
  16 kHz mono, so costs are counted per channel-sample, not per second;
- the echo analysis reads at most `engine.ANALYSIS_MAX_S` of a file (a few
  excerpts), so its cost stops growing there, while the streamed pass (decode,
  cancel, write, encode the MP3s) reads every sample. A line fitted on 1-8 s takes
  mixes the analysis into the per-second term and extrapolates it to the hour.
So each worker reports its task's stage timings (TaskTimings) and each stage gets its
own line: seconds against the samples that stage reads. What no stage accounts for
(probing, opening files, the worker's bookkeeping) is a fixed cost per task.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Line", "Pace", "TaskTimings"]

#: Weight kept by the past at each new task: about the last 50 tasks count.
_DECAY = 0.98
#: Below this spread of sizes (std / mean) a line's two terms cannot be told apart.
_MIN_SPREAD = 0.2
#: Samples are kept in millions: an hour of stereo is 3e8, and its square should stay modest.
_MEGA = 1e6
#: The stored JSON's layout; an older one (the single line of audio seconds) starts afresh.
_VERSION = 2


@dataclass(frozen=True)
class TaskTimings:
    """What a finished task cost, stage by stage (a worker's report; picklable)."""

    total_s: float
    analysis_s: float
    analysed_samples: int
    streaming_s: float
    """The passes over every sample: the scan, cancelling, writing the WAVs, the MP3s."""
    streamed_samples: int
    analysis_max_s: float
    """The engine's cap on how much of a file its analysis reads (ANALYSIS_MAX_S)."""

    @property
    def other_s(self) -> float:
        """The fixed part: what neither stage accounts for."""
        return max(0.0, self.total_s - self.analysis_s - self.streaming_s)


@dataclass
class Line:
    """Exponentially weighted least squares of seconds (y) against millions of samples (x)."""

    n: float = 0.0
    x: float = 0.0
    y: float = 0.0
    xx: float = 0.0
    xy: float = 0.0

    def add(self, samples: float, seconds: float) -> None:
        x = samples / _MEGA
        for name in ("n", "x", "y", "xx", "xy"):
            setattr(self, name, getattr(self, name) * _DECAY)
        self.n += 1.0
        self.x += x
        self.y += seconds
        self.xx += x * x
        self.xy += x * seconds

    def terms(self) -> tuple[float, float]:
        """(seconds per task, seconds per million samples) as measured so far."""
        if self.n <= 0.0:
            return 0.0, 0.0
        mean_x, mean_y = self.x / self.n, self.y / self.n
        if mean_x <= 0.0:
            return mean_y, 0.0  # a stage that reads nothing: its cost is all fixed
        variance = self.xx / self.n - mean_x * mean_x
        if variance > (_MIN_SPREAD * mean_x) ** 2:
            slope = (self.xy / self.n - mean_x * mean_y) / variance
            fixed = mean_y - slope * mean_x
            if slope > 0.0 and fixed >= 0.0:
                return fixed, slope
            if slope > 0.0:
                # Cost growing faster than the samples (the analysis on 1-8 s takes): a line
                # through zero, which the longest tasks steer, extrapolates less wrongly.
                return 0.0, self.xy / self.xx
        # Sizes all alike (or a fit that makes no sense): one ratio, the safe side for
        # anything longer, since the fixed part is then charged per sample.
        return 0.0, mean_y / mean_x

    def seconds(self, samples: float) -> float:
        fixed, per_mega = self.terms()
        return fixed + per_mega * samples / _MEGA


@dataclass
class Pace:
    """The stages' lines, learned from finished tasks; persisted as JSON in the store."""

    other: Line = field(default_factory=Line)
    analysis: Line = field(default_factory=Line)
    streaming: Line = field(default_factory=Line)
    analysis_max_s: float = 0.0
    """Learned from the workers (the engine's constant); 0 until a task has finished."""

    def add(self, timings: TaskTimings) -> None:
        self.other.add(0.0, timings.other_s)
        self.analysis.add(timings.analysed_samples, timings.analysis_s)
        self.streaming.add(timings.streamed_samples, timings.streaming_s)
        self.analysis_max_s = timings.analysis_max_s

    def estimate_s(
        self, duration_s: float, sample_rate: int, channels: int, default_per_second: float
    ) -> float:
        """Seconds one task of this audio will take a worker (0 s: an audio_url not yet heard)."""
        if self.other.n <= 0.0:
            return default_per_second * duration_s  # nothing finished yet: the configured guess
        per_second = float(sample_rate * max(1, channels))
        analysed_s = min(duration_s, self.analysis_max_s) if self.analysis_max_s else duration_s
        return (
            self.other.seconds(0.0)
            + self.analysis.seconds(analysed_s * per_second)
            + self.streaming.seconds(duration_s * per_second)
        )

    def to_json(self) -> str:
        return json.dumps({"version": _VERSION, **asdict(self)})

    @classmethod
    def from_json(cls, text: str | None) -> Pace:
        if not text:
            return cls()
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("version") != _VERSION:
                return cls()  # an older database's pace (one line, or one ratio): start afresh
            return cls(
                other=_line(data["other"]),
                analysis=_line(data["analysis"]),
                streaming=_line(data["streaming"]),
                analysis_max_s=float(data["analysis_max_s"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()  # damage: start afresh rather than refuse every submit


def _line(data: dict[str, Any]) -> Line:
    return Line(**{name: float(data[name]) for name in ("n", "x", "y", "xx", "xy")})
