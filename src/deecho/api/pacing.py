"""Pacing a client's calls: cancel checks, Retry-After, exponential backoff, cancellable sleeps.

Time is read and spent through the injectable `clock` and `sleep` functions, so
tests can check waits without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import requests

from deecho.errors import CancelledError

__all__ = ["CancelCheck", "Pacing", "is_cancelled", "retry_after_s"]

#: Something that says whether to stop: a function, or a threading.Event set by another thread.
CancelCheck = Callable[[], bool] | threading.Event
#: Longest slice of a wait between two looks at the cancel flag.
_CANCEL_CHECK_S = 0.2


def is_cancelled(cancelled: CancelCheck | None) -> bool:
    if cancelled is None:
        return False
    if isinstance(cancelled, threading.Event):
        return cancelled.is_set()
    return bool(cancelled())


def retry_after_s(response: requests.Response) -> float | None:
    """`Retry-After` in seconds, from either of its two forms (seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Pacing:
    """Backoff and cancellable pauses, for a client that sets these attributes."""

    backoff_base_s: float
    _sleep: Callable[[float], None]
    _clock: Callable[[], float]

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_base_s * 2 ** (attempt - 1), 60.0))

    def _pause(self, seconds: float, cancelled: CancelCheck | None) -> None:
        """Sleep `seconds`, looking at the cancel flag every fraction of a second."""
        end = self._clock() + max(0.0, seconds)
        while True:
            if is_cancelled(cancelled):
                raise CancelledError("cancelled while waiting for the server; nothing was written")
            left = end - self._clock()
            if left <= 0:
                return
            self._sleep(min(left, _CANCEL_CHECK_S))
