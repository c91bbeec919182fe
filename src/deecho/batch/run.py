"""One batch on one OUTDIR: the lock, the state file, the plan of what to do, the workers.

Outcomes are recorded in the parent (one SQLite writer) as each file ends, so what
finished is kept whatever happens next; a file's outputs appear atomically or not at all
(the job's writers), and a stopped worker's temporary files are swept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from deecho.batch import work
from deecho.batch.inputs import BatchItem
from deecho.batch.outcome import BatchStatus, Outcome
from deecho.batch.report import ReportFiles
from deecho.batch.settings import BatchSettings, output_key
from deecho.batch.state import BatchState, Record, RemoteTask, content_hash
from deecho.errors import EX_SOFTWARE, OutputError
from deecho.executors import TASKS_PER_WORKER, Workers, open_workers

__all__ = ["LOCK_FILE", "BatchRun", "BatchSettings", "output_key"]

LOCK_FILE = "deecho-batch.lock"
#: A file whose worker process died this many times is given up (it may be what kills it).
MAX_ATTEMPTS = 3
#: Pool breaks in a row with no job running in the dead worker, before the batch gives up.
MAX_BLAMELESS_BREAKS = 10
#: Modules the fork server imports once, so a worker does not pay for them per start.
_PRELOAD = ("deecho.batch.work", "deecho.backends.job", "deecho.backends.local")

#: Seconds the jobs running at Ctrl-C get to stop (or finish) before they are killed.
STOP_GRACE_S = 10.0

OnOutcome = Callable[[BatchItem, Outcome], None]


def _partials(folder: Path) -> Iterator[Path]:
    """Temporary files of our writers (`.take.<token>.partial.wav`) left by a killed worker."""
    if folder.is_dir():
        yield from folder.rglob(".*.partial.*")


@dataclass
class _Job:
    key: str
    item: BatchItem
    content: str | None
    settings: str
    overwrite: bool
    """Also true when the output does not exist yet: one that appears is then this batch's
    own (a worker killed after writing it), and the retry may replace it."""
    attempts: int = 0
    recorded: bool = False  # its outcome is in the state file (see `_round`)


class BatchRun:
    """`with BatchRun(outdir, settings) as batch: batch.run(items, on_outcome)`."""

    def __init__(self, outdir: Path, settings: BatchSettings, echo_dir: Path | None = None) -> None:
        self.outdir = outdir
        self.settings = settings
        self.echo_dir = echo_dir
        self._lock = FileLock(outdir / LOCK_FILE)
        self._state: BatchState | None = None
        self._workers: Workers | None = None
        self._notes: Path | None = None
        self._blameless_breaks = 0
        # Done by `stop()`: it wakes the wait for the next file, as Ctrl-C does in the CLI.
        self._stopping: Future[Outcome] = Future()
        self._stop_lock = threading.Lock()

    def stop(self) -> None:
        """From another thread (the workspace's): end `run()` as Ctrl-C would, keeping only
        whole files; `run()` then raises KeyboardInterrupt in its own thread."""
        with self._stop_lock:
            if not self._stopping.done():
                self._stopping.set_result(Outcome("", BatchStatus.SKIPPED))

    def _check_stop(self) -> None:
        if self._stopping.done():
            raise KeyboardInterrupt

    def __enter__(self) -> BatchRun:
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.outdir}: cannot create it ({exc.strerror})") from None
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise OutputError(
                f"{self.outdir}: another deecho batch is writing here; wait for it to end"
                " or choose another -o"
            ) from None
        self._state = BatchState(self.outdir)
        self._notes = Path(tempfile.mkdtemp(prefix="deecho-batch-notes-"))
        self._sweep()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._workers is not None:
            if error is not None:
                self._workers.stop_now()
            else:
                self._workers.close()
            self._workers = None
            self._sweep()
        if self._state is not None:
            self._state.close()
        if self._notes is not None:
            shutil.rmtree(self._notes, ignore_errors=True)
        self._lock.release()

    def _sweep(self) -> None:
        for folder in filter(None, (self.outdir, self.echo_dir)):
            for leftover in _partials(folder):
                leftover.unlink(missing_ok=True)

    # --- what to do ------------------------------------------------------------------------

    def _earlier(self, item: BatchItem, record: Record) -> Outcome | None:
        """The earlier run's outcome when it still stands, as this run's skip."""
        earlier = record.outcome
        if earlier.status is BatchStatus.DONE:
            outputs = filter(None, (item.output, item.echo_output))
            if all(path.exists() for path in outputs):
                return dataclasses.replace(
                    earlier, status=BatchStatus.SKIPPED, reason="done in an earlier run"
                )
            return None
        if earlier.status is BatchStatus.FAILED and not self.settings.retry_failed:
            reason = f"failed in an earlier run ({earlier.reason}); pass --retry-failed"
            return dataclasses.replace(earlier, status=BatchStatus.SKIPPED, reason=reason)
        if earlier.status is BatchStatus.SKIPPED:
            return earlier  # not audio then, and the same bytes now
        return None

    def _plan(self, items: list[BatchItem], on_outcome: OnOutcome) -> list[_Job]:
        assert self._state is not None
        jobs = []
        for item in items:
            self._check_stop()  # hashing a large folder takes a while
            content = content_hash(item.input)
            settings = self.settings.digest(item)
            key = output_key(self.outdir, item.output)
            record = self._state.lookup(key)
            if record is not None and record.matches(content, settings):
                skipped = self._earlier(item, record)
                if skipped is not None:
                    on_outcome(item, skipped)
                    continue
            # Replace an output only when this batch made it before (or with --force).
            fresh = not any(path.exists() for path in filter(None, (item.output, item.echo_output)))
            overwrite = self.settings.force or record is not None or fresh
            jobs.append(_Job(key, item, content, settings, overwrite))
        self._state.mark_started(
            [(job.key, job.item.input, job.content or "", job.settings) for job in jobs]
        )
        return jobs

    def _work(self, job: _Job) -> work.WorkItem:
        settings = self.settings
        return work.WorkItem(
            input=job.item.input,
            output=job.item.output,
            echo_output=job.item.echo_output,
            prep=settings.prep_for(job.item),
            amounts=settings.amounts,
            bit_depth=settings.bit_depth,
            overwrite=job.overwrite,
            backend=settings.backend,
            promises_audio=job.item.promises_audio,
            compare=settings.compare,
            remote_task=self._remote_task(job),
            room=settings.room,
        )

    def _remote_task(self, job: _Job) -> RemoteTask | None:
        """A remote backend's task is kept in the state file (its jobs run in our threads)."""
        if self.settings.backend == "local" or job.content is None:
            return None
        assert self._state is not None
        return RemoteTask(self._state.path, job.key, job.content, job.settings)

    # --- doing it --------------------------------------------------------------------------

    def _open_workers(self, count: int) -> Workers:
        settings = self.settings
        remote = settings.backend != "local"
        size = settings.concurrency if remote else settings.jobs
        return open_workers(
            max(1, min(size, count)),
            settings.scheduler,
            threads=remote and not settings.scheduler,
            initializer=work.worker_init,
            initargs=(os.getpid(), str(self._notes) if self._notes else None),
            preload=_PRELOAD,
        )

    def _finish(self, job: _Job, outcome: Outcome, on_outcome: OnOutcome) -> None:
        assert self._state is not None
        if job.recorded:
            return
        self._state.record(job.key, job.item.input, job.content or "", job.settings, outcome)
        job.recorded = True
        on_outcome(job.item, outcome)

    def _collect(
        self, future: Future[Outcome], job: _Job, lost: list[_Job], on_outcome: OnOutcome
    ) -> None:
        try:
            outcome = future.result()
        except BrokenProcessPool:
            lost.append(job)  # `_after_break` says whether it was to blame
            return
        except Exception as exc:  # a Dask worker lost, a result that would not pickle
            reason = f"its worker failed: {type(exc).__name__}: {exc}"
            outcome = Outcome(str(job.item.output), BatchStatus.FAILED, reason, EX_SOFTWARE)
        if outcome.exit_code == work.STOPPED_CODE:
            return  # stopped by us: not an end, the next run does it
        self._finish(job, outcome, on_outcome)

    def _stop(self, futures: dict[Future[Outcome], _Job], on_outcome: OnOutcome) -> None:
        """Ctrl-C: drop what waits, stop what runs, and record what still finished."""
        assert self._workers is not None
        for future in futures:
            future.cancel()
        work.stop_jobs_here()  # a remote backend's jobs run in our threads
        self._workers.ask_to_stop()
        running = [future for future in futures if not future.cancelled()]
        finished, _ = wait(running, timeout=STOP_GRACE_S)
        for future in finished:
            with contextlib.suppress(CancelledError):
                self._collect(future, futures[future], [], on_outcome)

    def _round(self, jobs: list[_Job], on_outcome: OnOutcome) -> list[_Job]:
        """Run `jobs` once; return those whose worker process died under them."""
        self._check_stop()
        if self._workers is None:
            self._workers = self._open_workers(len(jobs))
        executor = self._workers.executor
        futures: dict[Future[Outcome], _Job] = {}
        lost: list[_Job] = []
        for number, job in enumerate(jobs):
            try:
                futures[executor.submit(work.run_item, self._work(job))] = job
            except BrokenProcessPool:  # a worker died while the rest were handed over
                lost += jobs[number:]
                break
        try:
            # `_stopping` (stop()) never completes on its own: leave once all are collected.
            for future in as_completed([*futures, self._stopping]) if futures else ():
                if future is self._stopping:
                    raise KeyboardInterrupt
                # Dropped from `futures` only once collected: a Ctrl-C while its outcome
                # is being recorded leaves it to `_stop`, which records it (once: see
                # `_finish`), so a file that was written is never left out of the state.
                self._collect(future, futures[future], lost, on_outcome)
                del futures[future]
                if not futures:
                    break
        except KeyboardInterrupt:
            self._stop(futures, on_outcome)  # those not collected yet
            raise
        if lost:
            lost = self._after_break(lost, on_outcome)
        return lost

    def _after_break(self, lost: list[_Job], on_outcome: OnOutcome) -> list[_Job]:
        """A worker process died and the pool with it: every file in flight lost its
        future, not only the one that was running there. The workers' notes say which
        jobs still ended (recorded, not run again), which was running in a dead process
        (charged with the death) and which never began (run again, not charged)."""
        assert self._workers is not None and self._notes is not None
        notes = self._notes_when_settled()
        by_output = {str(job.item.output): job for job in lost}
        again = []
        for output, job in by_output.items():
            pid, outcome = notes.get(output, (None, None))
            if outcome is not None and outcome.exit_code != work.STOPPED_CODE:
                self._finish(job, outcome, on_outcome)
                continue
            if pid is not None and outcome is None:
                job.attempts += 1  # it was running in the process that died
            again.append(job)
        if any(pid is not None and outcome is None for pid, outcome in notes.values()):
            self._blameless_breaks = 0
        else:
            # A worker died between jobs. When they keep dying so, before any job
            # (a broken install?), charge all, so that this ends.
            self._blameless_breaks += 1
            if self._blameless_breaks > MAX_BLAMELESS_BREAKS:
                for job in again:
                    job.attempts = MAX_ATTEMPTS
        self._workers.stop_now()
        self._workers = None
        self._sweep()
        for note in self._notes.iterdir():
            note.unlink(missing_ok=True)
        return again

    def _notes_when_settled(self) -> dict[str, tuple[int, Outcome | None]]:
        """The notes once every job still running lives only in a dead process: the pool
        asked the others to stop (SIGTERM), and they end their jobs at the next block."""
        assert self._workers is not None and self._notes is not None
        deadline = time.monotonic() + STOP_GRACE_S
        while True:
            notes = work.read_notes(self._notes)
            alive = self._workers.alive_pids()
            running = {pid for pid, outcome in notes.values() if outcome is None}
            if not running & alive or time.monotonic() > deadline:
                return notes
            time.sleep(0.05)

    def run(self, items: list[BatchItem], on_outcome: OnOutcome) -> None:
        """Each file once (or skipped); `on_outcome` hears of each as it ends, and the
        report files in OUTDIR get its row."""
        with ReportFiles(self.outdir) as report:

            def ended(item: BatchItem, outcome: Outcome) -> None:
                report.add(item.input, outcome)
                on_outcome(item, outcome)

            self._run(items, ended)

    def _chunk(self) -> int:
        """Files per pool: a fresh pool of worker processes after TASKS_PER_WORKER files
        each (see deecho.executors), so a slow leak cannot pile up over a long batch."""
        if self.settings.scheduler or self.settings.backend != "local":
            return 1 << 30  # Dask's workers and our threads are not ours to recycle
        return TASKS_PER_WORKER * max(1, self.settings.jobs)

    def _run(self, items: list[BatchItem], on_outcome: OnOutcome) -> None:
        jobs = self._plan(items, on_outcome)
        size = self._chunk()
        while jobs:
            lost = []
            for start in range(0, len(jobs), size):
                lost += self._round(jobs[start : start + size], on_outcome)
                if start + size < len(jobs) and self._workers is not None:
                    self._workers.close()
                    self._workers = None
            jobs = []
            for job in lost:
                if job.attempts >= MAX_ATTEMPTS:
                    reason = f"its worker process died {job.attempts} times (out of memory?)"
                    outcome = Outcome(str(job.item.output), BatchStatus.FAILED, reason, 70)
                    self._finish(job, outcome, on_outcome)
                else:
                    jobs.append(job)
