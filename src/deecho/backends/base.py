"""What every backend offers, and the small records it hands back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from deecho.kinds import BackendKind, JobState, TaskStatus

if TYPE_CHECKING:
    from deecho.engine.report import Amounts, EngineReport

__all__ = [
    "Backend",
    "Cancelled",
    "JobStatus",
    "Progress",
    "Submission",
    "TaskLedger",
    "TaskState",
]

#: progress(fraction 0..1, stage text), as deecho.pipeline reports it.
Progress = Callable[[float, str], None]
#: Says whether the caller wants the job stopped.
Cancelled = Callable[[], bool]

#: Statuses after which a task never changes.
DONE_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.ERROR})


@dataclass(frozen=True)
class Submission:
    """A task the backend accepted: what the TUI shows while it runs."""

    task_id: str
    conversion_id: str
    status: str
    eta_s: int | None
    """Seconds until the result is expected; None when the backend does not know (eta -1)."""
    credit_estimate: float | None
    """What the task will cost on the vendor's account; None where nothing is spent."""
    message: str = ""


class TaskLedger(Protocol):
    """Where a job keeps the task a remote backend accepted, so a job run again (after a
    killed batch) watches that task instead of paying for a new one."""

    def recall(self) -> Submission | None:
        """The task accepted for this very job earlier, if any."""
        ...

    def remember(self, task: Submission) -> None:
        """Keep `task` (durably) before anything else happens."""
        ...

    def forget(self) -> None:
        """The task failed or is gone: a later try may submit anew."""
        ...


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
    report: EngineReport | None = None
    """What the engine found, when the backend is an engine that says (the local one)."""

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == TaskStatus.COMPLETED


@dataclass(frozen=True)
class JobStatus:
    """One step of a job, as the CLI's bar and the workspace's job panel show it."""

    status: JobState
    task_id: str | None = None
    eta_s: float | None = None
    fraction: float | None = None
    """How far the whole job is, 0..1 (prep, the backend's task, then aligning and writing)."""
    stage: str = ""
    credit_estimate: float | None = None


class Backend(Protocol):
    """Runs echo removal on a prepped WAV somewhere, and brings the result back."""

    name: str
    """`local`, `musicgpt`, or the server's URL: what --json reports as `backend`."""
    kind: BackendKind
    honours_amounts: bool
    """True when the backend removes only the asked echo and reverb amounts itself; False for a
    service that removes all it can (the job then blends its result with the input)."""
    on_input_timeline: bool
    """True when the result is written on the sent audio's own timeline, sample for sample
    (the local engine); a remote result's offset and drift are always measured."""

    def submit(
        self, audio: Path, cancelled: Cancelled | None = None, amounts: Amounts | None = None
    ) -> Submission:
        """Hand the file over; returns at once with the task."""
        ...

    def status(self, task_id: str) -> TaskState:
        """Where the task stands now."""
        ...

    def wait(
        self,
        task: Submission,
        on_state: Callable[[TaskState], None],
        cancelled: Cancelled | None = None,
    ) -> TaskState:
        """Watch the task until it is COMPLETED, reporting each look; raise TaskFailedError
        when it ends FAILED or ERROR, CancelledError when `cancelled` says so."""
        ...

    def download(
        self,
        state: TaskState,
        workdir: Path,
        cancelled: Cancelled | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> Path:
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
