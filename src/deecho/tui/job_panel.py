"""The job panel: how much to remove, the job sent, its progress, its end and its result.

A widget that owns its part of the workspace: the echo and reverb amounts, the running
job (id, status, clock) and the last result. The screen starts a job with `start()`
(the file, the prep and the backend come from the other panels); the job runs in a
thread worker of this panel that writes the history and posts JobUpdate, JobFailed
and CompareReady back. The panel shows them, keeps a failure's reason on screen, and
lets CompareReady bubble on to the screen, which opens the compare view.

An amount control lives here alone: its field in `compose`, its reading in `amounts`,
and the job takes the `Amounts`; its width is in deecho.tcss (`Input.amount`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, ProgressBar, Static
from textual.worker import get_current_worker

from deecho.audio.prep import PrepOptions
from deecho.errors import CancelledError, DeechoError, UsageError
from deecho.kinds import BackendKind, JobState
from deecho.tui import tasks
from deecho.tui.base import ReportsWorkerFailures, failure_line
from deecho.tui.messages import CompareReady, JobFailed, JobUpdate

if TYPE_CHECKING:
    from deecho.engine.report import Amounts
    from deecho.tui.batch_tally import BatchTally
    from deecho.tui.host import WorkspaceHost

__all__ = ["JobPanel", "JobResult"]


@dataclass(frozen=True)
class JobResult:
    """A finished job's result, and the file it was made from."""

    job_id: int
    original: Path
    outcome: tasks.CompareOutcome


