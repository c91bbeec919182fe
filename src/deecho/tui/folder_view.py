"""The folder view: a folder's audio files as `deecho batch` finds them, how each stands in
the output folder's state file, and the batch run over them.

A widget that owns the folder, its files and the run. Reading the folder (walking it,
reading each file's header, hashing it against the state file) and the batch itself run
in thread workers of this widget; the batch is `deecho.batch.BatchRun`, the same code
as `deecho batch`, and each file that ends updates its row. Its count goes up as
`FolderView.Progress` for the job panel to show. Stopping (c, or leaving the app) ends
the batch as Ctrl-C ends `deecho batch`: what finished is kept, nothing half-written.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from deecho.errors import DeechoError
from deecho.tui.base import ReportsWorkerFailures, failure_line
from deecho.tui.batch_tally import BatchTally, clock

if TYPE_CHECKING:
    from deecho.batch import BatchItem, BatchRun, BatchSettings, Outcome
    from deecho.batch.status import FileStatus

__all__ = ["FolderView", "default_outdir"]

#: Seconds leaving the app waits for a stopping batch (the batch gives its jobs 10 s).
_STOP_WAIT_S = 20.0


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr. Textual replaces
    sys.stderr while it runs by an object whose fileno() is -1, which the tracker would
    hand to its child process ("ValueError: bad value(s) in fds_to_keep"), and the batch's
    worker processes need the tracker. Once started, it serves the whole app."""
    from multiprocessing import resource_tracker

    captured = sys.stderr
    sys.stderr = sys.__stderr__
    try:
        resource_tracker.ensure_running()
    finally:
        sys.stderr = captured


def default_outdir(folder: Path) -> Path:
    """Beside the folder, not in it: `takes/` -> `takes-deecho/` (the input stays as it was)."""
    folder = folder.resolve()
    return folder.with_name(f"{folder.name}-deecho")


@dataclass(frozen=True)
class FolderFile:
    """One row: the batch's item, its length (None when its header would not read), status."""

    item: BatchItem
    duration_s: float | None
    status: FileStatus


def _style(status: FileStatus, name: str) -> Text:
    from deecho.batch.status import FileState

    text = status.state.value
    if status.reason:  # the row names the file already
        text += f": {status.reason.removeprefix(f'{name}: ')}"
    style = {
        FileState.DONE: "green",
        FileState.FAILED: "red",
        FileState.CHANGED: "yellow",
        FileState.NOT_AUDIO: "dim",
    }.get(status.state, "")
    return Text(" ".join(text.split()), style=style)  # a reason on one line


