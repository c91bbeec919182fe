"""The workspace: open a file, see it, prep it, choose a backend, send it and watch.

The screen only holds what the user chose and what came back. Reading files,
measuring, prepping, sending and comparing run in thread workers (see
`deecho.tui.tasks`) that post messages back; nothing here blocks.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Footer, Header, Input, Label, ProgressBar, Select, Static
from textual.worker import get_current_worker

from deecho.audio.io import AudioInfo, probe
from deecho.audio.loudness import Levels
from deecho.audio.prep import PrepOptions, parse_time
from deecho.errors import CancelledError, DeechoError, UsageError
from deecho.overview import Overview, overview_of_file
from deecho.tui import tasks
from deecho.tui.base import DeechoScreen
from deecho.tui.messages import (
    CompareReady,
    FileOpened,
    JobFailed,
    JobUpdate,
    LevelsMeasured,
    OverviewReady,
    PrepPreviewed,
)
from deecho.tui.waveform import Waveform, format_time

if TYPE_CHECKING:
    from deecho.tui.app import DeechoApp

__all__ = ["BACKEND_CHOICES", "WorkspaceScreen"]

BACKEND_CHOICES = [
    ("Local engine", "local"),
    ("deecho server", "server"),
    ("MusicGPT (credits)", "musicgpt"),
]
NORMALIZE_CHOICES = [("No normalizing", "off"), ("Peak dBFS", "peak"), ("Loudness LUFS", "lufs")]
_DEFAULT_TARGETS = {"peak": "-1.0", "lufs": "-16.0"}
_CREDITS_WARNING = (
    "MusicGPT runs on the vendor's servers and spends credits from your account on every job;"
    " the credit estimate shows here once it accepts the task."
)


def _db(value: float | None, unit: str) -> str:
    if value is None or value <= -150:
        return f"-inf {unit}" if value is not None else "–"
    return f"{value:.1f} {unit}"


def describe_levels(levels: Levels | None) -> str:
    if levels is None:
        return "measuring peak, RMS and loudness…"
    return (
        f"peak {_db(levels.peak_dbfs, 'dBFS')}  RMS {_db(levels.rms_dbfs, 'dBFS')}"
        f"  {_db(levels.loudness_lufs, 'LUFS')}"
    )


class WorkspaceScreen(DeechoScreen):
    """The main view."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open", "Open", id="open", tooltip="Choose an audio file to work on"),
        Binding(
            "left_square_bracket",
            "move_marker('start', -1)",
            "Start ◂",
            id="start_earlier",
            show=False,
            tooltip="Move the trim start marker earlier (1% of the view)",
        ),
        Binding(
            "right_square_bracket",
            "move_marker('start', 1)",
            "Start ▸",
            id="start_later",
            show=False,
            tooltip="Move the trim start marker later (1% of the view)",
        ),
        Binding(
            "left_curly_bracket",
            "move_marker('end', -1)",
            "End ◂",
            id="end_earlier",
            show=False,
            tooltip="Move the trim end marker earlier (1% of the view)",
        ),
        Binding(
            "right_curly_bracket",
            "move_marker('end', 1)",
            "End ▸",
            id="end_later",
            show=False,
            tooltip="Move the trim end marker later (1% of the view)",
        ),
        Binding(
            "w",
            "toggle_sent",
            "Sent/original",
            id="toggle_sent",
            show=False,
            tooltip="Show the waveform as it will be sent (trimmed, normalized) or the original",
        ),
        Binding(
            "t", "type_trim", "Type trim", id="type_trim", show=False, tooltip="Type the trim times"
        ),
        Binding(
            "x",
            "clear_trim",
            "Clear trim",
            id="clear_trim",
            show=False,
            tooltip="Keep the whole file",
        ),
        Binding(
            "a",
            "toggle_silence",
            "Auto-trim",
            id="auto_trim",
            tooltip="Trim leading and trailing silence below the level given",
        ),
        Binding(
            "n",
            "cycle_normalize",
            "Normalize",
            id="normalize",
            tooltip="Cycle normalizing: off, to a peak in dBFS, to a loudness in LUFS",
        ),
        Binding(
            "b",
            "cycle_backend",
            "Backend",
            id="backend",
            tooltip="Cycle the backend: local engine, deecho server, MusicGPT",
        ),
        Binding(
            "p",
            "process",
            "Process",
            id="process",
            tooltip="Prep the file and send it to the backend to remove the echo",
        ),
        Binding(
            "c", "cancel_job", "Cancel", id="cancel", tooltip="Cancel the running job; keep nothing"
        ),
        Binding(
            "v",
            "show_compare",
            "Compare",
            id="compare",
            tooltip="Show the last result aligned on the original",
        ),
        Binding(
            "escape",
            "focus_waveform",
            "Waveform",
            id="focus_waveform",
            show=False,
            tooltip="Leave a field and give the keys back to the waveform",
        ),
    ]

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(id="workspace")
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
        self.job_backend = "local"
        self.credits_told = False

    @property
    def deecho(self) -> DeechoApp:
        from deecho.tui.app import DeechoApp

        assert isinstance(self.app, DeechoApp)
        return self.app

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
            with Vertical(id="backend", classes="panel"):
                yield Select(BACKEND_CHOICES, value="local", allow_blank=False, id="backend-choice")
                yield Input(placeholder="http://127.0.0.1:8000", id="server-url")
                yield Input(
                    placeholder="API key (kept in settings)",
                    password=True,
                    id="server-key",
                )
                yield Static("", id="backend-note")
            with Vertical(id="job", classes="panel"):
                yield Static("No job yet: press p to process.", id="job-status")
                yield ProgressBar(total=1.0, show_eta=False, id="job-progress")
                yield Static("", id="job-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#prep").border_title = "Prep"
        self.query_one("#backend").border_title = "Backend"
        self.query_one("#job").border_title = "Job"
        self.query_one("#wave").border_title = "Waveform"
        settings = self.deecho.settings.workspace
        choice = self.deecho.initial_backend_choice()
        self.query_one("#backend-choice", Select).value = choice
        self.query_one("#server-url", Input).value = settings.server_url or ""
        if settings.server_api_key is not None:
            self.query_one("#server-key", Input).value = settings.server_api_key.get_secret_value()
        self._show_backend_note(choice)
        self.query_one("#job-progress", ProgressBar).display = False
        self.set_interval(0.5, self._tick)
        self.query_one(Waveform).focus()
        if self.initial_path is not None:
            self.open_file(self.initial_path)

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

    # -- prep --------------------------------------------------------------------------------

    def prep_options(self) -> PrepOptions:
        """The prep the fields describe; raises UsageError with a one-line reason."""
        silence = None
        if self.query_one("#silence", Checkbox).value:
            silence = self._number("#silence-level", "silence level")
        mode = self.query_one("#normalize", Select).value
        peak = lufs = None
        if mode == "peak":
            peak = self._number("#normalize-target", "peak target")
        elif mode == "lufs":
            lufs = self._number("#normalize-target", "loudness target")
        return PrepOptions(
            start_s=self.start_s,
            end_s=self.end_s,
            trim_silence_dbfs=silence,
            normalize_peak_dbfs=peak,
            normalize_lufs=lufs,
        )

    def _number(self, selector: str, what: str) -> float:
        text = self.query_one(selector, Input).value.strip()
        try:
            return float(text)
        except ValueError:
            raise UsageError(f"{what} {text!r}: type a number, e.g. -1.0") from None

    def _update_markers(self) -> None:
        if self.show_sent:
            return  # the sent audio starts where the markers were
        wave = self.query_one(Waveform)
        start, end = self.start_s, self.end_s
        if self.preview is not None and self.preview.options.trim_silence_dbfs is not None:
            start, end = self.preview.start_s, self.preview.end_s  # where auto-trim cut
        wave.set_markers(start, end)

    def _set_trim(self, start_s: float | None, end_s: float | None) -> None:
        duration = self.info.duration_s if self.info else None
        if start_s is not None:
            start_s = max(0.0, start_s)
        if end_s is not None and duration is not None and end_s >= duration:
            end_s = None
        self.start_s, self.end_s = start_s, end_s
        for selector, value in (("#start", start_s), ("#end", end_s)):
            field = self.query_one(selector, Input)
            with field.prevent(Input.Changed):
                field.value = "" if value is None else format_time(value, precise=True)
        self._update_markers()
        self._schedule_preview()

    def action_move_marker(self, which: str, direction: int) -> None:
        if self.info is None:
            return
        wave = self.query_one(Waveform)
        step = direction * wave.span_s / 100
        if which == "start":
            self._set_trim((self.start_s or 0.0) + step, self.end_s)
        else:
            end = self.end_s if self.end_s is not None else self.info.duration_s
            self._set_trim(self.start_s, end + step)

    def action_type_trim(self) -> None:
        self.query_one("#start", Input).focus()

    def action_clear_trim(self) -> None:
        self._set_trim(None, None)

    def action_focus_waveform(self) -> None:
        self.query_one(Waveform).focus()

    @on(Input.Changed, "#start, #end")
    def _trim_typed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        try:
            value = parse_time(text) if text else None
        except DeechoError:
            return  # still typing; the field's own check shows on submit
        if event.input.id == "start":
            self.start_s = value
        else:
            self.end_s = value
        self._update_markers()
        self._schedule_preview()

    @on(Input.Submitted, "#start, #end")
    def _trim_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            parse_time(text) if text else None
        except DeechoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.query_one(Waveform).focus()

    def action_toggle_silence(self) -> None:
        box = self.query_one("#silence", Checkbox)
        box.value = not box.value

    def action_cycle_normalize(self) -> None:
        select = self.query_one("#normalize", Select)
        order = [value for _, value in NORMALIZE_CHOICES]
        select.value = order[(order.index(str(select.value)) + 1) % len(order)]

    @on(Checkbox.Changed, "#silence")
    @on(Input.Changed, "#silence-level, #normalize-target")
    def _prep_field_changed(self) -> None:
        self._schedule_preview()

    @on(Select.Changed, "#normalize")
    def _normalize_changed(self, event: Select.Changed) -> None:
        target = self.query_one("#normalize-target", Input)
        target.display = event.value != "off"
        if event.value in _DEFAULT_TARGETS:
            with target.prevent(Input.Changed):
                target.value = _DEFAULT_TARGETS[str(event.value)]
        self._schedule_preview()

    def _schedule_preview(self) -> None:
        if self.path is None or self.info is None:
            return
        try:
            options = self.prep_options()
        except DeechoError as exc:
            self.query_one("#prepped", Static).update(f"[red]{escape(str(exc))}[/red]")
            return
        overview = self.query_one(Waveform).overview
        if options == PrepOptions() and self.levels is not None and overview is not None:
            # No prep: what is sent is the file as measured; no second pass over it.
            self.workers.cancel_group(self, "prep")
            whole = tasks.PrepPreview(
                options, 0.0, self.info.duration_s, 0.0, False, self.levels, overview
            )
            self.post_message(PrepPreviewed(whole))
            return
        self.query_one("#prepped", Static).update("Sends: measuring…")
        self._preview(self.path, options)

    @work(thread=True, exclusive=True, group="prep", exit_on_error=False)
    def _preview(self, path: Path, options: PrepOptions) -> None:
        worker = get_current_worker()
        time.sleep(0.15)  # let a burst of key presses settle before reading the file again
        if worker.is_cancelled:
            return
        try:
            preview = tasks.preview_prep(path, options, cancelled=lambda: worker.is_cancelled)
        except CancelledError:
            return
        except DeechoError as exc:
            self.app.call_from_thread(self._show_prep_problem, str(exc))
            return
        self.post_message(PrepPreviewed(preview))

    def _show_prep_problem(self, problem: str) -> None:
        self.query_one("#prepped", Static).update(f"[red]{escape(problem)}[/red]")

    @on(PrepPreviewed)
    def _prep_previewed(self, message: PrepPreviewed) -> None:
        preview = message.preview
        self.preview = preview
        gain = f"  {preview.gain_db:+.1f} dB" if preview.gain_db else ""
        limited = " limited" if preview.limited else ""
        length = preview.end_s - preview.start_s
        self.query_one("#prepped", Static).update(
            f"Sends {format_time(preview.start_s, True)}–{format_time(preview.end_s, True)}"
            f" ({length:.3f} s){gain}{limited}\n{describe_levels(preview.levels)}"
        )
        self._update_markers()
        if self.show_sent:
            self._show_waveform()

    def action_toggle_sent(self) -> None:
        if self.preview is None:
            self.notify("Nothing measured yet to show.", severity="information")
            return
        self.show_sent = not self.show_sent
        self._show_waveform()

    def _show_waveform(self) -> None:
        """The original with its trim markers, or what will be sent, on the original's scale
        (so a normalizing gain shows as a bigger or smaller waveform)."""
        wave = self.query_one(Waveform)
        name = self.path.name if self.path else ""
        if self.show_sent and self.preview is not None:
            preview = self.preview
            wave.set_overview(preview.overview, scale_from=self.original_overview)
            wave.set_view(0.0, None)
            gain = f", {preview.gain_db:+.1f} dB" if preview.gain_db else ""
            wave.border_title = f"{name}: as sent ({preview.end_s - preview.start_s:.3f} s{gain})"
            wave.set_markers(None, None)
        else:
            wave.set_overview(self.original_overview)
            wave.set_view(0.0, None)
            wave.border_title = name
            self._update_markers()

    # -- backend -----------------------------------------------------------------------------

    def backend_choice(self) -> str:
        return str(self.query_one("#backend-choice", Select).value)

    def action_cycle_backend(self) -> None:
        select = self.query_one("#backend-choice", Select)
        order = [value for _, value in BACKEND_CHOICES]
        select.value = order[(order.index(str(select.value)) + 1) % len(order)]

    @on(Select.Changed, "#backend-choice")
    def _backend_changed(self, event: Select.Changed) -> None:
        self._show_backend_note(str(event.value))
        self.deecho.remember_backend(str(event.value))

    @on(Input.Submitted, "#server-url, #server-key")
    @on(Input.Blurred, "#server-url, #server-key")
    def _server_fields_done(self) -> None:
        self.deecho.remember_server(
            self.query_one("#server-url", Input).value.strip() or None,
            self.query_one("#server-key", Input).value.strip() or None,
        )

    def _show_backend_note(self, choice: str) -> None:
        server = choice == "server"
        self.query_one("#server-url", Input).display = server
        self.query_one("#server-key", Input).display = server
        note = self.query_one("#backend-note", Static)
        note.set_class(choice == "musicgpt", "warning")
        if choice == "musicgpt":
            has_key = self.deecho.settings.musicgpt_api_key is not None
            key = "" if has_key else " No key yet: set DEECHO_MUSICGPT_API_KEY."
            note.update(_CREDITS_WARNING + key)
        elif server:
            note.update("A `deecho serve` instance: no credits; the audio goes to that machine.")
        else:
            note.update("Runs here, in this process: no network, no key, no credits.")

    # -- send and watch ----------------------------------------------------------------------

    def action_process(self) -> None:
        if self.path is None or self.info is None:
            self.notify("Open a file first (press o).", severity="warning")
            return
        if self.job_running:
            self.notify("A job is running: wait for it or cancel it (c).", severity="warning")
            return
        try:
            options = self.prep_options()
        except DeechoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        choice = self.backend_choice()
        if choice == "server" and not self.query_one("#server-url", Input).value.strip():
            self.notify("Type the deecho server's URL first.", severity="error")
            return
        self._server_fields_done()
        record = self.deecho.history.start(self.path, choice, _options_dict(options))
        self.job_id = record.id
        self.job_running = True
        self.job_started = time.monotonic()
        self.job_deadline = None
        self.job_status = tasks.JobStatus("PREPARING")
        bar = self.query_one("#job-progress", ProgressBar)
        bar.display = True
        bar.update(progress=0.0)
        self.query_one("#job-detail", Static).update("")
        self._render_job()
        self.job_original = self.path
        self.job_backend = choice
        self.credits_told = False
        self._run_job(record.id, self.path, options, choice, record.workdir or Path("."))

    @work(thread=True, exclusive=True, group="job", exit_on_error=False)
    def _run_job(
        self, job_id: int, original: Path, options: PrepOptions, choice: str, workdir: Path
    ) -> None:
        worker = get_current_worker()
        history = self.deecho.history

        def cancelled() -> bool:
            return worker.is_cancelled

        recorded: dict[str, str | None] = {"status": None, "task_id": None}

        def on_status(status: tasks.JobStatus) -> None:
            # The history is written here, in the job's own thread, so a late message
            # can never put an older status over the final one.
            changes = {}
            if status.status in _TASK_STATUSES and status.status != recorded["status"]:
                changes["status"] = recorded["status"] = status.status
            if status.task_id and status.task_id != recorded["task_id"]:
                changes["task_id"] = recorded["task_id"] = status.task_id
            if changes:
                history.update(job_id, **changes)
            self.post_message(JobUpdate(job_id, status))

        try:
            backend = self.deecho.backend_for(choice)
            prepped, raw = tasks.run_backend(
                backend, original, options, workdir, on_status, cancelled
            )
            on_status(tasks.JobStatus("ALIGNING", stage="aligning the result on the original"))
            outcome = tasks.compare_job(prepped, raw, workdir, cancelled)
        except CancelledError as exc:
            why = str(exc) or "cancelled; nothing was kept"
            history.update(job_id, status="CANCELLED", message=why)
            self.post_message(JobFailed(job_id, "CANCELLED", f"Job cancelled: {why}."))
            return
        except DeechoError as exc:
            history.update(job_id, status="FAILED", message=str(exc))
            self.post_message(JobFailed(job_id, "FAILED", str(exc)))
            return
        except Exception as exc:
            history.update(job_id, status="ERROR", message=f"{type(exc).__name__}: {exc}")
            self.post_message(JobFailed(job_id, "ERROR", ""))
            raise  # the screen's Worker.StateChanged handler reports it in one line
        record_metrics = dict(outcome.metrics)
        record_metrics["raw_no_echo"] = str(outcome.raw_no_echo)
        record_metrics["residual_db_over_time"] = [
            value if math.isfinite(value) else None for value in outcome.residual_db
        ]
        record_metrics.setdefault("residual_window_s", outcome.residual_window_s)
        history.update(
            job_id,
            status="COMPLETED",
            no_echo=outcome.no_echo,
            echo=outcome.echo,
            compare=record_metrics,
            message="done",
        )
        self.post_message(CompareReady(job_id, outcome))

    @on(JobUpdate)
    def _job_update(self, message: JobUpdate) -> None:
        if message.job_id != self.job_id:
            return
        self.job_status = message.status
        if message.status.eta_s is not None and message.status.eta_s >= 0:
            self.job_deadline = time.monotonic() + message.status.eta_s
        credits = message.status.credit_estimate
        if self.job_backend == "musicgpt" and credits is not None and not self.credits_told:
            self.credits_told = True
            self.notify(
                f"MusicGPT accepted the task: it spends about {credits:g} credits.",
                severity="warning",
                timeout=30,
            )
        bar = self.query_one("#job-progress", ProgressBar)
        if message.status.fraction is not None:
            bar.update(progress=max(0.0, min(1.0, message.status.fraction)))
        self._render_job()

    @on(JobFailed)
    def _job_failed(self, message: JobFailed) -> None:
        if message.job_id != self.job_id:
            return
        self.job_running = False
        self.job_status = tasks.JobStatus(message.status)
        self.query_one("#job-progress", ProgressBar).display = False
        self._render_job()
        if message.message:
            cancelled = message.status == "CANCELLED"
            self.notify(message.message, severity="warning" if cancelled else "error", markup=False)

    @on(CompareReady)
    def _compare_ready(self, message: CompareReady) -> None:
        if message.job_id == self.job_id:
            self.job_running = False
            previous = self.job_status or tasks.JobStatus("COMPLETED")
            self.job_status = tasks.JobStatus(
                "COMPLETED", task_id=previous.task_id, credit_estimate=previous.credit_estimate
            )
            self.query_one("#job-progress", ProgressBar).update(progress=1.0)
            self._render_job()
        self.outcome = message.outcome
        self.outcome_job_id = message.job_id
        if self.job_original is not None and message.job_id == self.job_id:
            self.outcome_original = self.job_original
        self.action_show_compare()

    def action_cancel_job(self) -> None:
        if not self.job_running:
            self.notify("No job is running.", severity="information")
            return
        self.workers.cancel_group(self, "job")
        self.job_status = tasks.JobStatus(
            "CANCELLING", task_id=getattr(self.job_status, "task_id", None)
        )
        self._render_job()

    def _tick(self) -> None:
        if self.job_running:
            self._render_job()

    def _render_job(self) -> None:
        status = self.job_status
        if status is None:
            return
        now = time.monotonic()
        lines = [f"Job {self.job_id}  [b]{status.status}[/b]"]
        if status.task_id:  # the whole id is in the history (h)
            lines.append(f"task {escape(_short_id(status.task_id))}")
        timing = []
        if self.job_started is not None and self.job_running:
            timing.append(f"elapsed {_clock(now - self.job_started)}")
        if self.job_running and self.job_deadline is not None:
            left = self.job_deadline - now
            timing.append(f"ETA {_clock(left)}" if left > 0 else "ETA any moment")
        if status.credit_estimate is not None:
            timing.append(f"credit estimate {status.credit_estimate:g}")
        if timing:
            lines.append("  ".join(timing))
        self.query_one("#job-status", Static).update("\n".join(lines))
        detail = status.stage or ""
        if self.job_running:
            detail = f"{detail}  (c cancels)".strip()
        elif status.status == "COMPLETED":
            detail = "v shows the comparison"
        self.query_one("#job-detail", Static).update(escape(detail))

    def action_show_compare(self) -> None:
        original = self.outcome_original or self.path
        if self.outcome is None or original is None:
            self.notify("No result yet: process the file first (p).", severity="information")
            return
        from deecho.tui.compare_view import CompareScreen

        record = self.deecho.history.get(self.outcome_job_id) if self.outcome_job_id else None
        self.app.push_screen(CompareScreen(original, self.outcome, record))


#: The API's statuses of a running task, worth keeping in the history as they change.
_TASK_STATUSES = frozenset({"IN_QUEUE", "IN_PROGRESS"})


def _short_id(task_id: str) -> str:
    """Long task ids (UUIDs) shortened in the middle to fit the watch panel."""
    return task_id if len(task_id) <= 22 else f"{task_id[:10]}…{task_id[-8:]}"


def _clock(seconds: float) -> str:
    """Whole seconds as m:ss (h:mm:ss past an hour), for the elapsed and ETA counters."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _options_dict(options: PrepOptions) -> dict[str, Any]:
    return {key: value for key, value in vars(options).items() if value is not None}
