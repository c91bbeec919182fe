"""The help screen: every key of the current view, what it does, and how to remap it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

__all__ = ["HelpScreen", "KeyHelp"]

#: (keys as shown, what the action is called, what it does, binding id for the keymap)
KeyHelp = tuple[str, str, str, str]


class HelpScreen(ModalScreen[None]):
    """Lists the keys the screen below answers to."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1", "close", "Close", id="help_close", tooltip="Close the help"),
    ]

    def __init__(self, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label("Keys  (Ctrl+P opens the command palette with all of them)")
            table: DataTable[str] = DataTable(
                id="help-table", cursor_type="row", zebra_stripes=True
            )
            table.add_columns("Key", "Action", "What it does", "Binding id")
            for row in self.keys:
                table.add_row(*row)
            yield table
            yield Label(
                'Remap in the settings file: [workspace.keymap] process = "ctrl+r"',
                id="help-remap",
            )

    def action_close(self) -> None:
        self.dismiss(None)
