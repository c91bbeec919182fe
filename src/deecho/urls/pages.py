"""The recording behind a page link, an HLS playlist or a DASH manifest, found by yt-dlp.

yt-dlp runs as a library with its network replaced by `GuardedRH` (every
connection past the URL policy and one byte and time budget), audio only
(the best audio format, else the best with audio), its native downloaders
only (never ffmpeg or another program), no post-processing, no cookies, no
cache, no plugins, and no extractor that runs JavaScript (`extractors.py`).

One task is one recording: a playlist of more than one entry is refused, and
so is a live stream (it has no end to download to).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yt_dlp.globals
from yt_dlp import YoutubeDL
from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor
from yt_dlp.utils import DownloadCancelled, DownloadError, GeoRestrictedError, UnsupportedError

from deecho.urls.budget import FetchBudget
from deecho.urls.extractors import script_refusal
from deecho.urls.guarded_rh import GuardedRH
from deecho.urls.policy import FetchError, UrlPolicy

__all__ = ["PageRecording", "fetch_from_page"]

# Plugins are code from the user's folders that yt-dlp would load into the server.
yt_dlp.globals.plugin_dirs.value = []

#: Protocols yt-dlp fetches itself (plain files, HLS, DASH): never RTMP, RTSP or the like.
_OWN_PROTOCOLS = "[protocol~='^(https?|m3u8(_native)?|http_dash_segments)$']"
#: Audio alone first, then a file with audio and video, then anything with a stream.
_FORMAT = f"ba{_OWN_PROTOCOLS}/b{_OWN_PROTOCOLS}/b*{_OWN_PROTOCOLS}"
#: Where no ffmpeg can be, so yt-dlp never finds one to hand work to.
_NO_FFMPEG = "/nonexistent/deecho-runs-no-ffmpeg"

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class PageRecording:
    path: Path
    title: str
    duration_s: float | None
    connections: int


class _Refused(DownloadCancelled):
    """Stops yt-dlp at once with a reason for the user (yt-dlp re-raises these as they are)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.msg = message


class _Quiet:
    """yt-dlp's logger: nothing on the server's terminal; its last error kept for the reason."""

    def __init__(self) -> None:
        self.last_error = ""

    def debug(self, message: str) -> None:
        pass

    info = warning = debug

    def error(self, message: str) -> None:
        self.last_error = message


class _GuardedYoutubeDL(YoutubeDL):
    """YoutubeDL whose only way out is `GuardedRH`, and whose extractors run no scripts."""

    def __init__(self, params: dict[str, Any], policy: UrlPolicy, budget: FetchBudget) -> None:
        self._guard = functools.partial(GuardedRH, policy=policy, budget=budget)
        super().__init__(params)

    @functools.cached_property
    def _request_director(self) -> Any:
        # Replaces yt-dlp's choice among all registered handlers (urllib, requests, curl_cffi,
        # websockets) with this one: no request can take another way.
        return self.build_request_director([self._guard])

    def get_info_extractor(self, ie_key: str) -> Any:
        extractor = super().get_info_extractor(ie_key)
        refusal = script_refusal(type(extractor))
        if refusal is not None:
            raise _Refused(refusal)
        return extractor


class _LiveAndLength:
    """yt-dlp's match filter: refuses live streams and recordings over the duration cap.

    yt-dlp re-raises a filter's exception as a new one without its message, so the
    reason is kept here for `_reason` to find.
    """

    def __init__(self, max_duration_s: float | None) -> None:
        self.max_duration_s = max_duration_s
        self.reason: str | None = None

    def __call__(self, info: dict[str, Any], incomplete: bool = False) -> None:
        if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
            self.reason = (
                "audio_url: this is a live stream, which has no end to download;"
                " send it once it has been recorded"
            )
        duration = info.get("duration")
        if (
            self.max_duration_s is not None
            and isinstance(duration, (int, float))
            and duration > self.max_duration_s
        ):
            self.reason = (
                f"audio_url: the recording lasts {duration:.0f} s, over this server's"
                f" {self.max_duration_s:.0f} s limit"
            )
        if self.reason is not None:
            raise _Refused(self.reason)


def _progress_hook(progress: Progress | None, title: list[str]) -> Callable[[dict[str, Any]], None]:
    def hook(status: dict[str, Any]) -> None:
        if progress is None or status.get("status") != "downloading":
            return
        done, total = status.get("downloaded_bytes"), status.get("total_bytes")
        total = total or status.get("total_bytes_estimate")
        fraction = done / total if done and total else 0.0
        if status.get("fragment_count"):
            fraction = (status.get("fragment_index") or 0) / status["fragment_count"]
        progress(min(1.0, fraction), f"downloading {title[0]}".strip())

    return hook


