"""The job panel: send the prepped file to the backend, watch it, cancel it, see the result.

The job runs in a thread worker that writes the history and posts JobUpdate,
JobFailed and CompareReady back; nothing here blocks.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on, work
from textual.widgets import Input, ProgressBar, Static
from textual.worker import get_current_worker

from deecho.audio.prep import PrepOptions
from deecho.errors import CancelledError, DeechoError, UsageError
from deecho.kinds import BackendKind, JobState
from deecho.tui import tasks
from deecho.tui.backend_panel import BackendPanel
from deecho.tui.messages import CompareReady, JobFailed, JobUpdate
from deecho.tui.workspace_state import WorkspaceState

if TYPE_CHECKING:
    from deecho.engine.report import Amounts

__all__ = ["JobPanel"]


class JobPanel(WorkspaceState):
    """The workspace's job: process, watch, cancel, compare."""

    if TYPE_CHECKING:
        # The prep and backend panels' parts of the same screen (see WorkspaceScreen).
        def prep_options(self) -> PrepOptions: ...

        def backend_choice(self) -> BackendKind: ...

    def action_process(self) -> None:
        if self.path is None or self.info is None:
            self.notify("Open a file first (press o).", severity="warning")
            return
        if self.job_running:
            self.notify("A job is running: wait for it or cancel it (c).", severity="warning")
            return
        try:
            options = self.prep_options()
        except DeechoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        try:
            amounts = self._amounts()
        except DeechoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        choice = self.backend_choice()
        backend = self.query_one(BackendPanel)
        if choice is BackendKind.SERVER and not backend.server_url:
            self.notify("Type the deecho server's URL first.", severity="error")
            return
        backend.remember_server()
        record = self.deecho.history.start(self.path, choice, _options_dict(options))
        self.job_id = record.id
        self.job_running = True
        self.job_started = time.monotonic()
        self.job_deadline = None
        self.job_status = tasks.JobStatus(JobState.PREPARING)
        bar = self.query_one("#job-progress", ProgressBar)
        bar.display = True
        bar.update(progress=0.0)
        self.query_one("#job-detail", Static).update("")
        self._render_job()
        self.job_original = self.path
        self.job_backend = choice
        self.credits_told = False
        workdir = record.workdir or Path(".")
        self._run_job(record.id, self.path, options, amounts, choice, workdir)

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
        history = self.deecho.history

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
            backend = self.deecho.backend_for(choice)
            job = tasks.run_job(backend, original, options, amounts, workdir, on_status, cancelled)
            outcome = tasks.compare_job(job, workdir, cancelled)
        except CancelledError as exc:
            why = str(exc) or "cancelled; nothing was kept"
            history.update(job_id, status=JobState.CANCELLED, message=why)
            self.post_message(JobFailed(job_id, JobState.CANCELLED, f"Job cancelled: {why}."))
            return
        except DeechoError as exc:
            history.update(job_id, status=JobState.FAILED, message=str(exc))
            self.post_message(JobFailed(job_id, JobState.FAILED, str(exc)))
            return
        except Exception as exc:
            history.update(job_id, status=JobState.ERROR, message=f"{type(exc).__name__}: {exc}")
            self.post_message(JobFailed(job_id, JobState.ERROR, ""))
            raise  # the screen's Worker.StateChanged handler reports it in one line
        history.update(
            job_id,
            status=JobState.COMPLETED,
            no_echo=outcome.no_echo,
            echo=outcome.echo,
            compare=tasks.history_entry(outcome),
            message="done",
        )
        self.post_message(CompareReady(job_id, outcome))

    @on(JobUpdate)
    def _job_update(self, message: JobUpdate) -> None:
        if message.job_id != self.job_id:
            return
        self.job_status = message.status
        if message.status.eta_s is not None and message.status.eta_s >= 0:
            self.job_deadline = time.monotonic() + message.status.eta_s
        credits = message.status.credit_estimate
        if (
            self.job_backend is BackendKind.MUSICGPT
            and credits is not None
            and not self.credits_told
        ):
            self.credits_told = True
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
        if message.job_id != self.job_id:
            return
        self.job_running = False
        previous = self.job_status
        # The reason stays in the panel (the toast fades); the task id too, to look it up.
        self.job_status = tasks.JobStatus(
            message.status,
            task_id=previous.task_id if previous else None,
            stage=message.message,
        )
        self.query_one("#job-progress", ProgressBar).display = False
        self._render_job()
        if message.message:
            cancelled = message.status == JobState.CANCELLED
            self.notify(message.message, severity="warning" if cancelled else "error", markup=False)

    @on(CompareReady)
    def _compare_ready(self, message: CompareReady) -> None:
        if message.job_id == self.job_id:
            self.job_running = False
            previous = self.job_status or tasks.JobStatus(JobState.COMPLETED)
            self.job_status = tasks.JobStatus(
                JobState.COMPLETED,
                task_id=previous.task_id,
                credit_estimate=previous.credit_estimate,
            )
            self.query_one("#job-progress", ProgressBar).update(progress=1.0)
            self._render_job()
        self.outcome = message.outcome
        self.outcome_job_id = message.job_id
        if self.job_original is not None and message.job_id == self.job_id:
            self.outcome_original = self.job_original
        self.action_show_compare()

    def action_cancel_job(self) -> None:
        if not self.job_running:
            self.notify("No job is running.", severity="information")
            return
        self.workers.cancel_group(self, "job")
        self.job_status = tasks.JobStatus(
            JobState.CANCELLING, task_id=getattr(self.job_status, "task_id", None)
        )
        self._render_job()

    def _tick(self) -> None:
        if self.job_running:
            self._render_job()

    def _amounts(self) -> Amounts:
        """The echo and reverb amounts typed in the job panel, each 0..1."""
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

    def _render_job(self) -> None:
        status = self.job_status
        if status is None:
            return
        now = time.monotonic()
        lines = [f"Job {self.job_id}  [b]{status.status}[/b]"]
        if status.task_id:  # the whole id is in the history (h)
            lines.append(f"task {escape(_short_id(status.task_id))}")
        timing = []
        if self.job_started is not None and self.job_running:
            timing.append(f"elapsed {_clock(now - self.job_started)}")
        if self.job_running and self.job_deadline is not None:
            left = self.job_deadline - now
            timing.append(f"ETA {_clock(left)}" if left > 0 else "ETA any moment")
        if status.credit_estimate is not None:
            timing.append(f"credit estimate {status.credit_estimate:g}")
        if timing:
            lines.append("  ".join(timing))
        self.query_one("#job-status", Static).update("\n".join(lines))
        detail = status.stage or ""
        if self.job_running:
            detail = f"{detail}  (c cancels)".strip()
        elif status.status is JobState.COMPLETED:
            detail = "v shows the comparison"
        self.query_one("#job-detail", Static).update(escape(detail))

    def action_show_compare(self) -> None:
        original = self.outcome_original or self.path
        if self.outcome is None or original is None:
            self.notify("No result yet: process the file first (p).", severity="information")
            return
        from deecho.tui.compare_view import CompareScreen

        record = self.deecho.history.get(self.outcome_job_id) if self.outcome_job_id else None
        self.app.push_screen(CompareScreen(original, self.outcome, record, self.deecho.history))


#: The API's statuses of a running task, worth keeping in the history as they change.
_TASK_STATUSES = frozenset({JobState.IN_QUEUE, JobState.IN_PROGRESS})


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
