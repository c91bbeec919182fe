"""One fetch's allowance: bytes and seconds shared by every connection it makes.

A page fetched through yt-dlp opens many connections (the page, manifests,
each segment); the server's caps are for the whole recording, not for each
of them. The first refusal (a private address, the byte cap, the deadline)
is kept, so the task's reason names it rather than what yt-dlp made of it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from deecho.urls.policy import FetchError, UnsafeUrlError, cut_response

__all__ = ["FetchBudget"]


class FetchBudget:
    """Bytes left, a deadline, and the connections to cut when the deadline passes."""

    def __init__(
        self,
        max_bytes: int,
        timeout_s: float,
        used_bytes: int = 0,
        started_at: float | None = None,
    ) -> None:
        """`used_bytes` and `started_at` (time.monotonic) carry over a fetch already begun."""
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.used_bytes = used_bytes
        self.deadline = (time.monotonic() if started_at is None else started_at) + timeout_s
        self.refusal: FetchError | UnsafeUrlError | None = None
        self.connections = 0
        self._open: set[Any] = set()
        self._lock = threading.Lock()
        self._watchdog: threading.Timer | None = None

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def refuse(self, error: FetchError | UnsafeUrlError) -> FetchError | UnsafeUrlError:
        """Keep the first reason the fetch may not go on; later calls keep the first."""
        with self._lock:
            if self.refusal is None:
                self.refusal = error
            return self.refusal

    def too_big(self) -> FetchError:
        return FetchError(
            f"audio_url: the recording is larger than the {self.max_bytes} byte limit"
            " (all its pages, playlists and segments together)"
        )

    def too_slow(self) -> FetchError:
        return FetchError(
            f"audio_url: finding and downloading the recording took longer than"
            f" {self.timeout_s:g} s"
        )

    def check_open(self) -> None:
        """Raise the kept refusal, or a new one when the time or bytes are spent."""
        if self.refusal is None and time.monotonic() > self.deadline:
            self.refuse(self.too_slow())
        if self.refusal is None and self.used_bytes > self.max_bytes:
            self.refuse(self.too_big())
        if self.refusal is not None:
            raise self.refusal

    def count(self, received: int) -> None:
        with self._lock:
            self.used_bytes += received
        self.check_open()

    def expect(self, declared: int) -> None:
        """Refuse a body whose Content-Length alone would pass the cap, before reading it."""
        if self.used_bytes + declared > self.max_bytes:
            raise self.refuse(self.too_big())

    def track(self, response: Any) -> None:
        with self._lock:
            self.connections += 1
            self._open.add(response)

    def untrack(self, response: Any) -> None:
        with self._lock:
            self._open.discard(response)

    def start_watchdog(self) -> None:
        """At the deadline, cut every open connection: a dribbling server wakes no read timeout."""
        self._watchdog = threading.Timer(self.remaining_s(), self._cut_all)
        self._watchdog.daemon = True
        self._watchdog.start()

    def stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()

    def _cut_all(self) -> None:
        self.refuse(self.too_slow())
        with self._lock:
            open_now = list(self._open)
        for response in open_now:
            cut_response(response)
