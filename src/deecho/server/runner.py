"""Feed queued tasks from SQLite to worker processes and record how they end.

The queue is the database, not the executor: the dispatcher hands the
executor only as many tasks as it has workers, marking each IN_PROGRESS as it
goes, so IN_PROGRESS means running and a killed server loses nothing (its
restart re-queues what was running). Local worker processes by default; a
Dask cluster's executor when a scheduler address is configured.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from deecho.api.models import TaskStatus
from deecho.executors import open_workers
from deecho.server.config import ServerConfig
from deecho.server.jobs import JobOutcome, JobSpec, run_job, warm_up, worker_init
from deecho.server.store import StoredTask, TaskStore

__all__ = ["JobRunner"]

log = logging.getLogger("deecho.server")

#: Called with the task and its outcome when a task ends; records it (and queues the webhook).
Finisher = Callable[[StoredTask, JobOutcome], None]

#: A fresh worker process after this many tasks keeps a slow leak in a decoder from piling up.
TASKS_PER_WORKER = 50


class JobRunner:
    def __init__(self, store: TaskStore, config: ServerConfig, finish: Finisher) -> None:
        self.store = store
        self.config = config
        self._finish = finish
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, Future[JobOutcome]] = {}
        # Ends the database could not take (its disk full): retried until it can, so a task
        # never stays IN_PROGRESS for its client after the space is back.
        self._unrecorded: dict[str, tuple[StoredTask, JobOutcome]] = {}
        self._executor: Executor | None = None
        self._dask_client: Any = None
        self._capacity = max(1, config.workers)
        self._thread = threading.Thread(target=self._loop, name="deecho-dispatcher", daemon=True)
        self._last_sweep = 0.0

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._executor = self._make_executor()
        if isinstance(self._executor, ProcessPoolExecutor):
            # Start the workers now, not on the first submit: their imports take seconds of
            # CPU, which would otherwise land on the first task and on the requests beside it.
            for _ in range(self._capacity):
                self._executor.submit(warm_up)
        self._thread.start()

    def stop(self) -> None:
        """Stop taking tasks; running ones stay IN_PROGRESS and are re-queued at next start."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=5)
        if isinstance(self._executor, ProcessPoolExecutor):
            # Jobs in flight are re-run after the restart, so end them now rather than
            # wait minutes for them; the pool has no public way to, hence _processes.
            for process in list(getattr(self._executor, "_processes", {}).values()):
                process.terminate()
            self._executor.shutdown(wait=True, cancel_futures=True)
        elif self._executor is not None:
            self._executor.shutdown(wait=False)  # Dask's executor takes no cancel_futures
        if self._dask_client is not None:
            self._dask_client.close()

    def wake(self) -> None:
        """A task was queued: have the dispatcher claim it, if a worker is free to run it."""
        # With every worker busy the dispatcher can do nothing until a job ends, and _done
        # wakes it then (after freeing the slot, so a task queued meanwhile is not missed;
        # the 0.25 s poll backs that up). Waking it anyway cost each submit a thread wake-up
        # and a GIL hand-off on the event loop's thread: in a burst of 50 uploads on a busy
        # machine, py-spy found the loop thread in that wake in a quarter of its samples.
        if self.running < self._capacity:
            self._wake.set()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def _make_executor(self) -> Executor:
        workers = open_workers(
            self._capacity,
            self.config.scheduler_address,
            initializer=worker_init,
            initargs=(os.getpid(), self.config.worker_nice),
            tasks_per_worker=TASKS_PER_WORKER,
        )
        if workers.dask_client is not None:
            self._dask_client = workers.dask_client
            self._capacity = workers.capacity
        return workers.executor

    # --- dispatching -------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._record_unrecorded()
                self._fill()
                self._sweep_expired()
            except Exception:  # keep dispatching; a bad row must not stop the queue
                log.exception("dispatcher error")
            # Submits to other --http-workers processes cannot wake this thread: poll too.
            self._wake.wait(timeout=0.25)
            self._wake.clear()

    def _fill(self) -> None:
        while self.running < self._capacity and not self._stopping.is_set():
            task = self.store.claim_next()
            if task is None:
                return
            if task.attempts > self.config.max_attempts:
                self._record(
                    task,
                    JobOutcome(
                        TaskStatus.FAILED.value,
                        f"gave up after {self.config.max_attempts} interrupted runs: the worker"
                        " process died each time (out of memory, or killed); a shorter file"
                        " or a server with more memory may get through",
                    ),
                )
                continue
            self._submit(task)

    def _spec(self, task: StoredTask) -> JobSpec:
        return JobSpec(
            task_id=task.task_id,
            task_dir=str(self.task_dir(task.task_id)),
            input_path=task.input_path,
            audio_url=task.audio_url,
            max_duration_s=self.config.max_duration_s,
            fetch_max_bytes=self.config.fetch_cap_bytes,
            fetch_timeout_s=self.config.fetch_timeout_s,
            allow_private_urls=self.config.allow_private_urls,
            allow_loopback_urls=self.config.loopback_urls_allowed,
            echo_amount=task.echo_amount,
            reverb_amount=task.reverb_amount,
        )

    def task_dir(self, task_id: str) -> Path:
        return self.config.data_dir / "tasks" / task_id

    def _submit(self, task: StoredTask) -> None:
        assert self._executor is not None
        try:
            try:
                future = self._executor.submit(run_job, self._spec(task))
            except BrokenProcessPool:
                self._replace_pool()
                future = self._executor.submit(run_job, self._spec(task))
        except BaseException:
            # not handed over: back to the queue, so the claim does not strand it IN_PROGRESS
            self.store.update(task.task_id, status=TaskStatus.IN_QUEUE.value, message="Requeued")
            raise
        with self._lock:
            self._running[task.task_id] = future
        future.add_done_callback(lambda done: self._done(task, done))

    def _done(self, task: StoredTask, future: Future[JobOutcome]) -> None:
        with self._lock:
            self._running.pop(task.task_id, None)
        if self._stopping.is_set():
            return  # shutting down: the task stays IN_PROGRESS and is re-queued on restart
        try:
            outcome = future.result()
        except BrokenProcessPool:
            # A worker died (killed, out of memory): every task in flight lost its process.
            # Re-queue it; max_attempts ends a task that kills its worker every time.
            log.warning("worker process died; re-queueing %s", task.task_id)
            self._replace_pool()
            self.store.update(task.task_id, status=TaskStatus.IN_QUEUE.value, message="Requeued")
            self._wake.set()
            return
        except Exception as exc:  # e.g. a Dask worker lost
            outcome = JobOutcome(TaskStatus.ERROR.value, f"internal error: {exc}")
        self._record(task, outcome)
        self._wake.set()

    def _record(self, task: StoredTask, outcome: JobOutcome) -> None:
        """Record a task's end; one the database cannot take now is kept and retried."""
        try:
            self._finish(task, outcome)
        except Exception as exc:
            with self._lock:
                first = task.task_id not in self._unrecorded
                self._unrecorded[task.task_id] = (task, outcome)
            if first:
                log.error("could not record the end of %s (%s); will retry", task.task_id, exc)

    def _record_unrecorded(self) -> None:
        with self._lock:
            waiting = list(self._unrecorded.values())
            self._unrecorded.clear()
        for task, outcome in waiting:
            self._record(task, outcome)

    def _replace_pool(self) -> None:
        with self._lock:
            old = self._executor
            if not isinstance(old, ProcessPoolExecutor) or not getattr(old, "_broken", False):
                return  # another callback already replaced it (or it is Dask's, not ours)
            self._executor = self._make_executor()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    # --- retention ---------------------------------------------------------------------------

    def _sweep_expired(self) -> None:
        """Delete tasks (rows and files) that ended longer ago than the retention period."""
        now = time.time()
        # Every 10 minutes, or sooner when tasks are kept for less than 40 (tests, demos).
        if now - self._last_sweep < min(600.0, self.config.retention_s / 4):
            return
        self._last_sweep = now
        for task in self.store.expired_tasks(now - self.config.retention_s):
            shutil.rmtree(self.task_dir(task.task_id), ignore_errors=True)
            self.store.delete_task(task.task_id)
