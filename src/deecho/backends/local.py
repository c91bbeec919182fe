"""The built-in engine as a backend: in this process, no server, no key, no network.

`process` runs the engine straight away. `submit`/`status`/`download` give the
TUI the same task view as a remote backend: the job runs on a background
thread and `status` reports its stage and fraction done.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from deecho.backends.base import Cancelled, Progress, Submission, TaskState
from deecho.errors import BackendError

__all__ = ["LocalBackend"]


@dataclass
class _Job:
    output: Path
    future: Future[Path] | None = None
    fraction: float = 0.0
    stage: str = "queued"
    stop: threading.Event = field(default_factory=threading.Event)


class LocalBackend:
    """Echo removal by deecho's own engine, in-process."""

    name = "local"

    def __init__(self, strength: float = 1.0) -> None:
        self.strength = strength
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
        from deecho.pipeline import ProcessRequest, process_file

        target = workdir / "no_echo.wav"
        request = ProcessRequest(
            input=prepped_wav, output=target, strength=self.strength, overwrite=True
        )
        process_file(request, progress=progress, cancelled=cancelled)
        return target

    # ---- the task view, for the TUI ----------------------------------------------------------

    def submit(self, audio: Path, cancelled: Cancelled | None = None) -> Submission:
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

        job.future = self._executor.submit(self.process, audio, folder, note, stopped)
        return Submission(
            task_id=task_id,
            conversion_id=task_id,
            status="IN_QUEUE",
            eta_s=None,
            credit_estimate=0.0,
        )

    def status(self, task_id: str) -> TaskState:
        job = self._job(task_id)
        future = job.future
        if future is None or not future.done():
            status = "IN_PROGRESS" if job.fraction > 0 else "IN_QUEUE"
            return TaskState(task_id, status, job.stage, progress=job.fraction)
        error = future.exception()
        if error is not None:
            return TaskState(task_id, "FAILED", str(error), progress=job.fraction)
        url = job.output.as_uri()
        return TaskState(task_id, "COMPLETED", "done", no_echo_url=url, progress=1.0)

    def cancel(self, task_id: str) -> None:
        self._job(task_id).stop.set()

    def download(self, state: TaskState, workdir: Path, cancelled: Cancelled | None = None) -> Path:
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
