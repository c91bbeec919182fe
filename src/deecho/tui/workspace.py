"""The workspace: open a file, see it, prep it, choose a backend, send it and watch.

The screen holds the open file (its header, levels and waveform) and composes three
panels, each a widget that owns its own state and talks by messages:

- `PrepPanel` (deecho.tui.prep_panel): the trim and the prep fields, and what they send;
  posts `PrepPanel.MarkersChanged` and `PrepPreviewed`;
- `BackendPanel` (deecho.tui.backend_panel): where the audio goes; `chosen()`;
- `JobPanel` (deecho.tui.job_panel): the amounts, the job and its result; its
  `CompareReady` bubbles up here, and the screen opens the compare view.

A folder chosen in the picker (or given on the command line) shows in `FolderView`
(deecho.tui.folder_view) in the waveform's place: its audio files and how each stands
in the output folder's batch state; p runs `deecho batch`'s code over them with the
panels' prep, amounts and backend, and the job panel counts the batch.

A link given in the picker is fetched by `DownloadLine` (deecho.tui.download_line),
whose `Downloaded` bubbles up here, and the screen opens the file.

The keys (deecho.tui.workspace_keys) stay on the screen, so they work wherever the
focus is; each action hands on to the panel that owns what it changes. Reading and
measuring the file run in thread workers that post messages back; nothing here blocks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Static
from textual.worker import get_current_worker

from deecho.audio.io import AudioInfo, probe
from deecho.audio.loudness import Levels
from deecho.errors import DeechoError
from deecho.overview import Overview, overview_of_file
from deecho.tui import tasks
from deecho.tui.backend_panel import BackendPanel
from deecho.tui.base import DeechoScreen
from deecho.tui.download_line import DownloadLine
from deecho.tui.folder_view import FolderView, default_outdir
from deecho.tui.job_panel import JobPanel
from deecho.tui.messages import (
    CompareReady,
    FileOpened,
    LevelsMeasured,
    OverviewReady,
    PrepPreviewed,
)
from deecho.tui.prep_panel import PrepPanel, describe_levels
from deecho.tui.waveform import Waveform, format_time
from deecho.tui.workspace_keys import WORKSPACE_BINDINGS

if TYPE_CHECKING:
    from deecho.batch import BatchSettings
    from deecho.tui.host import WorkspaceHost

__all__ = ["WorkspaceScreen"]


class WorkspaceScreen(DeechoScreen):
    """The main view: the file's waveform over the prep, backend and job panels."""

    BINDINGS: ClassVar[list[BindingType]] = WORKSPACE_BINDINGS

    def __init__(self, path: Path | None = None, *, host: WorkspaceHost) -> None:
        super().__init__(id="workspace")
        self.deecho = host
        """The settings, history and backends this workspace works with."""
        self.initial_path = path
        self.path: Path | None = None
        self.folder: Path | None = None
        """The folder open in the folder view (then no file is open)."""
        self.info: AudioInfo | None = None
        self.levels: Levels | None = None
        self.original_overview: Overview | None = None
        self.show_sent = False
        """The waveform shows what will be sent (w), not the original with its markers."""

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("No file open: press o to choose one.", id="info")
        yield DownloadLine()
        yield Waveform(id="wave")
        yield FolderView()
        with Horizontal(id="panels"):
            yield PrepPanel()
            yield BackendPanel(self.deecho)
            yield JobPanel(self.deecho)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#wave").border_title = "Waveform"
        self.query_one(Waveform).focus()
        self.folder_view.display = False
        if self.initial_path is not None and self.initial_path.is_dir():
            self.open_folder(self.initial_path)
        elif self.initial_path is not None:
            self.open_file(self.initial_path)

    @property
    def prep(self) -> PrepPanel:
        return self.query_one(PrepPanel)

    @property
    def backend(self) -> BackendPanel:
        return self.query_one(BackendPanel)

    @property
    def job(self) -> JobPanel:
        return self.query_one(JobPanel)

    @property
    def folder_view(self) -> FolderView:
        return self.query_one(FolderView)

    # -- keys, handed on to the panel that owns what they change ------------------------------

    def action_move_marker(self, which: str, direction: int) -> None:
        self.prep.move_marker(which, direction * self.query_one(Waveform).span_s / 100)

    def action_type_trim(self) -> None:
        self.prep.type_trim()

    def action_clear_trim(self) -> None:
        self.prep.clear_trim()

    def action_toggle_silence(self) -> None:
        self.prep.toggle_silence()

    def action_cycle_normalize(self) -> None:
        self.prep.cycle_normalize()

    def action_focus_waveform(self) -> None:
        self.query_one(Waveform).focus()

    def action_cycle_backend(self) -> None:
        self.backend.cycle()

    def action_cancel_job(self) -> None:
        if self.folder_view.running:
            self.folder_view.stop()
        else:
            self.job.cancel()

    def action_process(self) -> None:
        if self.folder is not None:
            self._run_batch()
            return
        if self.path is None or self.info is None:
            self.notify("Open a file first (press o).", severity="warning")
            return
        if self.job.running:
            self.notify("A job is running: wait for it or cancel it (c).", severity="warning")
            return
        try:
            options = self.prep.options()
            choice = self.backend.chosen()
        except DeechoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.job.start(self.path, options, choice)

    def _batch_settings(self) -> BatchSettings:
        """What the panels say, for every file of the folder (no file's own trim); raises
        DeechoError with a one-line reason."""
        from deecho.batch import BatchSettings
        from deecho.executors import default_jobs
        from deecho.kinds import BackendKind

        choice = self.backend.chosen()
        backend: str = choice.value
        if choice is BackendKind.SERVER:
            backend = self.deecho.settings.workspace.server_url or ""
        return BatchSettings(
            prep=dataclasses.replace(self.prep.options(), start_s=None, end_s=None),
            amounts=self.job.amounts(),
            backend=backend,
            jobs=default_jobs(),
        )

    def _run_batch(self) -> None:
        if self.job.running:
            self.notify("A job is running: wait for it or cancel it (c).", severity="warning")
            return
        try:
            settings = self._batch_settings()
        except DeechoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.folder_view.run(settings)

    @on(FolderView.Progress)
    def _batch_progress(self, message: FolderView.Progress) -> None:
        self.job.show_batch(message.tally)

    def action_show_compare(self) -> None:
        result = self.job.result
        if result is None:
            self.notify("No result yet: process the file first (p).", severity="information")
            return
        from deecho.tui.compare_view import CompareScreen

        history = self.deecho.history
        record = history.get(result.job_id)
        self.app.push_screen(CompareScreen(result.original, result.outcome, record, history))

    @on(CompareReady)
    def _compare_ready(self) -> None:
        # The job panel has kept the result on the way up; show it.
        self.action_show_compare()

    # -- opening -----------------------------------------------------------------------------

    def action_open(self) -> None:
        from deecho.tui.picker import FilePicker

        if self.folder_view.running:
            self.notify("The batch is running: wait for it or stop it (c).", severity="warning")
            return
        folder = self.path.parent if self.path else self.folder or self.deecho.start_dir
        self.app.push_screen(FilePicker(folder), self._picked)

    def _picked(self, chosen: Path | str | None) -> None:
        download = self.query_one(DownloadLine)
        if isinstance(chosen, str):  # a link: fetched into the workspace's downloads folder
            download.start(chosen, self.deecho.history.downloads_folder())
        elif chosen is not None and chosen.is_dir():
            self.open_folder(chosen)
        elif chosen is not None:
            download.forget()  # the file chosen wins over a link still downloading
            self.open_file(chosen)

    @on(DownloadLine.Downloaded)
    def _downloaded(self, message: DownloadLine.Downloaded) -> None:
        self.open_file(message.path)

    def open_folder(self, folder: Path) -> None:
        """Show a folder's audio files, in the waveform's place, and how each stands."""
        try:
            settings = self._batch_settings()
        except DeechoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.folder, self.path, self.info = Path(folder), None, None
        self.job.forget_result()
        outdir = default_outdir(self.folder)
        self.sub_title = str(self.folder)
        self.query_one("#info", Static).update(
            f"[b]{escape(self.folder.name)}/[/b]  results go to {escape(str(outdir))}\n"
            "p runs the batch (the panels' prep, amounts and backend); c stops it"
        )
        self.query_one(Waveform).display = False
        view = self.folder_view
        view.display = True
        view.open(self.folder, outdir, settings)
        view.query_one("#folder-table").focus()

    def open_file(self, path: Path) -> None:
        """Forget the current file and start reading another."""
        self.folder = None
        self.folder_view.display = False
        self.query_one(Waveform).display = True
        self.path = Path(path)
        self.info = None
        self.levels = None
        self.original_overview = None
        self.show_sent = False
        self.prep.show_file(self.path)
        self.job.forget_result()
        self.query_one("#info", Static).update(f"Opening {escape(self.path.name)}…")
        wave = self.query_one(Waveform)
        wave.set_overview(None)
        wave.set_markers(None, None)
        wave.border_title = self.path.name
        self._load(self.path)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self, path: Path) -> None:
        worker = get_current_worker()
        try:
            info = probe(path)
        except DeechoError:
            self.app.call_from_thread(self._show_open_failure, path)
            raise  # reported once, by the screen's worker-failure handler
        self.post_message(FileOpened(info))

        def show_partial(partial: Overview) -> None:
            self.post_message(OverviewReady(path, partial))

        overview = overview_of_file(
            path, on_partial=show_partial, cancelled=lambda: worker.is_cancelled
        )
        if overview is not None:
            self.post_message(OverviewReady(path, overview))

    def _show_open_failure(self, path: Path) -> None:
        self.query_one("#info", Static).update(
            f"[red]Cannot open {escape(path.name)}[/red]: press o to choose another file."
        )

    @work(thread=True, exclusive=True, group="measure", exit_on_error=False)
    def _measure(self, path: Path) -> None:
        worker = get_current_worker()
        levels = tasks.measure_file(path, cancelled=lambda: worker.is_cancelled)
        self.post_message(LevelsMeasured(path, levels))

    @on(FileOpened)
    def _file_opened(self, message: FileOpened) -> None:
        self.info = message.info
        self.sub_title = str(message.info.path)
        self.prep.file_read(message.info)
        self._show_info()

    @on(OverviewReady)
    def _overview_ready(self, message: OverviewReady) -> None:
        if message.path != self.path:
            return
        self.original_overview = message.overview
        if not self.show_sent:
            self.query_one(Waveform).set_overview(message.overview)
            self._mark(*self.prep.markers)
        if message.overview.complete and self.levels is None:
            # Loudness filtering is slower than the envelope: start it once the waveform
            # is on screen, so the two do not compete for the first frame.
            self.call_after_refresh(self._measure, message.path)

    @on(LevelsMeasured)
    def _levels_measured(self, message: LevelsMeasured) -> None:
        if message.path != self.path:
            return
        self.levels = message.levels
        self._show_info()
        self.prep.file_measured(message.levels, self.original_overview)

    def _show_info(self) -> None:
        info = self.info
        if info is None:
            return
        channels = {1: "mono", 2: "stereo"}.get(info.channels, f"{info.channels} ch")
        subtype = f" {info.subtype}" if info.subtype else ""
        self.query_one("#info", Static).update(
            f"[b]{escape(info.path.name)}[/b]  {info.format}{subtype}"
            f"  {format_time(info.duration_s, True)}"
            f"  {info.sample_rate} Hz  {channels}\n{describe_levels(self.levels)}"
        )

    # -- the waveform: the original with its trim, or what will be sent -------------------------

    @on(PrepPanel.MarkersChanged)
    def _markers_changed(self, message: PrepPanel.MarkersChanged) -> None:
        self._mark(message.start_s, message.end_s)

    def _mark(self, start_s: float | None, end_s: float | None) -> None:
        if not self.show_sent:  # the sent audio starts where the markers were
            self.query_one(Waveform).set_markers(start_s, end_s)

    @on(PrepPreviewed)
    def _prep_previewed(self) -> None:
        if self.show_sent:
            self._show_waveform()

    @on(Input.Submitted, "#start, #end")
    def _trim_entered(self) -> None:
        # The prep panel stops a time it cannot read; a good one gives the keys back.
        self.query_one(Waveform).focus()

    def action_toggle_sent(self) -> None:
        if self.prep.preview is None:
            self.notify("Nothing measured yet to show.", severity="information")
            return
        self.show_sent = not self.show_sent
        self._show_waveform()

    def _show_waveform(self) -> None:
        """The original with its trim markers, or what will be sent, on the original's scale
        (so a normalizing gain shows as a bigger or smaller waveform)."""
        wave = self.query_one(Waveform)
        name = self.path.name if self.path else ""
        preview = self.prep.preview
        if self.show_sent and preview is not None:
            wave.set_overview(preview.overview, scale_from=self.original_overview)
            wave.set_view(0.0, None)
            gain = f", {preview.gain_db:+.1f} dB" if preview.gain_db else ""
            wave.border_title = f"{name}: as sent ({preview.end_s - preview.start_s:.3f} s{gain})"
            wave.set_markers(None, None)
        else:
            wave.set_overview(self.original_overview)
            wave.set_view(0.0, None)
            wave.border_title = name
            self._mark(*self.prep.markers)
