"""The prep panel: trim times, auto-trim of silence, normalizing, and what would be sent.

A widget that owns its part of the workspace: the trim range, the prep fields and the
preview of what they send. The screen tells it about the open file (`show_file`,
`file_measured`) and hands it marker moves from the keys; it answers with messages:
`MarkersChanged` when the trim the waveform should mark moves, and `PrepPreviewed`
(which bubbles up from its worker) when what would be sent was measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select, Static
from textual.worker import get_current_worker

from deecho.audio.io import AudioInfo
from deecho.audio.loudness import Levels
from deecho.audio.prep import PrepOptions, parse_time
from deecho.errors import CancelledError, DeechoError, UsageError
from deecho.overview import Overview
from deecho.tui import tasks
from deecho.tui.base import ReportsWorkerFailures
from deecho.tui.messages import PrepPreviewed
from deecho.tui.waveform import format_time

__all__ = ["NORMALIZE_CHOICES", "PrepPanel", "describe_levels"]

NORMALIZE_CHOICES = [("No normalizing", "off"), ("Peak dBFS", "peak"), ("Loudness LUFS", "lufs")]
_DEFAULT_TARGETS = {"peak": "-1.0", "lufs": "-16.0"}


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


class PrepPanel(ReportsWorkerFailures, Vertical):
    """What part of the file is sent, and at what level."""

    @dataclass
    class MarkersChanged(Message):
        """Where the waveform should mark the trim (None: the file's own start or end)."""

        start_s: float | None
        end_s: float | None

    def __init__(self) -> None:
        super().__init__(id="prep", classes="panel")
        self.path: Path | None = None
        self.info: AudioInfo | None = None
        self.levels: Levels | None = None
        self._overview: Overview | None = None
        self.start_s: float | None = None
        self.end_s: float | None = None
        self.preview: tasks.PrepPreview | None = None
        """What the fields send, once measured (None while measuring, or with no file)."""

    def compose(self) -> ComposeResult:
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

    def on_mount(self) -> None:
        self.border_title = "Prep"

    # -- what the screen tells it --------------------------------------------------------------

    def show_file(self, path: Path) -> None:
        """Another file, not read yet: no trim, no preview."""
        self.path = path
        self.info = self.levels = self._overview = self.preview = None
        self.start_s = self.end_s = None
        for field in ("#start", "#end"):
            with self.query_one(field, Input).prevent(Input.Changed):
                self.query_one(field, Input).value = ""

    def file_read(self, info: AudioInfo) -> None:
        """The open file's header: its length bounds the trim."""
        self.info = info

    def file_measured(self, levels: Levels, overview: Overview | None) -> None:
        """The whole file's levels (and waveform): what an empty prep sends, without a pass."""
        self.levels, self._overview = levels, overview
        self._schedule_preview()

    # -- prep ----------------------------------------------------------------------------------

    def options(self) -> PrepOptions:
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

    @property
    def markers(self) -> tuple[float | None, float | None]:
        """The trim the waveform marks: where auto-trim cut once measured, else the fields."""
        if self.preview is not None and self.preview.options.trim_silence_dbfs is not None:
            return self.preview.start_s, self.preview.end_s
        return self.start_s, self.end_s

    def _markers_changed(self) -> None:
        self.post_message(self.MarkersChanged(*self.markers))

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
        self._markers_changed()
        self._schedule_preview()

    def move_marker(self, which: str, step_s: float) -> None:
        """Move the trim start or end by `step_s` seconds (negative: earlier)."""
        if self.info is None:
            return
        if which == "start":
            self._set_trim((self.start_s or 0.0) + step_s, self.end_s)
        else:
            end = self.end_s if self.end_s is not None else self.info.duration_s
            self._set_trim(self.start_s, end + step_s)

    def type_trim(self) -> None:
        self.query_one("#start", Input).focus()

    def clear_trim(self) -> None:
        self._set_trim(None, None)

    def toggle_silence(self) -> None:
        box = self.query_one("#silence", Checkbox)
        box.value = not box.value

    def cycle_normalize(self) -> None:
        select = self.query_one("#normalize", Select)
        order = [value for _, value in NORMALIZE_CHOICES]
        select.value = order[(order.index(str(select.value)) + 1) % len(order)]

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
        self._markers_changed()
        self._schedule_preview()

    @on(Input.Submitted, "#start, #end")
    def _trim_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            parse_time(text) if text else None
        except DeechoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            event.stop()  # the field keeps the keys; a good time bubbles on, and the
            # screen gives the keys back to the waveform

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

    # -- what would be sent ------------------------------------------------------------------

    def _schedule_preview(self) -> None:
        if self.path is None or self.info is None:
            return
        try:
            options = self.options()
        except DeechoError as exc:
            self._show_prep_problem(str(exc))
            return
        if options == PrepOptions() and self.levels is not None and self._overview is not None:
            # No prep: what is sent is the file as measured; no second pass over it.
            self.workers.cancel_group(self, "prep")
            whole = tasks.PrepPreview(
                options, 0.0, self.info.duration_s, 0.0, False, self.levels, self._overview
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
        # It bubbles on to the screen, which redraws the waveform "as sent" when shown.
        preview = message.preview
        self.preview = preview
        gain = f"  {preview.gain_db:+.1f} dB" if preview.gain_db else ""
        limited = " limited" if preview.limited else ""
        length = preview.end_s - preview.start_s
        self.query_one("#prepped", Static).update(
            f"Sends {format_time(preview.start_s, True)}–{format_time(preview.end_s, True)}"
            f" ({length:.3f} s){gain}{limited}\n{describe_levels(preview.levels)}"
        )
        self._markers_changed()