def _params(
    folder: Path, quiet: _Quiet, live_and_length: _LiveAndLength, hook: Callable[..., None]
) -> dict[str, Any]:
    return {
        "logger": quiet,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "color": "no_color",
        "format": _FORMAT,
        "outtmpl": {"default": str(folder / "page_input.%(ext)s")},
        "restrictfilenames": True,  # the extension comes from the site: ASCII, no separators
        "noplaylist": True,  # a link to one video inside a playlist means that video
        "playlistend": 2,  # two entries are enough to know it is more than one recording
        "match_filter": live_and_length,
        "progress_hooks": [hook],
        "cachedir": False,
        "usenetrc": False,
        "proxy": "",
        "socket_timeout": 30,
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 0,
        "skip_unavailable_fragments": False,  # a gap in the audio is a broken download
        "external_downloader": {"default": "native"},
        "hls_prefer_native": True,
        "ffmpeg_location": _NO_FFMPEG,
        "fixup": "never",
        "postprocessors": [],
        "js_runtimes": {},
        "remote_components": [],
        "check_formats": False,
        "geo_bypass": False,
        "overwrites": True,
    }


def _one_recording(info: dict[str, Any]) -> dict[str, Any]:
    """The single entry of `info`; refuses playlists of several and empty ones."""
    if info.get("_type") not in ("playlist", "multi_video"):
        return info
    entries = [entry for entry in info.get("entries") or [] if entry]
    if len(entries) == 1:
        return _one_recording(entries[0])
    if not entries:
        raise _Refused("audio_url: the playlist at this URL is empty; send a link to one recording")
    count = info.get("playlist_count")
    several = f"{count} recordings" if isinstance(count, int) and count > 1 else "several"
    raise _Refused(
        f"audio_url: this URL holds {several} (a playlist); one task is one recording:"
        " send the link of the one to clean"
    )


def _reason(
    exc: Exception, quiet: _Quiet, budget: FetchBudget, live_and_length: _LiveAndLength
) -> FetchError:
    """One line for the task's message: the budget's refusal first, then ours, then yt-dlp's."""
    if budget.refusal is not None:
        return FetchError(str(budget.refusal))
    if live_and_length.reason is not None:
        return FetchError(live_and_length.reason)
    if isinstance(exc, _Refused) and exc.msg:
        return FetchError(exc.msg)
    cause = exc.exc_info[1] if isinstance(exc, DownloadError) and exc.exc_info else exc
    if isinstance(cause, UnsupportedError):
        return FetchError(
            "audio_url: no audio or video found at this URL (the page has no media player"
            " yt-dlp can read); send a direct link to the audio"
        )
    if isinstance(cause, GeoRestrictedError):
        return FetchError(
            "audio_url: the site does not offer this recording in this server's region"
        )
    text = (quiet.last_error or str(exc)).replace("ERROR: ", "").strip().splitlines()[0]
    if text.startswith("[") and "] " in text:
        text = text.split("] ", 1)[1]  # "[generic] id: why" -> "id: why"
    return FetchError(f"audio_url: the recording could not be fetched: {text[:300]}")


def fetch_from_page(
    url: str,
    folder: Path,
    policy: UrlPolicy,
    budget: FetchBudget,
    *,
    max_duration_s: float | None = None,
    progress: Progress | None = None,
) -> PageRecording:
    """Find the one recording `url` leads to and download it into `folder`."""
    quiet = _Quiet()
    title = [""]
    live_and_length = _LiveAndLength(max_duration_s)
    params = _params(folder, quiet, live_and_length, _progress_hook(progress, title))
    no_ffmpeg = FFmpegPostProcessor._ffmpeg_location.set(_NO_FFMPEG)
    budget.start_watchdog()
    try:
        with _GuardedYoutubeDL(params, policy, budget) as ydl:
            found = _one_recording(ydl.extract_info(url, download=False))
            live_and_length(found)
            # yt-dlp names a page's one player "Page title (1)"; the page's title says it
            title[0] = str(found.get("title") or "").removesuffix(" (1)")
            done = ydl.process_ie_result(found, download=True)
    except Exception as exc:  # yt-dlp raises many kinds; every one becomes a reason
        raise _reason(exc, quiet, budget, live_and_length) from exc
    finally:
        budget.stop_watchdog()
        FFmpegPostProcessor._ffmpeg_location.reset(no_ffmpeg)
    if budget.refusal is not None:
        raise FetchError(str(budget.refusal))
    downloads = done.get("requested_downloads") or []
    path = Path(downloads[0].get("filepath", "")) if downloads else folder / "missing"
    if not path.is_file() or path.resolve().parent != folder.resolve():
        raise FetchError("audio_url: the page's recording could not be downloaded")
    duration = found.get("duration")
    return PageRecording(
        path=path,
        title=title[0] or Path(url).name,
        duration_s=float(duration) if isinstance(duration, (int, float)) else None,
        connections=budget.connections,
    )
