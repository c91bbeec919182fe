"""A running batch's count: files and audio time done, and when it should end.

Plain data (no Textual), built by the folder view as each file ends and shown by the
job panel. The ETA is the audio still to do at the pace of the files worked so far
(a file done in an earlier run costs nothing, so it does not count towards the pace).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["BatchTally", "clock"]


def clock(seconds: float) -> str:
    """Whole seconds as m:ss (h:mm:ss past an hour)."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class BatchTally:
    total: int
    audio_total_s: float
    ended: int = 0
    done: int = 0
    failed: int = 0
    audio_ended_s: float = 0.0
    audio_worked_s: float = 0.0
    """Audio of the files worked on in this run (not those done earlier): the pace."""
    running: bool = True
    stopping: bool = False
    began: float = field(default_factory=time.monotonic)
    ended_at: float | None = None

    def file_ended(self, audio_s: float, *, worked: bool, done: bool, failed: bool) -> None:
        self.ended += 1
        self.done += done
        self.failed += failed
        self.audio_ended_s += audio_s
        if worked:
            self.audio_worked_s += audio_s

    def finish(self) -> None:
        self.running = False
        self.ended_at = time.monotonic()

    @property
    def fraction(self) -> float:
        if self.audio_total_s > 0:
            return min(1.0, self.audio_ended_s / self.audio_total_s)
        return self.ended / self.total if self.total else 1.0

    def eta_s(self, now: float) -> float | None:
        elapsed = now - self.began
        if not self.running or self.audio_worked_s <= 0 or elapsed <= 0:
            return None
        pace = self.audio_worked_s / elapsed  # audio seconds per second
        return max(0.0, self.audio_total_s - self.audio_ended_s) / pace

    def lines(self, now: float) -> list[str]:
        """The job panel's lines: what, how far, how long."""
        state = "stopping" if self.stopping else "running" if self.running else "ended"
        counts = f"{self.ended}/{self.total} files"
        if self.failed:
            counts += f" ({self.failed} failed)"
        audio = f"{clock(self.audio_ended_s)} of {clock(self.audio_total_s)} audio"
        took = (self.ended_at or now) - self.began
        timing = f"elapsed {clock(took)}"
        eta = self.eta_s(now)
        if eta is not None:
            timing += f"  ETA {clock(eta)}"
        return [f"Batch  [b]{state}[/b]", f"{counts}  {audio}", timing]