class FolderView(ReportsWorkerFailures, Vertical):
    """A folder's audio and how each file stands; runs the batch over them."""

    @dataclass
    class Read(Message):
        folder: Path
        files: list[FolderFile]

    @dataclass
    class FileEnded(Message):
        item: BatchItem
        outcome: Outcome

    @dataclass
    class BatchEnded(Message):
        stopped: bool
        error: str | None = None

    @dataclass
    class Progress(Message):
        """The run's count changed: for the job panel."""

        tally: BatchTally

    def __init__(self) -> None:
        super().__init__(id="folder", classes="panel")
        self.folder: Path | None = None
        self.outdir: Path | None = None
        self.files: list[FolderFile] = []
        self.tally: BatchTally | None = None
        self._batch: BatchRun | None = None
        self._batch_lock = threading.Lock()
        self._stop_asked = False
        self._finished = threading.Event()
        self._finished.set()

    def compose(self) -> ComposeResult:
        yield Static("", id="folder-info")
        table: DataTable[str | Text] = DataTable(id="folder-table", cursor_type="row")
        for label in ("File", "Length", "Status"):
            table.add_column(label, key=label.lower())
        yield table

    @property
    def running(self) -> bool:
        return not self._finished.is_set()

    # -- reading the folder ----------------------------------------------------------------

    def open(self, folder: Path, outdir: Path, settings: BatchSettings) -> None:
        """Show `folder`'s files and how each stands in `outdir` (read in a worker)."""
        self.folder, self.outdir, self.files = folder, outdir, []
        self.border_title = f"{folder.name}/"  # where results go: the header above says
        self.query_one("#folder-table", DataTable).clear()
        self._say(f"Reading {folder}…")
        self._read(folder, outdir, settings)

    @work(thread=True, exclusive=True, group="folder-read", exit_on_error=False)
    def _read(self, folder: Path, outdir: Path, settings: BatchSettings) -> None:
        from deecho.audio.io import probe
        from deecho.batch import find_items
        from deecho.batch.status import file_statuses

        kept: list[tuple[BatchItem, float | None]] = []
        for item in find_items([folder], outdir):
            try:
                duration: float | None = probe(item.input).duration_s
            except DeechoError:
                if not item.promises_audio:
                    continue  # notes.txt: not audio, and not named as audio either
                duration = None  # named as audio: its job will say why it does not read
            kept.append((item, duration))
        statuses = file_statuses([item for item, _ in kept], outdir, settings)
        files = [
            FolderFile(item, length, status)
            for (item, length), status in zip(kept, statuses, strict=True)
        ]
        self.post_message(self.Read(folder, files))

    @on(Read)
    def _shown(self, message: Read) -> None:
        message.stop()
        if message.folder != self.folder:
            return
        self.files = message.files
        table = self.query_one("#folder-table", DataTable)
        table.clear()
        for file in self.files:
            length = clock(file.duration_s) if file.duration_s is not None else "?"
            name = file.item.input.relative_to(message.folder).as_posix()
            table.add_row(
                name, length, _style(file.status, file.item.input.name), key=str(file.item.input)
            )
        self._say(self._summary())

    def _summary(self) -> str:
        if not self.files:
            return "No audio files in this folder: press o to choose another."
        counts: dict[str, int] = {}
        for file in self.files:
            counts[file.status.state.value] = counts.get(file.status.state.value, 0) + 1
        tally = ", ".join(f"{count} {state}" for state, count in counts.items())
        audio = sum(file.duration_s or 0.0 for file in self.files)
        return f"{len(self.files)} files, {clock(audio)} of audio: {tally}."

    def _say(self, text: str) -> None:
        self.query_one("#folder-info", Static).update(Text(text))

    # -- the batch -------------------------------------------------------------------------

    def run(self, settings: BatchSettings) -> None:
        """Run the batch on the files shown, with `settings` (the workspace's)."""
        if self.running:
            self.notify("The batch is running: wait for it or stop it (c).", severity="warning")
            return
        if self.outdir is None or not self.files:
            self.notify("No audio files to run: open a folder (o).", severity="warning")
            return
        audio = sum(file.duration_s or 0.0 for file in self.files)
        self.tally = BatchTally(total=len(self.files), audio_total_s=audio)
        self._stop_asked = False
        self._finished.clear()
        self._say(f"Running {len(self.files)} files into {self.outdir}…  c stops")
        self.post_message(self.Progress(self.tally))
        self._run_batch([file.item for file in self.files], self.outdir, settings)

    def stop(self) -> None:
        """Stop the batch as Ctrl-C stops `deecho batch`: running files end or are dropped."""
        if not self.running:
            self.notify("No batch is running.", severity="information")
            return
        with self._batch_lock:
            self._stop_asked = True
            if self._batch is not None:
                self._batch.stop()
        if self.tally is not None:
            self.tally.stopping = True
            self.post_message(self.Progress(self.tally))

    @work(thread=True, exclusive=True, group="batch", exit_on_error=False)
    def _run_batch(self, items: list[BatchItem], outdir: Path, settings: BatchSettings) -> None:
        from deecho.batch import BatchRun

        def ended(item: BatchItem, outcome: Outcome) -> None:
            self.post_message(self.FileEnded(item, outcome))

        try:
            _start_resource_tracker()
            with BatchRun(outdir, settings) as batch:
                with self._batch_lock:
                    self._batch = batch
                    if self._stop_asked:
                        batch.stop()
                batch.run(items, ended)
        except KeyboardInterrupt:  # stopped (c, or the app closing)
            self.post_message(self.BatchEnded(stopped=True))
        except Exception as exc:  # DeechoError: the output folder busy or not writable
            self.post_message(self.BatchEnded(stopped=False, error=failure_line(exc)))
        else:
            self.post_message(self.BatchEnded(stopped=False))
        finally:
            with self._batch_lock:
                self._batch = None
            self._finished.set()

    @on(FileEnded)
    def _file_ended(self, message: FileEnded) -> None:
        message.stop()
        from deecho.batch import BatchStatus
        from deecho.batch.status import FileState, status_of_outcome

        status = status_of_outcome(message.outcome, message.item)
        for number, file in enumerate(self.files):
            if file.item == message.item:
                if message.outcome.status is BatchStatus.SKIPPED and file.status.state in (
                    FileState.DONE,
                    FileState.FAILED,
                ):
                    status = file.status  # as read from the state file, in its own words
                self.files[number] = FolderFile(file.item, file.duration_s, status)
                table = self.query_one("#folder-table", DataTable)
                status_text = _style(status, file.item.input.name)
                table.update_cell(str(file.item.input), "status", status_text, update_width=True)
                if self.tally is not None:
                    self.tally.file_ended(
                        file.duration_s or 0.0,
                        worked=message.outcome.status is not BatchStatus.SKIPPED,
                        done=status.state is FileState.DONE,
                        failed=status.state is FileState.FAILED,
                    )
                    self.post_message(self.Progress(self.tally))
                return

    @on(BatchEnded)
    def _batch_ended(self, message: BatchEnded) -> None:
        message.stop()
        if self.tally is not None:
            self.tally.finish()
            self.post_message(self.Progress(self.tally))
        self._say(self._summary())
        if message.error:
            self.notify(message.error, severity="error", markup=False)
        elif message.stopped:
            self.notify("Batch stopped: the files that finished are kept; p does the rest.")
        elif self.tally is not None:
            done, failed = self.tally.done, self.tally.failed
            ended = f"Batch ended: {done} done, {failed} failed."
            self.notify(ended, severity="warning" if failed else "information", markup=False)

    def on_unmount(self) -> None:
        # Leaving the app mid-batch: stop it and wait, so no worker process outlives us.
        if self.running:
            with self._batch_lock:
                self._stop_asked = True
                if self._batch is not None:
                    self._batch.stop()
            self._finished.wait(_STOP_WAIT_S)
