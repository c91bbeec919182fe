"""What every backend offers, and the small records it hands back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["Backend", "Cancelled", "Progress", "Submission", "TaskState"]

#: progress(fraction 0..1, stage text), as deecho.pipeline reports it.
Progress = Callable[[float, str], None]
#: Says whether the caller wants the job stopped.
Cancelled = Callable[[], bool]

#: Statuses after which a task never changes (the contract's spelling).
DONE_STATUSES = frozenset({"COMPLETED", "FAILED", "ERROR"})


@dataclass(frozen=True)
class Submission:
    """A task the backend accepted: what the TUI shows while it runs."""

    task_id: str
    conversion_id: str
    status: str
    eta_s: int | None
    """Seconds until the result is expected; None when the backend does not know (eta -1)."""
    credit_estimate: float
    """What the task will cost on the vendor's account; 0 locally."""
    message: str = ""


@dataclass(frozen=True)
class TaskState:
    """One look at a task."""

    task_id: str
    status: str
    """IN_QUEUE, IN_PROGRESS, COMPLETED, FAILED or ERROR."""
    message: str = ""
    no_echo_url: str = ""
    """Where the cleaned audio is (WAV preferred, else the MP3); empty until COMPLETED."""
    echo_url: str = ""
    progress: float | None = None
    """0..1 when the backend knows how far along it is (the local engine does)."""

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "COMPLETED"


class Backend(Protocol):
    """Runs echo removal on a prepped WAV somewhere, and brings the result back."""

    name: str
    """`local`, `musicgpt`, or the server's URL: what --json reports as `backend`."""

    def submit(self, audio: Path, cancelled: Cancelled | None = None) -> Submission:
        """Hand the file over; returns at once with the task."""
        ...

    def status(self, task_id: str) -> TaskState:
        """Where the task stands now."""
        ...

    def download(self, state: TaskState, workdir: Path, cancelled: Cancelled | None = None) -> Path:
        """Fetch a COMPLETED task's no_echo audio into `workdir`; returns its path."""
        ...

    def process(
        self,
        prepped_wav: Path,
        workdir: Path,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> Path:
        """submit, wait, download: the no_echo audio of `prepped_wav`, in `workdir`."""
        ...
