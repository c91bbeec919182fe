"""The compare view: the result on top of the original, what was removed, and the numbers.

The screen keeps, exports and plays the result; what is drawn is the compare panel's
(deecho.tui.compare_panel): `screen.show(outcome)` redraws it all (and is
what the keys keep from then on), `screen.panel.show_figures(figures)` only the numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, Static

from deecho.errors import DeechoError
from deecho.history import History, JobRecord
from deecho.tui import tasks
from deecho.tui.base import DeechoScreen
from deecho.tui.compare_panel import ComparePanel
from deecho.tui.messages import ResultKept
from deecho.tui.playback import Player, output_device_available
from deecho.tui.waveform import Waveform

__all__ = ["CompareScreen"]


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
        yield ComparePanel(self.outcome)
        yield Footer()

    @property
    def panel(self) -> ComparePanel:
        """What is drawn; `panel.show_figures(figures)` redraws only the numbers."""
        return self.query_one(ComparePanel)

    def show(self, outcome: tasks.CompareOutcome) -> None:
        """Another result (or a fuller one) of the same original: drawn, and what s, k, e
        and the play keys use from now on."""
        if self.player is not None:
            self.player.close()
            self.player = None
        self.outcome = outcome
        self.panel.show(outcome)

    def _title(self) -> str:
        parts = [f"[b]{escape(self.original.name)}[/b]"]
        if self.record is not None:
            parts.append(f"job {self.record.id} on {self.record.backend}")
            if self.record.task_id:
                parts.append(f"task {escape(self.record.task_id)}")
        return "  ".join(parts)

    def on_mount(self) -> None:
        self.query_one("#overlaid", Waveform).focus()

    @on(Waveform.ViewChanged)
    def _view_changed(self) -> None:
        # The panel has linked the two views on the way up; playback loops over the view.
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
