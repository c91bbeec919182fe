"""A waveform view drawn in Braille dots from a min/max overview, with trim markers.

Each terminal cell holds 2 × 4 Braille dots, so a 100 × 10 view draws 200
columns of min/max bars at 40 levels. A second overview can be overlaid in
another colour (the compare view draws `no_echo` over the original: cells
holding only the original's dots are what was removed). Zoom and scroll change
the visible time span; the overview is never re-read for that.
"""

from __future__ import annotations

import itertools
import math
from typing import ClassVar

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from deecho.overview import Overview

__all__ = ["Waveform", "format_time"]

# Braille dot bits by (sub-row, sub-column) inside a cell.
_DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int32)
_NICE_STEPS_S: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
_NICE_STEPS_S += (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def format_time(seconds: float, precise: bool = False) -> str:
    """`75.25` -> `1:15.25` (or `1:15.250` precise); hours when needed."""
    seconds = max(0.0, seconds)
    minutes, rest = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    decimals = 3 if precise else 2
    text = f"{rest:0{3 + decimals}.{decimals}f}"
    return f"{hours}:{minutes:02d}:{text}" if hours else f"{minutes}:{text}"


def _dots(lows: np.ndarray, highs: np.ndarray, rows: int, scale: float) -> np.ndarray:
    """A (rows, columns) boolean grid: True where a column's min..max bar passes."""
    valid = np.isfinite(lows) & np.isfinite(highs)
    lo = np.clip(np.nan_to_num(lows) / scale, -1.0, 1.0)
    hi = np.clip(np.nan_to_num(highs) / scale, -1.0, 1.0)
    top = np.round((1.0 - hi) / 2.0 * (rows - 1)).astype(np.int64)
    bottom = np.round((1.0 - lo) / 2.0 * (rows - 1)).astype(np.int64)
    index = np.arange(rows)[:, None]
    return (index >= top[None, :]) & (index <= bottom[None, :]) & valid[None, :]


def _to_cells(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Fold a (4·height, 2·width) dot grid into (height, width) Braille bit patterns."""
    shaped = grid.reshape(height, 4, width, 2).astype(np.int32)
    return np.einsum("hrwc,rc->hw", shaped, _DOT_BITS)


class Waveform(Widget, can_focus=True):
    """Min/max waveform of an Overview, with an optional overlay and trim markers."""

    DEFAULT_CSS = """
    Waveform { height: 10; }
    Waveform > .waveform--wave { color: $primary; }
    Waveform > .waveform--overlay { color: $warning; }
    Waveform > .waveform--outside { color: $foreground 30%; }
    Waveform > .waveform--marker { background: $accent 60%; }
    Waveform > .waveform--axis { color: $foreground 60%; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "waveform--wave",
        "waveform--overlay",
        "waveform--outside",
        "waveform--marker",
        "waveform--axis",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "plus,equals_sign",
            "zoom_in",
            "Zoom in",
            id="zoom_in",
            key_display="+",
            tooltip="Show half as much time, around the middle of the view",
        ),
        Binding("minus", "zoom_out", "Zoom out", id="zoom_out", tooltip="Show twice as much time"),
        Binding("0", "zoom_fit", "Fit", id="zoom_fit", tooltip="Show the whole file"),
        Binding(
            "left",
            "scroll_view(-0.25)",
            "Scroll back",
            id="scroll_back",
            show=False,
            tooltip="Move the view a quarter of its width earlier",
        ),
        Binding(
            "right",
            "scroll_view(0.25)",
            "Scroll on",
            id="scroll_on",
            show=False,
            tooltip="Move the view a quarter of its width later",
        ),
    ]

    class ViewChanged(Message):
        """The visible time span changed (so linked views can follow)."""

        def __init__(self, waveform: Waveform, start_s: float, span_s: float) -> None:
            super().__init__()
            self.waveform = waveform
            self.start_s = start_s
            self.span_s = span_s

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.overview: Overview | None = None
        self.overlay: Overview | None = None
        self.start_marker_s: float | None = None
        self.end_marker_s: float | None = None
        self.playhead_s: float | None = None  # where A/B listening is, drawn like a marker
        self.view_start_s = 0.0
        self.view_span_s: float | None = None  # None: the whole file
        self.scale = 1.0

    # -- what to draw ------------------------------------------------------------------------

    @property
    def duration_s(self) -> float:
        return self.overview.duration_s if self.overview is not None else 0.0

    def set_overview(
        self,
        overview: Overview | None,
        overlay: Overview | None = None,
        scale_from: Overview | None = None,
    ) -> None:
        """Draw `overview` (and `overlay` over it), scaled to the loudest of them, or to
        `scale_from` when given (so the removed echo shows at its size next to the original)."""
        self.overview = overview
        self.overlay = overlay
        sources = (scale_from,) if scale_from is not None else (overview, overlay)
        peaks = [
            float(np.nanmax(np.abs(np.concatenate([o.minimum, o.maximum]))))
            for o in sources
            if o is not None and o.minimum.size
        ]
        # One scale per file, not per view: zooming in must not change the apparent level.
        self.scale = max([*peaks, 1e-4])
        # Say what full height means, since the view is scaled to the loudest sample.
        self.border_subtitle = (
            f"full height {20 * math.log10(self.scale):.1f} dBFS" if peaks else ""
        )
        self._clamp_view()
        self.refresh()

    def set_markers(self, start_s: float | None, end_s: float | None) -> None:
        self.start_marker_s = start_s
        self.end_marker_s = end_s
        self.refresh()

    def set_playhead(self, seconds: float | None) -> None:
        if seconds != self.playhead_s:
            self.playhead_s = seconds
            self.refresh()

    # -- view --------------------------------------------------------------------------------

    @property
    def span_s(self) -> float:
        return self.view_span_s if self.view_span_s is not None else self.duration_s

    def _min_span_s(self) -> float:
        if self.overview is None:
            return 0.01
        bucket_s = self.overview.bucket_frames / self.overview.sample_rate
        return max(0.005, bucket_s * max(2, self.size.width))

    def _clamp_view(self) -> None:
        duration = self.duration_s
        if self.view_span_s is not None and self.view_span_s >= duration:
            self.view_span_s = None
        self.view_start_s = min(max(0.0, self.view_start_s), max(0.0, duration - self.span_s))

    def set_view(self, start_s: float, span_s: float | None, announce: bool = False) -> None:
        self.view_span_s = None if span_s is None else max(span_s, self._min_span_s())
        self.view_start_s = start_s if self.view_span_s is not None else 0.0
        self._clamp_view()
        self.refresh()
        if announce:
            self.post_message(self.ViewChanged(self, self.view_start_s, self.span_s))

    def action_zoom_in(self) -> None:
        centre = self.view_start_s + self.span_s / 2
        span = max(self.span_s / 2, self._min_span_s())
        self.set_view(centre - span / 2, span, announce=True)

    def action_zoom_out(self) -> None:
        centre = self.view_start_s + self.span_s / 2
        span = self.span_s * 2
        self.set_view(centre - span / 2, span, announce=True)

    def action_zoom_fit(self) -> None:
        self.set_view(0.0, None, announce=True)

    def action_scroll_view(self, fraction: float) -> None:
        self.set_view(self.view_start_s + fraction * self.span_s, self.view_span_s, announce=True)

    # -- drawing -----------------------------------------------------------------------------

    def _column_of(self, seconds: float | None, width: int) -> int | None:
        if seconds is None or self.span_s <= 0:
            return None
        column = math.floor((seconds - self.view_start_s) / self.span_s * width)
        return column if 0 <= column < width else None

    def render(self) -> Text:
        width, height = self.size.width, self.size.height - 1  # last row: the time axis
        if self.overview is None or width < 4 or height < 1:
            return Text("No audio loaded: press o to open a file." if self.overview is None else "")
        end_s = self.view_start_s + self.span_s
        grids: list[np.ndarray | None] = []
        for overview in (self.overview, self.overlay):
            if overview is None:
                grids.append(None)
                continue
            lows, highs = overview.columns(2 * width, self.view_start_s, end_s)
            grids.append(_to_cells(_dots(lows, highs, 4 * height, self.scale), height, width))
        base, overlay = grids
        assert base is not None
        cells = base | overlay if overlay is not None else base
        kinds = self._cell_kinds(width, height, overlay)
        palette = self._palette()
        text = Text(no_wrap=True, overflow="crop")
        for row in range(height):
            codes = np.where(cells[row] > 0, 0x2800 + cells[row], 0x20)
            line = "".join(map(chr, codes.tolist()))
            # One append per run of equal style, not per cell: a redraw stays cheap.
            starts = [0, *(np.flatnonzero(np.diff(kinds[row])) + 1).tolist(), width]
            for first, stop in itertools.pairwise(starts):
                text.append(line[first:stop], palette[int(kinds[row, first])])
            text.append("\n")
        text.append_text(self._axis(width))
        return text

    def _palette(self) -> list[Style]:
        """Styles by kind: +1 outside the trim, +2 on a marker column, +4 overlay dots."""
        wave = self.get_component_rich_style("waveform--wave")
        outside = self.get_component_rich_style("waveform--outside")
        marker = self.get_component_rich_style("waveform--marker")
        over = self.get_component_rich_style("waveform--overlay")
        palette = []
        for kind in range(8):
            style = outside if kind & 1 else wave
            if kind & 2:
                style = style + marker
            if kind & 4:
                style = style + over
            palette.append(style)
        return palette

    def _cell_kinds(self, width: int, height: int, overlay: np.ndarray | None) -> np.ndarray:
        seconds = self.view_start_s + (np.arange(width) + 0.5) / width * self.span_s
        outside = np.zeros(width, dtype=bool)
        if self.start_marker_s is not None:
            outside |= seconds < self.start_marker_s
        if self.end_marker_s is not None:
            outside |= seconds > self.end_marker_s
        columns = outside.astype(np.int8)
        for marker in (self.start_marker_s, self.end_marker_s, self.playhead_s):
            column = self._column_of(marker, width)
            if column is not None:
                columns[column] |= 2
        kinds = np.broadcast_to(columns, (height, width)).copy()
        if overlay is not None:
            kinds[overlay > 0] |= 4
        return kinds

    def _axis(self, width: int) -> Text:
        axis = self.get_component_rich_style("waveform--axis")
        span = self.span_s
        step = next((s for s in _NICE_STEPS_S if s / span * width >= 12), _NICE_STEPS_S[-1])
        line = [" "] * width
        first = math.ceil(self.view_start_s / step) * step
        tick = first
        while tick < self.view_start_s + span:
            column = self._column_of(tick, width)
            label = "╵" + format_time(tick).rstrip("0").rstrip(".")
            if column is not None and column + len(label) <= width:
                line[column : column + len(label)] = list(label)
            tick += step
        return Text("".join(line), style=axis, no_wrap=True, overflow="crop")
