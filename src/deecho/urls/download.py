"""A recording fetched for the user on their own machine: `deecho process URL`, the workspace.

The server fetches an `audio_url` into its task folder; a face fetches into a folder
the user sees (beside the outputs, or the workspace's downloads folder) and keeps the
file as `TITLE.EXT` there, so the outputs sit beside it. Both go through `fetch_audio`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from deecho.errors import AudioMissingError, OutputError, UsageError
from deecho.urls.ingest import Progress, fetch_audio
from deecho.urls.policy import UrlPolicy

__all__ = ["MAX_BYTES", "TIMEOUT_S", "download_recording"]

#: Largest recording a face downloads, and longest it waits for one: far above a take.
MAX_BYTES = 4 * 1024**3
TIMEOUT_S = 3600.0


def _free_path(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem (2).ext` and so on when that is taken."""
    target = folder / name
    number = 2
    while target.exists():
        target = folder / f"{Path(name).stem} ({number}){Path(name).suffix}"
        number += 1
    return target


def download_recording(
    url: str,
    folder: Path,
    *,
    overwrite: bool = False,
    keep_existing: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Fetch the recording at `url` into `folder`; returns its path there.

    A file already there by that name is refused (`OutputError`), replaced with
    `overwrite`, or kept with `keep_existing` (the download then takes a free name).
    A URL that cannot be fetched raises `AudioMissingError` with its one-line reason;
    nothing is left in `folder` then.
    """
    # The user's own machine fetching for the user: private hosts (a NAS) are theirs to reach.
    policy = UrlPolicy(allow_private=True, allow_loopback=True)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".deecho-fetch.", dir=folder) as temp:
        try:
            fetched = fetch_audio(url, Path(temp), policy, MAX_BYTES, TIMEOUT_S, progress=progress)
        except UsageError as exc:
            raise AudioMissingError(f"{url}: {str(exc).removeprefix('audio_url: ')}") from None
        target = _free_path(folder, fetched.name) if keep_existing else folder / fetched.name
        if target.exists() and not overwrite:
            raise OutputError(f"{target} exists; use --force to replace it")
        os.replace(fetched.path, target)
    return target
