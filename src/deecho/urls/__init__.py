"""Audio from a URL: direct files, pages, HLS and DASH, each connection under one URL policy.

The server (`audio_url`) fetches with `fetch_audio`; `deecho process URL` and the
workspace with `download_recording`, which calls it. The policy (`UrlPolicy`,
`check_url`) is the server's SSRF guard.
"""

from deecho.urls.download import download_recording
from deecho.urls.ingest import FetchedAudio, fetch_audio, is_url
from deecho.urls.policy import FetchError, UnsafeUrlError, UrlPolicy, check_url

__all__ = [
    "FetchError",
    "FetchedAudio",
    "UnsafeUrlError",
    "UrlPolicy",
    "check_url",
    "download_recording",
    "fetch_audio",
    "is_url",
]
