"""One process per data folder runs the jobs and the webhooks; any number answer HTTP.

With `deecho serve --http-workers N`, uvicorn runs N processes on one socket,
all reading and writing the same SQLite file. The queue dispatcher and the
webhook sender must run exactly once, or tasks would start twice and webhooks
go out twice: the process holding an exclusive lock on `DATA_DIR/leader.lock`
runs them. The lock is `filelock`'s, an OS lock (flock on POSIX, LockFileEx on
Windows) that the kernel drops when its holder dies. The others wait for it in
a thread, so when the leader dies one of them takes over, re-queueing what the
dead leader was running.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

__all__ = ["Leadership"]

log = logging.getLogger("deecho.server")

#: How long each wait for the lock lasts before looking whether to stop waiting.
_WAIT_SLICE_S = 0.5


class Leadership:
    def __init__(self, path: Path, elected: Callable[[], None]) -> None:
        self.path = path
        self._elected = elected
        self._lock = threading.Lock()
        self._stopping = False
        # Not thread-local: a waiting thread takes it and the serving thread lets it go.
        self._file_lock = FileLock(str(path), mode=0o600, thread_local=False)
        self.held = False

    def start(self) -> None:
        """Lead now if no other process does; otherwise wait for the lock in the background."""
        try:
            self._file_lock.acquire(timeout=0)
        except Timeout:
            threading.Thread(target=self._wait, name="deecho-leadership", daemon=True).start()
            return
        self._take()

    def _wait(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
            try:
                self._file_lock.acquire(timeout=_WAIT_SLICE_S)
            except Timeout:
                continue
            break
        log.warning("the job-running process is gone; this one takes over")
        self._take()

    def _take(self) -> None:
        with self._lock:
            if self._stopping:
                self._file_lock.release()
                return
            self.held = True
            self._elected()

    def stop(self, resign: Callable[[], None]) -> None:
        """Stop waiting; if leading, run `resign` (stop the runner) and release the lock."""
        with self._lock:
            self._stopping = True
            if self.held:
                resign()
                self.held = False
                self._file_lock.release()