class JobPanel(ReportsWorkerFailures, Vertical):
    """Send the prepped file, watch it, cancel it; keep how it ended."""

    def __init__(self, host: WorkspaceHost) -> None:
        super().__init__(id="job", classes="panel")
        self._host = host
        self.job_id: int | None = None
        self.status: tasks.JobStatus | None = None
        """The job's last status; a failed job's reason is its `stage`."""
        self.running = False
        self._started: float | None = None
        self._deadline: float | None = None
        self._original: Path | None = None
        self._backend = BackendKind.LOCAL
        self._credits_told = False
        self.result: JobResult | None = None
        """The last result, shown by the compare view (v)."""
        self._batch_tally: BatchTally | None = None
        """A folder's batch, shown while no single job runs."""

    def compose(self) -> ComposeResult:
        amounts = self._host.settings.engine.amounts  # how much to remove, 0..1
        with Horizontal(classes="row"):
            for name, value in (("Echo", amounts.echo), ("Reverb", amounts.reverb)):
                yield Label(name, classes="field-label")
                yield Input(f"{value:g}", id=f"{name.lower()}-amount", classes="amount")
        yield Static("No job yet: press p to process.", id="job-status")
        yield ProgressBar(total=1.0, show_eta=False, id="job-progress")
        yield Static("", id="job-detail")

    def on_mount(self) -> None:
        self.border_title = "Job"
        self.query_one("#job-progress", ProgressBar).display = False
        self.set_interval(0.5, self._tick)

    # -- starting ------------------------------------------------------------------------------

    def start(self, original: Path, options: PrepOptions, choice: BackendKind) -> None:
        """Send `original`, prepped by `options`, to the backend chosen; refuse (with a note)
        while a job runs or an amount is not a number from 0 to 1."""
        if self.running:
            self.notify("A job is running: wait for it or cancel it (c).", severity="warning")
            return
        try:
            amounts = self.amounts()
        except DeechoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self._batch_tally = None
        record = self._host.history.start(original, choice, _options_dict(options))
        self.job_id = record.id
        self.running = True
        self._started = time.monotonic()
        self._deadline = None
        self.status = tasks.JobStatus(JobState.PREPARING)
        bar = self.query_one("#job-progress", ProgressBar)
        bar.display = True
        bar.update(progress=0.0)
        self.query_one("#job-detail", Static).update("")
        self._render_job()
        self._original = original
        self._backend = choice
        self._credits_told = False
        workdir = record.workdir or Path(".")
        self._run_job(record.id, original, options, amounts, choice, workdir)

    def amounts(self) -> Amounts:
        """The echo and reverb amounts typed here, each 0..1."""
        from deecho.engine.report import Amounts

        values = []
        for name in ("echo", "reverb"):
            text = self.query_one(f"#{name}-amount", Input).value.strip()
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"{name} amount {text!r}: type a number from 0 to 1")
            values.append(value)
        return Amounts(echo=values[0], reverb=values[1])

    def show_batch(self, tally: BatchTally) -> None:
        """A folder's batch (run by the folder view): its count, audio time and ETA."""
        self._batch_tally = tally
        self._render_batch()

    def _render_batch(self) -> None:
        tally = self._batch_tally
        if tally is None:
            return
        self.query_one("#job-status", Static).update("\n".join(tally.lines(time.monotonic())))
        bar = self.query_one("#job-progress", ProgressBar)
        bar.display = True
        bar.update(progress=tally.fraction)
        if tally.stopping and tally.running:
            detail = "stopping: running files end or are dropped"
        elif tally.running:
            detail = "c stops; finished files are kept"
        else:
            detail = "the table shows how each file ended"
        detail_line = self.query_one("#job-detail", Static)
        detail_line.set_class(False, "failure")
        detail_line.update(detail)

    def forget_result(self) -> None:
        """Another file was opened: a finished result belongs to the file it came from
        (a running job's result still arrives, for its own file)."""
        if not self.running:
            self.result = None

    def cancel(self) -> None:
        if not self.running:
            self.notify("No job is running.", severity="information")
            return
        self.workers.cancel_group(self, "job")
        task_id = self.status.task_id if self.status else None
        self.status = tasks.JobStatus(JobState.CANCELLING, task_id=task_id)
        self._render_job()

    # -- the job, in its worker ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="job", exit_on_error=False)
    def _run_job(
        self,
        job_id: int,
        original: Path,
        options: PrepOptions,
        amounts: Amounts,
        choice: BackendKind,
        workdir: Path,
    ) -> None:
        worker = get_current_worker()
        history = self._host.history

        def cancelled() -> bool:
            return worker.is_cancelled

        recorded: dict[str, str | None] = {"status": None, "task_id": None}

        def on_status(status: tasks.JobStatus) -> None:
            # The history is written here, in the job's own thread, so a late message
            # can never put an older status over the final one.
            changes: dict[str, str] = {}
            if status.status in _TASK_STATUSES and status.status != recorded["status"]:
                changes["status"] = recorded["status"] = status.status
            if status.task_id and status.task_id != recorded["task_id"]:
                changes["task_id"] = recorded["task_id"] = status.task_id
            if changes:
                history.update(job_id, **changes)
            self.post_message(JobUpdate(job_id, status))

        try:
            backend = self._host.backend_for(choice)
            job = tasks.run_job(backend, original, options, amounts, workdir, on_status, cancelled)
            outcome = tasks.compare_job(job, workdir, cancelled, on_status)
        except CancelledError as exc:
            why = str(exc) or "cancelled; nothing was kept"
            history.update(job_id, status=JobState.CANCELLED, message=why)
            self.post_message(JobFailed(job_id, JobState.CANCELLED, f"Job cancelled: {why}."))
            return
        except DeechoError as exc:
            history.update(job_id, status=JobState.FAILED, message=str(exc))
            self.post_message(JobFailed(job_id, JobState.FAILED, failure_line(exc)))
            return
        except Exception as exc:
            history.update(job_id, status=JobState.ERROR, message=f"{type(exc).__name__}: {exc}")
            self.post_message(JobFailed(job_id, JobState.ERROR, failure_line(exc)))
            raise  # the worker-failure handler (deecho.tui.base) says it in a toast too
        history.update(
            job_id,
            status=JobState.COMPLETED,
            no_echo=outcome.no_echo,
            echo=outcome.echo,
            compare=tasks.history_entry(outcome),
            message="done",
        )
        self.post_message(CompareReady(job_id, outcome))

    # -- what it reports -----------------------------------------------------------------------

    @on(JobUpdate)
    def _job_update(self, message: JobUpdate) -> None:
        message.stop()
        if message.job_id != self.job_id:
            return
        self.status = message.status
        if message.status.eta_s is not None and message.status.eta_s >= 0:
            self._deadline = time.monotonic() + message.status.eta_s
        credits = message.status.credit_estimate
        if self._backend is BackendKind.MUSICGPT and credits is not None and not self._credits_told:
            self._credits_told = True
            self.notify(
                f"MusicGPT accepted the task: it spends about {credits:g} credits.",
                severity="warning",
                timeout=30,
            )
        bar = self.query_one("#job-progress", ProgressBar)
        if message.status.fraction is not None:
            bar.update(progress=max(0.0, min(1.0, message.status.fraction)))
        self._render_job()

    @on(JobFailed)
    def _job_failed(self, message: JobFailed) -> None:
        message.stop()
        if message.job_id != self.job_id:
            return
        self.running = False
        previous = self.status
        # The reason stays in the panel (the toast fades); the task id too, to look it up.
        self.status = tasks.JobStatus(
            message.status,
            task_id=previous.task_id if previous else None,
            stage=message.message,
        )
        self.query_one("#job-progress", ProgressBar).display = False
        self._render_job()
        if message.message and message.status is not JobState.ERROR:  # ERROR: the worker's toast
            cancelled = message.status is JobState.CANCELLED
            self.notify(message.message, severity="warning" if cancelled else "error", markup=False)

    @on(CompareReady)
    def _compare_ready(self, message: CompareReady) -> None:
        # Not stopped: it bubbles on to the screen, which opens the compare view.
        if message.job_id == self.job_id:
            self.running = False
            previous = self.status or tasks.JobStatus(JobState.COMPLETED)
            self.status = tasks.JobStatus(
                JobState.COMPLETED,
                task_id=previous.task_id,
                credit_estimate=previous.credit_estimate,
            )
            self.query_one("#job-progress", ProgressBar).update(progress=1.0)
            self._render_job()
        original = self._original if self._original is not None else message.outcome.prepped
        self.result = JobResult(message.job_id, original, message.outcome)

    def _tick(self) -> None:
        if self.running:
            self._render_job()
        elif self._batch_tally is not None and self._batch_tally.running:
            self._render_batch()  # the elapsed time and ETA move between files

    def _render_job(self) -> None:
        status = self.status
        if status is None:
            return
        now = time.monotonic()
        lines = [f"Job {self.job_id}  [b]{status.status}[/b]"]
        if status.task_id:  # the whole id is in the history (h)
            lines.append(f"task {escape(_short_id(status.task_id))}")
        timing = []
        if self._started is not None and self.running:
            timing.append(f"elapsed {_clock(now - self._started)}")
        if self.running and self._deadline is not None:
            left = self._deadline - now
            timing.append(f"ETA {_clock(left)}" if left > 0 else "ETA any moment")
        if status.credit_estimate is not None:
            timing.append(f"credit estimate {status.credit_estimate:g}")
        if timing:
            lines.append("  ".join(timing))
        self.query_one("#job-status", Static).update("\n".join(lines))
        detail = status.stage or ""
        if self.running:
            detail = f"{detail}  (c cancels)".strip()
        elif status.status is JobState.COMPLETED:
            detail = "v shows the comparison"
        detail_line = self.query_one("#job-detail", Static)
        detail_line.set_class(status.status in _FAILED, "failure")
        detail_line.update(escape(detail))


#: The API's statuses of a running task, worth keeping in the history as they change.
_TASK_STATUSES = frozenset({JobState.IN_QUEUE, JobState.IN_PROGRESS})
#: How a job ends without a result: its reason is drawn as a failure.
_FAILED = frozenset({JobState.FAILED, JobState.ERROR})


def _short_id(task_id: str) -> str:
    """Long task ids (UUIDs) shortened in the middle to fit the watch panel."""
    return task_id if len(task_id) <= 22 else f"{task_id[:10]}…{task_id[-8:]}"


def _clock(seconds: float) -> str:
    """Whole seconds as m:ss (h:mm:ss past an hour), for the elapsed and ETA counters."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _options_dict(options: PrepOptions) -> dict[str, Any]:
    return {key: value for key, value in vars(options).items() if value is not None}
