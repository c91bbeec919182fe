"""One process per data folder runs the jobs and the webhooks; any number answer HTTP.

With `deecho serve --http-workers N`, uvicorn runs N processes on one socket,
all reading and writing the same SQLite file. The queue dispatcher and the
webhook sender must run exactly once, or tasks would start twice and webhooks
go out twice: the process holding an exclusive `flock` on
`DATA_DIR/leader.lock` runs them. The others wait for the lock in a thread,
so when the leader dies (the kernel drops its lock) one of them takes over,
re-queueing what the dead leader was running.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["Leadership"]

log = logging.getLogger("deecho.server")


class Leadership:
    def __init__(self, path: Path, elected: Callable[[], None]) -> None:
        self.path = path
        self._elected = elected
        self._lock = threading.Lock()
        self._stopping = False
        self._fd: int | None = None
        self.held = False

    def start(self) -> None:
        """Lead now if no other process does; otherwise wait for the lock in the background."""
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            threading.Thread(target=self._wait, name="deecho-leadership", daemon=True).start()
            return
        self._take()

    def _wait(self) -> None:
        assert self._fd is not None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:  # the descriptor was closed by stop()
            return
        log.warning("the job-running process is gone; this one takes over")
        self._take()

    def _take(self) -> None:
        with self._lock:
            if self._stopping:
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
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
