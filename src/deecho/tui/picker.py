"""The file picker: a directory tree that shows folders and audio files only."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Label

from deecho.tui.tasks import AUDIO_EXTENSIONS

__all__ = ["AudioTree", "FilePicker"]


class AudioTree(DirectoryTree):
    """A DirectoryTree without hidden entries and without files deecho cannot open."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            path
            for path in paths
            if not path.name.startswith(".")
            and (path.is_dir() or path.suffix.lower() in AUDIO_EXTENSIONS)
        ]


class FilePicker(ModalScreen[Path | None]):
    """Choose an audio file; dismisses with its path, or None when closed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape", "close", "Close", id="picker_close", tooltip="Close without opening a file"
        ),
    ]

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label(f"Open audio from {self.folder}  (Enter opens, Esc closes)")
            yield AudioTree(self.folder, id="picker-tree")

    @on(DirectoryTree.FileSelected)
    def _chosen(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(event.path)

    def action_close(self) -> None:
        self.dismiss(None)
