"""The download line: a link chosen in the picker, fetched with its progress, and how it ended.

A widget of the workspace that owns one download at a time: `start(url, folder)` runs
`tasks.download_link` in a thread worker, which posts `DownloadProgress` and
`DownloadFailed` back here; a finished download posts `DownloadLine.Downloaded`, which
bubbles to the screen, and the screen opens the file. The line is hidden while idle; a
failure's reason stays on it (the toast fades) until the next file or link is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from deecho.tui import tasks
from deecho.tui.base import ReportsWorkerFailures, failure_line
from deecho.tui.messages import DownloadFailed, DownloadProgress

__all__ = ["DownloadLine"]


class DownloadLine(ReportsWorkerFailures, Static):
    """One line under the file's header: the download's stage and percent, or why it failed."""

    @dataclass
    class Downloaded(Message):
        """The link's recording is on disk at `path`."""

        url: str
        path: Path

    def __init__(self) -> None:
        super().__init__("", id="download")
        self.url: str | None = None
        """The link being fetched, or the last one."""
        self.running = False
        self.failure: str | None = None
        """Why the last download failed, as the line shows it; None when it did not."""

    def on_mount(self) -> None:
        self.display = False

    def start(self, url: str, folder: Path) -> None:
        """Fetch `url` into `folder`; a download still running is dropped for this one."""
        self.url, self.running, self.failure = url, True, None
        self.remove_class("failure")
        self.display = True
        self._show_progress(0.0, "connecting")
        self._fetch(url, folder)

    def forget(self) -> None:
        """Stop a running download and hide the line (another file was chosen)."""
        self.workers.cancel_group(self, "download")
        self.url, self.running, self.failure = None, False, None
        self.display = False

    @work(thread=True, exclusive=True, group="download", exit_on_error=False)
    def _fetch(self, url: str, folder: Path) -> None:
        worker = get_current_worker()

        def progress(fraction: float, stage: str) -> None:
            self.post_message(DownloadProgress(url, fraction, stage))

        try:
            path = tasks.download_link(url, folder, progress, lambda: worker.is_cancelled)
        except Exception as exc:  # every failure is a line on screen, never a traceback
            if not worker.is_cancelled:
                self.post_message(DownloadFailed(url, failure_line(exc)))
            return
        if not worker.is_cancelled:
            self.post_message(self.Downloaded(url, path))

    @on(DownloadProgress)
    def _progress(self, message: DownloadProgress) -> None:
        message.stop()
        if self.running and message.url == self.url:
            self._show_progress(message.fraction, message.stage)

    @on(DownloadFailed)
    def _failed(self, message: DownloadFailed) -> None:
        message.stop()
        if message.url != self.url:
            return
        self.running, self.failure = False, message.reason
        self.add_class("failure")
        self.update(f"[b]Download failed[/b]: {escape(message.reason)}  (o to try another link)")
        self.notify(message.reason, severity="error", markup=False)

    @on(Downloaded)
    def _downloaded(self, message: Downloaded) -> None:
        # Not stopped: it bubbles on to the screen, which opens the file.
        if message.url == self.url:
            self.running = False
            self.display = False

    def _show_progress(self, fraction: float, stage: str) -> None:
        percent = max(0, min(100, int(fraction * 100)))
        self.update(f"Downloading {escape(self.url or '')}  {escape(stage)}  {percent:3d} %")
