"""What every full screen of the workspace shares: the one place worker failures surface.

Textual delivers `Worker.StateChanged` only to the node that started the worker
(it does not bubble), so the handler lives on this base class, once.
"""

from __future__ import annotations

from textual import on
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from deecho.errors import DeechoError

__all__ = ["DeechoScreen", "failure_line"]


def failure_line(error: BaseException | None) -> str:
    """One line for the user: our own errors say what to do; anything else is a bug."""
    if isinstance(error, DeechoError):
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    what = f"{type(error).__name__}: {error}" if error else "unknown error"
    what = " ".join(what.split())  # one line, whatever the exception's text holds
    return f"Internal error: {what}. Run `deecho --debug tui` and report it."


class DeechoScreen(Screen[None]):
    """A workspace screen whose background workers report failures in one line."""

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                failure_line(error),
                severity="error",
                timeout=10 if isinstance(error, DeechoError) else 15,
                markup=False,  # messages quote paths and values that may hold [brackets]
            )
