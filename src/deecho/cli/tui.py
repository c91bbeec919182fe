"""`deecho tui [FILE]`, and `deecho` alone: open the workspace."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from deecho.errors import UsageError
from deecho.kinds import BackendKind

__all__ = ["open_workspace", "register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tui",
        help="open the workspace: load, prep, send, watch, compare and keep",
        description=(
            "Open the deecho workspace on FILE, on a FOLDER's audio (a batch, as"
            " `deecho batch FOLDER -o FOLDER-deecho` would run it), or on a file picker"
            " when neither is given."
            " Keys: ? lists them all; Ctrl+P opens the command palette."
        ),
    )
    parser.add_argument("file", nargs="?", help="audio file or folder to open, or an http(s) URL")
    parser.add_argument(
        "--backend",
        help="local (default), musicgpt, or the URL of a `deecho serve` instance"
        " (remembered in the settings file)",
    )
    parser.set_defaults(handler=open_workspace)


def open_workspace(args: argparse.Namespace) -> int:
    """Run the workspace until the user quits; the exit code is 0."""
    from deecho.config import load_settings
    from deecho.tui.app import DeechoApp

    given: str | None = getattr(args, "file", None)
    file = None if given is None else Path(given)
    # a plain prefix test: opening a file must not load the HTTP stack (test_import_hygiene)
    if given is not None and given.lower().startswith(("http://", "https://")):
        from deecho.cli.url_input import download_url

        file = download_url(given, Path.cwd(), keep_existing=True)  # then opened as a file
    if file is not None and not file.exists():
        raise UsageError(
            f"{file}: no such file or folder; give an audio file, a folder, or none for the picker"
        )
    settings = load_settings()
    backend = getattr(args, "backend", None)
    if backend:
        if backend in (BackendKind.LOCAL, BackendKind.MUSICGPT):
            settings.workspace.backend = backend
        elif backend.startswith(("http://", "https://")):
            settings.workspace.backend = backend
            settings.workspace.server_url = backend
        else:
            raise UsageError(f"--backend {backend!r}: use local, musicgpt or an http(s) URL")
    start_dir = Path.cwd() if file is None else file if file.is_dir() else file.parent
    DeechoApp(file, settings=settings, start_dir=start_dir).run()
    return 0
