"""How long a task takes to process: a fixed cost per task plus a cost per second of audio.

The eta a submit answers used to scale one ratio (processing seconds per audio
second, averaged over finished tasks) by the audio's length. A task's processing
also has a fixed part (decoding set-up, the echo analysis's excerpts, encoding the
MP3s: about 0.4 s here), so after a run of one-second clips the ratio was 0.4 and an
hour of audio behind them was promised in 25 minutes when it took under one
(bench/load.py). Fitting both terms by least squares on recent tasks, weighted
toward the latest, keeps the eta honest for short and long recordings alike.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

__all__ = ["Pace"]

#: Weight kept by the past at each new task: about the last 50 tasks count.
_DECAY = 0.98
#: Below this spread of lengths (std / mean) the two terms cannot be told apart.
_MIN_SPREAD = 0.2


@dataclass
class Pace:
    """Exponentially weighted sums of (audio seconds x, processing seconds y)."""

    n: float = 0.0
    x: float = 0.0
    y: float = 0.0
    xx: float = 0.0
    xy: float = 0.0

    def add(self, audio_s: float, processing_s: float) -> None:
        for name in ("n", "x", "y", "xx", "xy"):
            setattr(self, name, getattr(self, name) * _DECAY)
        self.n += 1.0
        self.x += audio_s
        self.y += processing_s
        self.xx += audio_s * audio_s
        self.xy += audio_s * processing_s

    def terms(self, default_per_second: float) -> tuple[float, float]:
        """(seconds per task, seconds per audio second) as measured so far."""
        if self.n < 1.0 or self.x <= 0.0:
            return 0.0, default_per_second
        mean_x, mean_y = self.x / self.n, self.y / self.n
        variance = self.xx / self.n - mean_x * mean_x
        if variance > (_MIN_SPREAD * mean_x) ** 2:
            slope = (self.xy / self.n - mean_x * mean_y) / variance
            fixed = mean_y - slope * mean_x
            if slope > 0.0 and fixed >= 0.0:
                return fixed, slope
        # Lengths all alike (or a fit that makes no sense): one ratio, as before.
        return 0.0, mean_y / mean_x

    def seconds(self, audio_s: float, tasks: float, default_per_second: float) -> float:
        """Processing time of `tasks` tasks holding `audio_s` seconds of audio in all."""
        fixed, per_second = self.terms(default_per_second)
        return fixed * tasks + per_second * audio_s

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> Pace:
        if not text:
            return cls()
        try:
            return cls(**{k: float(v) for k, v in json.loads(text).items()})
        except (ValueError, TypeError):
            return cls()  # an older database's plain ratio, or damage: start afresh
