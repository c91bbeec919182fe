"""What every part of the workspace shares: the one place worker failures surface.

Textual delivers `Worker.StateChanged` only to the node that started the worker
(it does not bubble), so every screen and panel that starts workers takes this
handler from `ReportsWorkerFailures`, once.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.worker import Worker, WorkerState

from deecho.errors import DeechoError

__all__ = ["DeechoScreen", "ReportsWorkerFailures", "failure_line"]


def failure_line(error: BaseException | None) -> str:
    """One line for the user: our own errors say what to do; anything else is a bug."""
    if isinstance(error, DeechoError):
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    what = f"{type(error).__name__}: {error}" if error else "unknown error"
    what = " ".join(what.split())  # one line, whatever the exception's text holds
    return f"Internal error: {what}. Run `deecho --debug tui` and report it."


class ReportsWorkerFailures:
    """Mixed into a screen or a widget: a worker of its own that fails says so in one line.

    A plain method name, not `@on`: Textual collects `@on` handlers only from classes built
    by its metaclass, and this mixin is not one.
    """

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            event.worker.node.app.notify(
                failure_line(error),
                severity="error",
                timeout=10 if isinstance(error, DeechoError) else 15,
                markup=False,  # messages quote paths and values that may hold [brackets]
            )


class DeechoScreen(ReportsWorkerFailures, Screen[None]):
    """A workspace screen whose background workers report failures in one line."""
