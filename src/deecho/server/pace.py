"""How long a task will take: the engine's stages, each at the rate finished tasks showed.

The eta used to fit one line of processing seconds against audio seconds. Three
things made that line dishonest for long recordings (bench/load.py: an hour behind
200 one-second takes was promised in 375 s and took 29 s):
- a second of audio costs what its samples cost: 44.1 kHz stereo is 5.5 times
  16 kHz mono, so costs are counted per channel-sample, not per second;
- the echo analysis reads at most `engine.canceller.ANALYSIS_MAX_S` of a file (a few
  excerpts), so its cost stops growing there, while the streamed pass (decode,
  cancel, write, encode the MP3s) reads every sample. A line fitted on 1-8 s takes
  mixes the analysis into the per-second term and extrapolates it to the hour;
- wall time on a shared machine: takes timed while 20 clients kept the cores busy
  ran twice as slow as the run of one-second takes after them, and a line through
  both regimes is steep. So the stages are fitted on CPU seconds, which the
  neighbours barely change.
Each worker reports its task's stage timings (TaskTimings); each stage gets its own
line: CPU seconds against the samples that stage reads. What neither stage accounts
for (probing, opening files) is a fixed CPU cost per task.
Back to wall time: a task of a second or more of CPU runs `slowdown` times its CPU
(wall / CPU of the recent such tasks: the share of the cores the workers get; 1 until
one has run). A shorter task's wall time beyond its CPU is mostly waiting to be
scheduled and handed over, not a share of the cores: scaled by the wall / CPU of 200
one-second takes sent beside their uploads, an hour behind them was promised in 65 s
of processing and took 23 s. So that time is a fixed wall cost per task (`overhead_s`),
with what the server sees beyond the worker's own time (handing it over and back).
Both follow the typical recent task, not the mean: a worker's first task after its
restart (every 50 tasks) waits seconds for its imports, and one such task must not
put seconds on each of the 200 estimates submitted behind it (`_toward`).
The queue ahead of a new task is priced at the pace of now, not at the pace each
queued task was submitted under (`Queue`): a queue sent while 20 clients kept the
cores busy is not charged at that load once it has gone. What no pace learnt from
finished tasks can see is a load ending just as the task is submitted: 200 one-second
uploads slow the tasks that run beside them, and the queue they leave drains faster
than those tasks showed (bench/README.md, the load section: +41 to +59 % on a
10-minute file behind them, +6 to +14 % on an hour).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Line", "Pace", "Queue", "TaskTimings", "channel_samples"]

#: Weight the past keeps at each new task, for the stages' CPU rates: about the last 200
#: tasks count. Slow, because a run of alike takes (200 one-second clips) must not wash out
#: the spread of lengths that tells a stage's fixed part from its rate; CPU rates change
#: only with the hardware, so slow costs little.
_RATE_DECAY = 0.995
#: How far one task moves the typical wait and slowdown (x or / this): a lone outlier
#: barely moves them, a load that lasts 10-20 tasks moves them all the way.
_STEP = 1.1
#: A task of at least this much CPU measures the workers' share of the cores (slowdown);
#: below it, its wall time beyond its CPU is a fixed cost per task (overhead).
_SHARE_MIN_CPU_S = 1.0
#: Below this a wait is nothing: keeps the running median's steps (ratios) meaningful.
_FLOOR_S = 1e-3
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
    """Wall seconds the worker spent on the task."""
    cpu_s: float
    """CPU seconds of the worker's process over the same span."""
    analysis_cpu_s: float
    analysed_samples: int
    streaming_cpu_s: float
    """The passes over every sample: the scan, cancelling, writing the WAVs, the MP3s."""
    streamed_samples: int
    analysis_max_s: float
    """The engine's cap on how much of a file its analysis reads (ANALYSIS_MAX_S)."""

    @property
    def other_cpu_s(self) -> float:
        """The fixed part: what neither stage accounts for."""
        return max(0.0, self.cpu_s - self.analysis_cpu_s - self.streaming_cpu_s)


def channel_samples(duration_s: float, sample_rate: int, channels: int) -> float:
    """A task's size as the engine's stages read it (mono counts one channel)."""
    return duration_s * sample_rate * max(1, channels)


@dataclass(frozen=True)
class Queue:
    """Tasks' sizes, summed: what a pace prices as a whole (one task or the queue)."""

    tasks: int = 0
    audio_s: float = 0.0
    analysed_samples: float = 0.0
    """Channel-samples the engine's analysis reads (each task's first ANALYSIS_MAX_S)."""
    streamed_samples: float = 0.0
    """Every channel-sample."""


