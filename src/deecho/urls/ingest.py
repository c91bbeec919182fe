"""An `audio_url` to a file on disk: a direct audio link as it always was, else yt-dlp.

The URL is first fetched as a file, exactly as before (one GET through the
URL policy). Only when what arrives is a page or a playlist (it starts with
`<` or `#EXTM3U`; no audio format does) is yt-dlp asked to find the
recording, with what is left of the same byte and time budget. A direct
audio link therefore costs nothing more than reading its first bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from deecho.urls.policy import UrlPolicy, fetch_to_file

__all__ = ["FetchedAudio", "fetch_audio", "is_url", "looks_like_page"]

#: `progress(fraction 0..1, stage)`, as the server's progress file and the CLI's bar take it.
Progress = Callable[[float, str], None]

_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class FetchedAudio:
    path: Path
    """The downloaded file, in the folder given; the caller moves or deletes it."""
    name: str
    """A file name for it: the URL's, or the page's title with the media's extension."""
    title: str | None = None
    """The page's title, when the recording came through a page or playlist."""
    duration_s: float | None = None
    """As the page declared it; the file's own length is what counts."""


def is_url(text: str) -> bool:
    """True for what `deecho process` and the workspace treat as a URL, not a path."""
    return urlsplit(text).scheme.lower() in ("http", "https") and "://" in text


def looks_like_page(path: Path) -> bool:
    """True when the file is markup (HTML, DASH's XML, RSS) or an HLS playlist."""
    with path.open("rb") as stream:
        head = stream.read(1024).removeprefix(_BYTE_ORDER_MARK).lstrip()
    return head.startswith((b"<", b"#EXTM3U"))


def _bytes_progress(progress: Progress | None) -> Callable[[int, int | None], None] | None:
    if progress is None:
        return None

    def report(received: int, total: int | None) -> None:
        progress(received / total if total else 0.0, "downloading")

    return report


def fetch_audio(
    url: str,
    folder: Path,
    policy: UrlPolicy,
    max_bytes: int,
    timeout_s: float,
    *,
    max_duration_s: float | None = None,
    progress: Progress | None = None,
) -> FetchedAudio:
    """Download the recording `url` points at (a file, a page, a playlist) into `folder`."""
    started = time.monotonic()
    path, name = fetch_to_file(
        url, folder, policy, max_bytes, timeout_s, progress=_bytes_progress(progress)
    )
    if not looks_like_page(path):
        return FetchedAudio(path, name)
    page_bytes = path.stat().st_size
    path.unlink()
    if progress is not None:  # yt-dlp reads the page (and playlists) before any audio comes
        progress(0.0, "finding the recording")
    from deecho.urls.budget import FetchBudget
    from deecho.urls.pages import fetch_from_page  # yt-dlp loads only for pages

    budget = FetchBudget(max_bytes, timeout_s, used_bytes=page_bytes, started_at=started)
    found = fetch_from_page(
        url, folder, policy, budget, max_duration_s=max_duration_s, progress=progress
    )
    return FetchedAudio(
        found.path, _file_name(found.title, found.path), found.title, found.duration_s
    )


def _file_name(title: str, media: Path) -> str:
    """The title as a file name a user would pick: no separators, not hidden, not too long."""
    cleaned = "".join(c if c.isalnum() or c in " -_.()" else "_" for c in title).strip(" ._")
    return f"{cleaned[:80] or 'recording'}{media.suffix}"
