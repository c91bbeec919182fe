"""The compare view: the result on top of the original, what was removed, and the numbers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Label, Sparkline, Static

from deecho.errors import DeechoError
from deecho.history import History, JobRecord
from deecho.tui import tasks
from deecho.tui.base import DeechoScreen
from deecho.tui.messages import ResultKept
from deecho.tui.playback import Player, output_device_available
from deecho.tui.waveform import Waveform

if TYPE_CHECKING:
    from deecho.compare.figures import CompareFigures

__all__ = ["CompareScreen", "metric_rows"]


def _figure(value: float | int | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _echo_delays(figures: CompareFigures) -> str | None:
    delays = [
        f"{float(echo['delay_ms']):.0f}"
        for echo in figures.echoes_before or ()
        if echo.get("delay_ms") is not None
    ]
    return (", ".join(delays[:4]) + " ms") if delays else None


def metric_rows(figures: CompareFigures) -> list[tuple[str, str]]:
    """The figures the table shows, formatted."""
    rows = [
        ("Offset", _figure(figures.offset_samples, "{:.2f} samples")),
        ("Offset", _figure(figures.offset_ms, "{:.3f} ms")),
        ("Drift", _figure(figures.drift_ppm, "{:.2f} ppm")),
        ("Gain", _figure(figures.gain_db, "{:+.2f} dB")),
        ("Polarity", _figure(figures.polarity, "{:+d}")),
        ("Correlation", _figure(figures.correlation, "{:.4f}")),
        ("Residual", _figure(figures.residual_db, "{:.1f} dB")),
        ("Energy removed", _figure(figures.energy_removed_db, "{:.1f} dB")),
        ("SI-SDR", _figure(figures.si_sdr_db, "{:.1f} dB")),
        ("Overlap", _figure(figures.overlap_s, "{:.2f} s")),
        ("RT60 before", _figure(figures.rt60_before_s, "{:.2f} s")),
        ("RT60 after", _figure(figures.rt60_after_s, "{:.2f} s")),
        ("Sample rate", _figure(figures.sample_rate, "{} Hz")),
    ]
    delays = _echo_delays(figures)
    if delays:
        rows.append(("Echo delays", delays))
    return rows


class CompareScreen(DeechoScreen):
    """Original and no_echo overlaid, the removed echo, the residual over time, the metrics."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="compare_back", tooltip="Back to the workspace"),
        Binding(
            "s",
            "keep(False)",
            "Keep no_echo",
            id="keep",
            tooltip="Save no_echo beside the original with a .no_echo suffix (never overwrites)",
        ),
        Binding(
            "k",
            "keep(True)",
            "Keep both",
            id="keep_both",
            tooltip="Save no_echo and the removed echo beside the original (never overwrites)",
        ),
        Binding(
            "e",
            "export_report",
            "Export report",
            id="export_report",
            tooltip="Write the compare report (JSON and PNG) beside the original",
        ),
        Binding(
            "1",
            "play('original')",
            "Play original",
            id="play_original",
            tooltip="A/B: play the original",
        ),
        Binding(
            "2", "play('no_echo')", "Play no_echo", id="play_no_echo", tooltip="A/B: play no_echo"
        ),
        Binding(
            "3", "play('echo')", "Play echo", id="play_echo", tooltip="A/B: play the removed echo"
        ),
        Binding("space", "stop_playing", "Stop", id="play_stop", tooltip="Stop playing"),
    ]

    def __init__(
        self,
        original: Path,
        outcome: tasks.CompareOutcome,
        record: JobRecord | None,
        history: History | None = None,
    ) -> None:
        super().__init__(id="compare")
        self.history = history
        """Where a kept file is noted against its job (none for a result from elsewhere)."""
        self.original = original
        self.outcome = outcome
        self.record = record
        self.kept: list[Path] = []
        self.can_play = output_device_available()
        self.player: Player | None = None
        """Original, no_echo and echo on one playhead; opened on the first play key."""
        self._error_shown: BaseException | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A/B listening only where there is somewhere to listen: hidden otherwise.
        if action in ("play", "stop_playing"):
            return self.can_play
        return True

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="compare-title")
        with Horizontal(id="compare-body"):
            with Vertical(id="compare-waves"):
                yield Waveform(id="overlaid")
                yield Waveform(id="removed")
                yield Label("", id="residual-label")
                yield Sparkline(self._residual_heights(), id="residual")
            table: DataTable[str] = DataTable(id="metrics", cursor_type="none", zebra_stripes=True)
            yield table
        yield Footer()

    def _title(self) -> str:
        parts = [f"[b]{escape(self.original.name)}[/b]"]
        if self.record is not None:
            parts.append(f"job {self.record.id} on {self.record.backend}")
            if self.record.task_id:
                parts.append(f"task {escape(self.record.task_id)}")
        return "  ".join(parts)

    def _residual_heights(self) -> list[float]:
        # Sparkline draws bigger as higher: plot how far above the floor each window sits.
        values = self.outcome.residual_db
        finite = [value for value in values if math.isfinite(value)]
        if not finite:
            return [0.0]
        floor = min(finite)
        return [value - floor if math.isfinite(value) else 0.0 for value in values]

    def on_mount(self) -> None:
        overlaid = self.query_one("#overlaid", Waveform)
        overlaid.border_title = "original (dim) and no_echo (bright), aligned"
        overlaid.set_overview(self.outcome.original_overview, self.outcome.no_echo_overview)
        removed = self.query_one("#removed", Waveform)
        removed.border_title = "echo: what was removed"
        # On the original's scale: a small echo should look small.
        removed.set_overview(self.outcome.echo_overview, scale_from=self.outcome.original_overview)
        values = [value for value in self.outcome.residual_db if math.isfinite(value)]
        label = self.query_one("#residual-label", Label)
        if values:
            label.update(
                f"Residual over time, {self.outcome.residual_window_s * 1000:.0f} ms windows:"
                f" {min(values):.1f} to {max(values):.1f} dB"
            )
        else:
            label.update("Residual over time: not measured")
        table = self.query_one("#metrics", DataTable)
        table.add_columns("Metric", "Value")
        for row in metric_rows(self.outcome.figures):
            table.add_row(*row)
        table.border_title = "Metrics"
        overlaid.focus()

    @on(Waveform.ViewChanged)
    def _follow(self, message: Waveform.ViewChanged) -> None:
        # The two views show the same stretch of time.
        for wave in self.query(Waveform):
            if wave is not message.waveform:
                wave.set_view(message.start_s, message.waveform.view_span_s)
        self._loop_over_view()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_keep(self, with_echo: bool) -> None:
        self._keep(with_echo)

    @work(thread=True, exclusive=True, group="keep", exit_on_error=False)
    def _keep(self, with_echo: bool) -> None:
        paths = tasks.keep_result(
            self.original, self.outcome.no_echo, self.outcome.echo if with_echo else None
        )
        self.post_message(ResultKept(paths))

    def action_export_report(self) -> None:
        self._export()

    @work(thread=True, exclusive=True, group="keep", exit_on_error=False)
    def _export(self) -> None:
        self.post_message(ResultKept(tasks.export_report(self.original, self.outcome)))

    @on(ResultKept)
    def _kept(self, message: ResultKept) -> None:
        self.kept.extend(message.paths)
        if self.record is not None and self.history is not None:
            record = self.history.get(self.record.id)
            saved = (record.saved if record else []) + message.paths
            self.history.update(self.record.id, saved=saved)
        names = ", ".join(path.name for path in message.paths)
        self.notify(f"Saved beside the original: {names}", title="Kept", markup=False)

    SOURCES: ClassVar[tuple[str, ...]] = ("original", "no_echo", "echo")

    def action_play(self, which: str) -> None:
        """Hear `which` at the shared playhead: a switch keeps the position, looping the view."""
        try:
            if self.player is None:
                outcome = self.outcome
                self.player = Player([outcome.prepped, outcome.no_echo, outcome.echo])
                self.set_interval(0.1, self._show_playhead)
            self._loop_over_view()
            self.player.play(self.SOURCES.index(which))
        except DeechoError as exc:
            self.notify(str(exc), title="Cannot play", severity="error", markup=False)
        except Exception as exc:  # PortAudio's own error: the device went away or is busy
            self.notify(f"Cannot play: {exc}", title="Cannot play", severity="error", markup=False)

    def _loop_over_view(self) -> None:
        # The passage on screen is the one being compared: loop it (the whole take unzoomed).
        if self.player is None:
            return
        wave = self.query_one("#overlaid", Waveform)
        end_s = wave.view_start_s + wave.span_s if wave.view_span_s is not None else None
        if end_s is None:
            self.player.set_loop(0.0, self.player.frames / self.player.sample_rate)
        else:
            self.player.set_loop(wave.view_start_s, end_s)

    def _show_playhead(self) -> None:
        player = self.player
        if player is not None and player.error not in (None, self._error_shown):
            # The audio thread cannot notify: say here, once, why the sound stopped.
            error = self._error_shown = player.error
            self.notify(
                f"Playing stopped: {error}", title="Cannot play", severity="error", markup=False
            )
        seconds = player.heard_s if player is not None and player.playing else None
        for wave in self.query(Waveform):
            wave.set_playhead(seconds)

    def action_stop_playing(self) -> None:
        if self.player is not None:
            self.player.stop()
        self._show_playhead()

    def on_unmount(self) -> None:
        if self.player is not None:
            self.player.close()
            self.player = None
