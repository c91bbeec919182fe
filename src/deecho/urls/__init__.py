"""Audio from a URL: direct files, pages, HLS and DASH, each connection under one URL policy.

The server (`audio_url`), `deecho process URL` and `deecho tui URL` share
`fetch_audio`; the policy (`UrlPolicy`, `check_url`) is the server's SSRF guard.
"""

from deecho.urls.ingest import FetchedAudio, fetch_audio, is_url
from deecho.urls.policy import FetchError, UnsafeUrlError, UrlPolicy, check_url

__all__ = [
    "FetchError",
    "FetchedAudio",
    "UnsafeUrlError",
    "UrlPolicy",
    "check_url",
    "fetch_audio",
    "is_url",
]
