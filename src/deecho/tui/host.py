"""What the workspace's screens need from the application, as a type.

Screens are handed these services when they are built (`WorkspaceScreen(path, host=app)`,
`HistoryScreen(history)`, `CompareScreen(…, history=…)`) instead of reaching for the
concrete App, so no screen module imports `deecho.tui.app` and tests can pass their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from deecho.backends.base import Backend
    from deecho.config import Settings
    from deecho.history import History
    from deecho.kinds import BackendKind

__all__ = ["WorkspaceHost"]


class WorkspaceHost(Protocol):
    """The settings, the history and the backends the workspace works with."""

    settings: Settings
    history: History
    start_dir: Path
    """Where the file picker opens."""

    def initial_backend_choice(self) -> BackendKind:
        """The backend the workspace opens on."""
        ...

    def backend_for(self, choice: BackendKind) -> Backend:
        """The backend to run a job on (called from the job's worker thread)."""
        ...

    def remember_backend(self, choice: BackendKind) -> None:
        """Keep the choice in the settings file for next time."""
        ...

    def remember_server(self, url: str | None, api_key: str | None) -> None:
        """Keep the server's URL and key in the settings file for next time."""
        ...
