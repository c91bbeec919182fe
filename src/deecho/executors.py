"""Where many jobs run: one `concurrent.futures.Executor` seam for batch (and the server's shape).

Used by `deecho batch` and by the server's dispatcher (`server/runner.py`).

- a process pool on this machine (forkserver where the platform has it: the parent may
  hold threads, which fork would copy mid-lock);
- a Dask cluster's executor when a scheduler address is given
  (`distributed.Client(address).get_executor()`): its workers must see the same files;
- threads, for jobs that mostly wait on a remote backend.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from typing import Any

__all__ = ["Workers", "default_jobs", "open_workers"]

#: A fresh worker process after this many files keeps a slow leak in a decoder from piling up.
#: Not through the pool's `max_tasks_per_child`: measured here on CPython 3.11.7, 3.12.1 and
#: 3.13.0 (forkserver and spawn), a pool whose worker reaches that count hangs for good
#: (`deecho batch --jobs 1` stopped at file 100). Callers recycle the whole pool instead
#: (`deecho batch` opens a fresh one every `TASKS_PER_WORKER` files per worker).
TASKS_PER_WORKER = 100


def default_jobs() -> int:
    """The cores this process may use (its affinity where the platform says it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass
class Workers:
    """An executor and how to end it."""

    executor: Executor
    capacity: int
    dask_client: Any = None
    threads: bool = False
    _closed: bool = field(default=False, repr=False)

    def _processes(self) -> list[Any]:
        # The pool has no public way to reach its processes, hence _processes.
        return [p for p in getattr(self.executor, "_processes", {}).values() if p.is_alive()]

    def alive_pids(self) -> set[int]:
        """The local worker processes still alive (none for threads or Dask)."""
        return {process.pid for process in self._processes()}

    def ask_to_stop(self) -> None:
        """SIGTERM each local worker process: its job stops at the next block (see the
        worker's handler) and its writers remove their temporary files."""
        for process in self._processes():
            process.terminate()

    def stop_now(self) -> None:
        """Kill what is still running and drop what waits (after `ask_to_stop` had its time)."""
        for process in self._processes():
            process.kill()
        if self.dask_client is None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.dask_client is not None:
            self.executor.shutdown(wait=False)  # Dask's executor takes no cancel_futures
            self.dask_client.close()
        else:
            self.executor.shutdown(wait=True, cancel_futures=True)


def open_workers(
    jobs: int,
    scheduler_address: str | None = None,
    *,
    threads: bool = False,
    initializer: Callable[..., None] | None = None,
    initargs: Sequence[Any] = (),
    preload: Sequence[str] = (),
    tasks_per_worker: int | None = None,
) -> Workers:
    """`jobs` local processes (or threads), or a Dask cluster's workers."""
    if scheduler_address:
        from distributed import Client

        client = Client(scheduler_address)
        capacity = max(1, sum(client.nthreads().values()))
        return Workers(client.get_executor(), capacity, dask_client=client)
    if threads:
        return Workers(
            ThreadPoolExecutor(jobs, thread_name_prefix="deecho-job"), jobs, threads=True
        )
    context: BaseContext
    if "forkserver" in multiprocessing.get_all_start_methods():
        forkserver = multiprocessing.get_context("forkserver")
        if preload:
            # Imported once in the fork server, so each worker starts with them loaded.
            forkserver.set_forkserver_preload(list(preload))
        context = forkserver
    else:
        context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=initializer,
        initargs=tuple(initargs),
        # None unless asked: see TASKS_PER_WORKER.
        max_tasks_per_child=tasks_per_worker,
    )
    return Workers(pool, jobs)
