"""The workspace: open a file, see it, prep it, choose a backend, send it and watch.

The screen only holds what the user chose and what came back. Reading files,
measuring, prepping, sending and comparing run in thread workers (see
`deecho.tui.tasks`) that post messages back; nothing here blocks. This module
lays the screen out and opens files; the prep and job panels' handlers live in
deecho.tui.prep_panel and deecho.tui.job_panel (mixins of this screen, sharing its
state), the backend panel is a widget of its own (deecho.tui.backend_panel), the
keys are in deecho.tui.workspace_keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Footer, Header, Input, Label, ProgressBar, Select, Static
from textual.worker import get_current_worker

from deecho.audio.io import probe
from deecho.errors import DeechoError
from deecho.kinds import BackendKind
from deecho.overview import Overview, overview_of_file
from deecho.tui import tasks
from deecho.tui.backend_panel import BackendPanel
from deecho.tui.job_panel import JobPanel
from deecho.tui.messages import FileOpened, LevelsMeasured, OverviewReady
from deecho.tui.prep_panel import NORMALIZE_CHOICES, PrepPanel, describe_levels
from deecho.tui.waveform import Waveform, format_time
from deecho.tui.workspace_keys import WORKSPACE_BINDINGS

__all__ = ["WorkspaceScreen"]


class WorkspaceScreen(PrepPanel, JobPanel):
    """The main view: the file's waveform over the prep, backend and job panels."""

    BINDINGS: ClassVar[list[BindingType]] = WORKSPACE_BINDINGS

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("No file open: press o to choose one.", id="info")
        yield Waveform(id="wave")
        with Horizontal(id="panels"):
            with Vertical(id="prep", classes="panel"):
                with Horizontal(classes="row"):
                    yield Label("Start", classes="field-label")
                    yield Input(placeholder="0:00.000", id="start", classes="time")
                    yield Label("End", classes="field-label")
                    yield Input(placeholder="end", id="end", classes="time")
                with Horizontal(classes="row"):
                    yield Checkbox("Auto-trim silence below", id="silence")
                    yield Input("-50", id="silence-level", classes="level")
                    yield Label("dBFS", classes="unit")
                with Horizontal(classes="row"):
                    yield Select(NORMALIZE_CHOICES, value="off", allow_blank=False, id="normalize")
                    yield Input("-1.0", id="normalize-target", classes="level")
                yield Static("", id="prepped")
            yield BackendPanel(self.deecho)
            with Vertical(id="job", classes="panel"):
                amounts = self.deecho.settings.engine.amounts  # how much to remove, 0..1
                with Horizontal(classes="row"):
                    for name, value in (("Echo", amounts.echo), ("Reverb", amounts.reverb)):
                        yield Label(name, classes="field-label")
                        yield Input(f"{value:g}", id=f"{name.lower()}-amount", classes="amount")
                yield Static("No job yet: press p to process.", id="job-status")
                yield ProgressBar(total=1.0, show_eta=False, id="job-progress")
                yield Static("", id="job-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#prep").border_title = "Prep"
        self.query_one("#job").border_title = "Job"
        self.query_one("#wave").border_title = "Waveform"
        self.query_one("#job-progress", ProgressBar).display = False
        self.set_interval(0.5, self._tick)
        self.query_one(Waveform).focus()
        if self.initial_path is not None:
            self.open_file(self.initial_path)

    # -- the backend panel ------------------------------------------------------------------

    def backend_choice(self) -> BackendKind:
        return self.query_one(BackendPanel).choice

    def action_cycle_backend(self) -> None:
        self.query_one(BackendPanel).cycle()

    # -- opening -----------------------------------------------------------------------------

    def action_open(self) -> None:
        from deecho.tui.picker import FilePicker

        folder = self.path.parent if self.path else self.deecho.start_dir
        self.app.push_screen(FilePicker(folder), self._picked)

    def _picked(self, path: Path | None) -> None:
        if path is not None:
            self.open_file(path)

    def open_file(self, path: Path) -> None:
        """Forget the current file and start reading another."""
        self.path = Path(path)
        self.info = None
        self.levels = None
        self.preview = None
        self.start_s = self.end_s = None
        self.original_overview = None
        self.show_sent = False
        if not self.job_running:  # a finished result belongs to the file it came from
            self.outcome = None
            self.outcome_original = None
        self.query_one("#info", Static).update(f"Opening {escape(self.path.name)}…")
        wave = self.query_one(Waveform)
        wave.set_overview(None)
        wave.set_markers(None, None)
        wave.border_title = self.path.name
        for field in ("#start", "#end"):
            with self.query_one(field, Input).prevent(Input.Changed):
                self.query_one(field, Input).value = ""
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
        self._show_info()

    @on(OverviewReady)
    def _overview_ready(self, message: OverviewReady) -> None:
        if message.path != self.path:
            return
        self.original_overview = message.overview
        if not self.show_sent:
            self.query_one(Waveform).set_overview(message.overview)
        self._update_markers()
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
        self._schedule_preview()

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
