"""The built-in engine as a backend: in this process, no server, no key, no network.

`process` runs the engine straight away. `submit`/`status`/`download` give the
TUI the same task view as a remote backend: the job runs on a background
thread and `status` reports its stage and fraction done.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from deecho.backends.base import Cancelled, Progress, Submission, TaskState
from deecho.errors import BackendError, CancelledError, DeechoError, TaskFailedError
from deecho.kinds import BackendKind, TaskStatus

if TYPE_CHECKING:
    from deecho.engine import Room
    from deecho.engine.report import Amounts, EngineReport

__all__ = ["LocalBackend"]


@dataclass
class _Job:
    output: Path
    future: Future[EngineReport] | None = None
    fraction: float = 0.0
    stage: str = "queued"
    stop: threading.Event = field(default_factory=threading.Event)


class LocalBackend:
    """Echo removal by deecho's own engine, in-process."""

    name = "local"
    kind = BackendKind.LOCAL
    honours_amounts = True
    #: The engine streams its output on the input's samples: nothing to measure.
    on_input_timeline = True
    #: How often `wait` reports the job's progress while it runs. The end itself is not
    #: polled for: `wait` wakes as the job's future completes (a fixed sleep cost 50 ms a
    #: job on average, a quarter of a 3 s clip's whole cost in `deecho batch`).
    poll_interval_s = 0.1

    def __init__(
        self, strength: float = 1.0, amounts: Amounts | None = None, room: Room | None = None
    ) -> None:
        from deecho.engine.report import Amounts

        self.amounts = amounts or Amounts.both(strength)
        self.room = room
        """One place's echo model (`deecho batch --same-room`) applied to every file."""
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._scratch: Path | None = None

    def process(
        self,
        prepped_wav: Path,
        workdir: Path,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> Path:
        target = workdir / "no_echo.wav"
        self._run(prepped_wav, target, self.amounts, progress, cancelled)
        return target

    def _run(
        self,
        prepped_wav: Path,
        target: Path,
        amounts: Amounts,
        progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> EngineReport:
        from deecho.pipeline import ProcessRequest, process_file

        request = ProcessRequest(
            input=prepped_wav, output=target, amounts=amounts, overwrite=True, room=self.room
        )
        return process_file(request, progress=progress, cancelled=cancelled).report

    # ---- the task view, for the TUI ----------------------------------------------------------

    def submit(
        self, audio: Path, cancelled: Cancelled | None = None, amounts: Amounts | None = None
    ) -> Submission:
        task_id = uuid.uuid4().hex
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="deecho-local")
                self._scratch = Path(tempfile.mkdtemp(prefix="deecho-local-"))
            assert self._scratch is not None
            folder = self._scratch / task_id
            folder.mkdir()
            job = _Job(output=folder / "no_echo.wav")
            self._jobs[task_id] = job

        def note(fraction: float, stage: str) -> None:
            job.fraction, job.stage = fraction, stage

        def stopped() -> bool:
            return job.stop.is_set() or (cancelled is not None and cancelled())

        job.future = self._executor.submit(
            self._run, audio, job.output, amounts or self.amounts, note, stopped
        )
        return Submission(
            task_id=task_id,
            conversion_id=task_id,
            status=TaskStatus.IN_QUEUE,
            eta_s=None,
            credit_estimate=None,
        )

    def status(self, task_id: str) -> TaskState:
        job = self._job(task_id)
        future = job.future
        if future is None or not future.done():
            status = TaskStatus.IN_PROGRESS if job.fraction > 0 else TaskStatus.IN_QUEUE
            return TaskState(task_id, status, job.stage, progress=job.fraction)
        error = future.exception()
        if error is not None:
            return TaskState(task_id, TaskStatus.FAILED, str(error), progress=job.fraction)
        url = job.output.as_uri()
        return TaskState(
            task_id,
            TaskStatus.COMPLETED,
            "done",
            no_echo_url=url,
            progress=1.0,
            report=future.result(),
        )

    def wait(
        self,
        task: Submission,
        on_state: Callable[[TaskState], None],
        cancelled: Cancelled | None = None,
    ) -> TaskState:
        while True:
            if cancelled is not None and cancelled():
                self.cancel(task.task_id)
                raise CancelledError("cancelled; nothing was kept")
            state = self.status(task.task_id)
            on_state(state)
            if state.done:
                break
            future = self._job(task.task_id).future
            if future is not None:
                futures.wait([future], timeout=self.poll_interval_s)
            else:
                time.sleep(self.poll_interval_s)
        if not state.succeeded:
            job_error = self._job(task.task_id).future
            error = job_error.exception() if job_error is not None else None
            if isinstance(error, CancelledError):
                raise CancelledError("cancelled; nothing was kept")
            if isinstance(error, DeechoError):
                raise error  # the engine's own words and exit status
            raise TaskFailedError(f"the local engine failed: {state.message}")
        return state

    def cancel(self, task_id: str) -> None:
        self._job(task_id).stop.set()

    def download(
        self,
        state: TaskState,
        workdir: Path,
        cancelled: Cancelled | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> Path:
        job = self._job(state.task_id)
        if not job.output.exists():
            raise BackendError(f"local task {state.task_id} has no result yet; wait for it")
        target = workdir / "no_echo.wav"
        shutil.move(job.output, target)
        return target

    def close(self) -> None:
        """Stop running jobs and remove their scratch files."""
        with self._lock:
            for job in self._jobs.values():
                job.stop.set()
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    def _job(self, task_id: str) -> _Job:
        with self._lock:
            job = self._jobs.get(task_id)
        if job is None:
            raise BackendError(f"no local task {task_id}; submit the file again")
        return job