@dataclass
class Line:
    """Exponentially weighted least squares of seconds (y) against millions of samples (x)."""

    n: float = 0.0
    x: float = 0.0
    y: float = 0.0
    xx: float = 0.0
    xy: float = 0.0

    def add(self, samples: float, seconds: float, decay: float = _RATE_DECAY) -> None:
        x = samples / _MEGA
        for name in ("n", "x", "y", "xx", "xy"):
            setattr(self, name, getattr(self, name) * decay)
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
            return mean_y, 0.0  # nothing read (a fixed cost's line): its mean
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

    def seconds(self, samples: float, tasks: float = 1.0) -> float:
        """Seconds `tasks` tasks take, reading `samples` among them (the cost is linear)."""
        fixed, per_mega = self.terms()
        return tasks * fixed + per_mega * samples / _MEGA


@dataclass
class Pace:
    """The stages' lines and the machine's recent load; persisted as JSON in the store."""

    other: Line = field(default_factory=Line)
    analysis: Line = field(default_factory=Line)
    streaming: Line = field(default_factory=Line)
    overhead_s: float = 0.0
    """Wall seconds a task costs beyond its CPU: hand-over, scheduling (see the module doc)."""
    slowdown: float = 1.0
    """Wall seconds per CPU second of recent long tasks (above 1: the cores are shared)."""
    analysis_max_s: float = 0.0
    """Learned from the workers (the engine's constant); 0 until a task has finished."""

    def add(self, timings: TaskTimings, run_s: float | None = None) -> None:
        """A finished task's timings; `run_s`: how long the server saw it run, when known."""
        self.other.add(0.0, timings.other_cpu_s)
        self.analysis.add(timings.analysed_samples, timings.analysis_cpu_s)
        self.streaming.add(timings.streamed_samples, timings.streaming_cpu_s)
        long = timings.cpu_s >= _SHARE_MIN_CPU_S
        if long:
            self.slowdown = _toward(self.slowdown, timings.total_s / timings.cpu_s)
        # What the server saw beyond the worker's time; for a short task, beyond its CPU.
        beyond = run_s if run_s is not None else timings.total_s
        beyond -= timings.total_s if long else timings.cpu_s
        first = self.other.n <= 1.0
        self.overhead_s = max(0.0, beyond) if first else _toward(self.overhead_s, beyond)
        self.analysis_max_s = timings.analysis_max_s

    def estimate_s(
        self, duration_s: float, sample_rate: int, channels: int, default_per_second: float
    ) -> float:
        """Wall seconds one task of this audio will take (0 s: an audio_url not yet heard)."""
        return self.queue_s(self.sized(duration_s, sample_rate, channels), default_per_second)

    def sized(self, duration_s: float, sample_rate: int, channels: int) -> Queue:
        """One task of this audio, as the stages read it."""
        analysed_s = min(duration_s, self.analysis_max_s) if self.analysis_max_s else duration_s
        return Queue(
            1,
            duration_s,
            channel_samples(analysed_s, sample_rate, channels),
            channel_samples(duration_s, sample_rate, channels),
        )

    def queue_s(self, queue: Queue, default_per_second: float) -> float:
        """Wall seconds these tasks take, one after another on one worker."""
        if self.other.n <= 0.0:
            return default_per_second * queue.audio_s  # nothing finished yet: the configured guess
        cpu_s = (
            self.other.seconds(0.0, queue.tasks)
            + self.analysis.seconds(queue.analysed_samples, queue.tasks)
            + self.streaming.seconds(queue.streamed_samples, queue.tasks)
        )
        return queue.tasks * self.overhead_s + self.slowdown * cpu_s

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
                overhead_s=float(data["overhead_s"]),
                slowdown=float(data["slowdown"]),
                analysis_max_s=float(data["analysis_max_s"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()  # damage: start afresh rather than refuse every submit


def _toward(typical: float, seen: float) -> float:
    """One step of a running median (in ratio): up or down by _STEP, never past `seen`."""
    seen = max(seen, _FLOOR_S)
    typical = max(typical, _FLOOR_S)
    moved = min(typical * _STEP, seen) if seen > typical else max(typical / _STEP, seen)
    return 0.0 if moved <= _FLOOR_S else moved


def _line(data: dict[str, Any]) -> Line:
    return Line(**{name: float(data[name]) for name in ("n", "x", "y", "xx", "xy")})
