"""The prep panel: trim markers and times, auto-trim of silence, normalizing, and what is sent.

Measuring what will be sent runs in a thread worker that posts PrepPreviewed back.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.widgets import Checkbox, Input, Select, Static
from textual.worker import get_current_worker

from deecho.audio.loudness import Levels
from deecho.audio.prep import PrepOptions, parse_time
from deecho.errors import CancelledError, DeechoError, UsageError
from deecho.tui import tasks
from deecho.tui.messages import PrepPreviewed
from deecho.tui.waveform import Waveform, format_time
from deecho.tui.workspace_state import WorkspaceState

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


class PrepPanel(WorkspaceState):
    """The workspace's prep: what part of the file is sent, and at what level."""

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
