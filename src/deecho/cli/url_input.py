"""A URL given where a file is expected (`deecho process URL`, `deecho tui URL`): download it first.

The recording is fetched as the server fetches an `audio_url` (a direct file,
or the one recording of a page, HLS or DASH manifest through yt-dlp), with a
progress bar (rich) on stderr, and kept as `TITLE.EXT` in the folder asked for, so
the outputs sit beside it and `deecho compare` can use it afterwards.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from deecho.errors import AudioMissingError, OutputError, UsageError

__all__ = ["download_url"]

#: Largest recording the CLI downloads, and longest it waits for one: far above a take.
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


def download_url(
    url: str, folder: Path, *, overwrite: bool = False, keep_existing: bool = False
) -> Path:
    """Fetch the recording at `url` into `folder`; returns its path there.

    A file already there by that name is refused (`OutputError`), replaced with
    `overwrite`, or kept with `keep_existing` (the download then takes a free name).
    """
    from deecho.cli.progress import stage_progress
    from deecho.urls import UrlPolicy, fetch_audio

    # The user's own machine fetching for the user: private hosts (a NAS) are theirs to reach.
    policy = UrlPolicy(allow_private=True, allow_loopback=True)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".deecho-fetch.", dir=folder) as temp:
        try:
            with stage_progress() as bar:
                fetched = fetch_audio(url, Path(temp), policy, MAX_BYTES, TIMEOUT_S, progress=bar)
        except UsageError as exc:
            raise AudioMissingError(f"{url}: {str(exc).removeprefix('audio_url: ')}") from None
        target = _free_path(folder, fetched.name) if keep_existing else folder / fetched.name
        if target.exists() and not overwrite:
            raise OutputError(f"{target} exists; use --force to replace it")
        os.replace(fetched.path, target)
    print(f"deecho: downloaded {target}", file=sys.stderr)
    return target
