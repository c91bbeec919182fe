"""The compare panel: a result drawn on top of its original, what was removed, and the numbers.

A widget that owns what it draws: `show(outcome)` draws a whole result (waveforms,
residual over time, metrics), `show_figures(figures)` only the numbers, so figures
that arrive in steps (a comparison that streams) can be shown as they come. The two
waveforms follow each other's zoom and scroll; `Waveform.ViewChanged` bubbles on, so
the screen can loop playback over the view.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Sparkline

from deecho.tui.waveform import Waveform

if TYPE_CHECKING:
    from deecho.compare.figures import CompareFigures
    from deecho.tui.tasks import CompareOutcome

__all__ = ["ComparePanel", "metric_rows"]


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


def _residual_heights(values: list[float]) -> list[float]:
    # Sparkline draws bigger as higher: plot how far above the floor each window sits.
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return [0.0]
    floor = min(finite)
    return [value - floor if math.isfinite(value) else 0.0 for value in values]


class ComparePanel(Horizontal):
    """Original and no_echo overlaid, the removed echo, the residual over time, the metrics."""

    def __init__(self, outcome: CompareOutcome) -> None:
        super().__init__(id="compare-body")
        self.outcome = outcome
        """The result drawn."""

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-waves"):
            yield Waveform(id="overlaid")
            yield Waveform(id="removed")
            yield Label("", id="residual-label")
            yield Sparkline(_residual_heights(self.outcome.residual_db), id="residual")
        table: DataTable[str] = DataTable(id="metrics", cursor_type="none", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        self.query_one(
            "#overlaid", Waveform
        ).border_title = "original (dim) and no_echo (bright), aligned"
        self.query_one("#removed", Waveform).border_title = "echo: what was removed"
        table = self.query_one("#metrics", DataTable)
        table.add_columns("Metric", "Value")
        table.border_title = "Metrics"
        self.show(self.outcome)

    def show(self, outcome: CompareOutcome) -> None:
        """Draw a whole result: waveforms, residual over time, metrics."""
        self.outcome = outcome
        self.query_one("#overlaid", Waveform).set_overview(
            outcome.original_overview, outcome.no_echo_overview
        )
        # On the original's scale: a small echo should look small.
        self.query_one("#removed", Waveform).set_overview(
            outcome.echo_overview, scale_from=outcome.original_overview
        )
        self.query_one("#residual", Sparkline).data = _residual_heights(outcome.residual_db)
        values = [value for value in outcome.residual_db if math.isfinite(value)]
        label = self.query_one("#residual-label", Label)
        if values:
            label.update(
                f"Residual over time, {outcome.residual_window_s * 1000:.0f} ms windows:"
                f" {min(values):.1f} to {max(values):.1f} dB"
            )
        else:
            label.update("Residual over time: not measured")
        self.show_figures(outcome.figures)

    def show_figures(self, figures: CompareFigures) -> None:
        """Only the numbers, as they are now."""
        table = self.query_one("#metrics", DataTable)
        table.clear()
        for row in metric_rows(figures):
            table.add_row(*row)

    @on(Waveform.ViewChanged)
    def _follow(self, message: Waveform.ViewChanged) -> None:
        # The two views show the same stretch of time.
        for wave in self.query(Waveform):
            if wave is not message.waveform:
                wave.set_view(message.start_s, message.waveform.view_span_s)
