"""The file picker: a directory tree of folders and audio files, and a field for a link.

It dismisses with a `Path` (a file chosen in the tree, or with f the folder highlighted,
for the workspace's folder view), a `str` (a link typed or pasted in the field, for the
workspace to download), or None (closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label, Static

from deecho.tui.tasks import AUDIO_EXTENSIONS

__all__ = ["AudioTree", "FilePicker", "is_link"]


class AudioTree(DirectoryTree):
    """A DirectoryTree without hidden entries and without files deecho cannot open."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            path
            for path in paths
            if not path.name.startswith(".")
            and (path.is_dir() or path.suffix.lower() in AUDIO_EXTENSIONS)
        ]


def is_link(text: str) -> bool:
    """An http(s) link, by its prefix (deecho.urls would load the HTTP stack to say so)."""
    return text.lower().startswith(("http://", "https://")) and len(text) > len("https://")


class FilePicker(ModalScreen[Path | str | None]):
    """Choose an audio file, a folder or give a link; dismisses with the path, the link,
    or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "f",
            "open_folder",
            "Open folder",
            id="picker_folder",
            tooltip="Open the highlighted folder (or the file's folder): all its audio, as a batch",
        ),
        Binding(
            "escape", "close", "Close", id="picker_close", tooltip="Close without opening a file"
        ),
    ]

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label(
                f"Open audio from {self.folder}  (Enter opens a file, f a whole folder,"
                " Tab: a link, Esc closes)",
                markup=False,
            )
            yield AudioTree(self.folder, id="picker-tree")
            yield Input(placeholder="or paste a link: page, stream or audio file", id="picker-url")
            yield Static("", id="picker-note")

    @on(DirectoryTree.FileSelected)
    def _chosen(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(event.path)

    @on(Input.Submitted, "#picker-url")
    def _link_given(self, event: Input.Submitted) -> None:
        link = event.value.strip()
        if is_link(link):
            self.dismiss(link)
        elif link:
            self.query_one("#picker-note", Static).update(
                "Not a link: paste one that starts with http:// or https://"
                " (files are in the tree above)."
            )

    def action_open_folder(self) -> None:
        tree = self.query_one(AudioTree)
        node = tree.cursor_node
        path = node.data.path if node is not None and node.data is not None else self.folder
        self.dismiss(path if path.is_dir() else path.parent)

    def action_close(self) -> None:
        self.dismiss(None)
