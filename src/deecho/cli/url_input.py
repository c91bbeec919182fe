"""A URL given where a file is expected (`deecho process URL`, `deecho tui URL`): download it first.

The recording is fetched by `deecho.urls.download_recording` (as the server fetches
an `audio_url`, and as the workspace's picker does), with a progress bar (rich) on
stderr, and kept as `TITLE.EXT` in the folder asked for, so the outputs sit beside
it and `deecho compare` can use it afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["download_url"]


def download_url(
    url: str, folder: Path, *, overwrite: bool = False, keep_existing: bool = False
) -> Path:
    """Fetch the recording at `url` into `folder` with a bar on stderr; returns its path."""
    from deecho.cli.progress import stage_progress
    from deecho.urls.download import download_recording

    with stage_progress() as bar:
        target = download_recording(
            url, folder, overwrite=overwrite, keep_existing=keep_existing, progress=bar
        )
    print(f"deecho: downloaded {target}", file=sys.stderr)
    return target
