"""What the workspace holds: the file the user chose, its prep, and the job and what came back.

The panels (prep, backend, job) are parts of one screen and share this state;
each panel's module adds its own handlers on top of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deecho.audio.io import AudioInfo
from deecho.audio.loudness import Levels
from deecho.kinds import BackendKind
from deecho.overview import Overview
from deecho.tui import tasks
from deecho.tui.base import DeechoScreen

if TYPE_CHECKING:
    from deecho.tui.host import WorkspaceHost

__all__ = ["WorkspaceState"]


class WorkspaceState(DeechoScreen):
    """The workspace screen's state, shared by its panels."""

    def __init__(self, path: Path | None = None, *, host: WorkspaceHost) -> None:
        super().__init__(id="workspace")
        self.deecho = host
        """The settings, history and backends this workspace works with."""
        self.initial_path = path
        self.path: Path | None = None
        self.info: AudioInfo | None = None
        self.levels: Levels | None = None
        self.preview: tasks.PrepPreview | None = None
        self.start_s: float | None = None
        self.end_s: float | None = None
        self.job_id: int | None = None
        self.job_status: tasks.JobStatus | None = None
        self.job_started: float | None = None
        self.job_deadline: float | None = None
        self.job_running = False
        self.outcome: tasks.CompareOutcome | None = None
        self.outcome_job_id: int | None = None
        self.job_original: Path | None = None
        self.outcome_original: Path | None = None
        self.original_overview: Overview | None = None
        self.show_sent = False
        self.job_backend = BackendKind.LOCAL
        self.credits_told = False
