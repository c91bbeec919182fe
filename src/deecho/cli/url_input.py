"""A URL given where a file is expected (`deecho process URL`, `deecho tui URL`): download it first.

The recording is fetched by `deecho.urls.download_recording` (as the server fetches
an `audio_url`, and as the workspace's picker does), with a progress bar on stderr,
and kept as `TITLE.EXT` in the folder asked for, so the outputs sit beside it and
`deecho compare` can use it afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["download_url"]


def _bar() -> Callable[[float, str], None] | None:
    """A one-line download bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        return None
    last = [-1]

    def show(fraction: float, stage: str) -> None:
        percent = int(fraction * 100)
        if percent == last[0]:
            return
        last[0] = percent
        filled = percent * 30 // 100
        sys.stderr.write(f"\r{stage[:30]:<30} [{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%")
        sys.stderr.flush()

    return show


def download_url(
    url: str, folder: Path, *, overwrite: bool = False, keep_existing: bool = False
) -> Path:
    """Fetch the recording at `url` into `folder` with a bar on stderr; returns its path."""
    from deecho.urls.download import download_recording

    bar = _bar()
    try:
        target = download_recording(
            url, folder, overwrite=overwrite, keep_existing=keep_existing, progress=bar
        )
    finally:
        if bar is not None:
            sys.stderr.write("\n")
    print(f"deecho: downloaded {target}", file=sys.stderr)
    return target
