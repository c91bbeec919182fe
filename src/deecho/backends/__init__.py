"""Where echo removal runs: here (`local`), on a `deecho serve` URL, or at MusicGPT.

    backend = get_backend("musicgpt", load_settings())
    result = run_job(ProcessRequest(input=take), backend)   # deecho.backends.job

`deecho.backends.job.run_job` is the one path of a job on any backend, the local
engine included: prep, send, watch, download, align, write `no_echo` and `echo`.
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from deecho.backends.base import Backend, Cancelled, JobStatus, Progress, Submission, TaskState
from deecho.errors import AuthenticationError, UsageError

if TYPE_CHECKING:
    from deecho.config import Settings

__all__ = [
    "Backend",
    "Cancelled",
    "JobStatus",
    "Progress",
    "Submission",
    "TaskState",
    "get_backend",
]

#: The contract's base path on any deecho server (and on MusicGPT).
API_BASE_PATH = "/api/public/v1"
#: Our own server may be polled this often; MusicGPT's Free plan allows one call every 3 s.
SERVER_POLL_INTERVAL_S = 1.0
VENDOR_POLL_INTERVAL_S = 3.0
#: `deecho serve` writes its generated key here, in its data folder (0600).
SERVER_KEY_FILE = "api_key"


def get_backend(
    name_or_url: str, settings: Settings, *, poll_interval_s: float | None = None
) -> Backend:
    """`local`, `musicgpt`, or `http(s)://host:port[/api/public/v1]` of a deecho server.

    `poll_interval_s` spaces `byId` calls (default: DEECHO_POLL_INTERVAL_S, else 1 s
    for a deecho server); MusicGPT is never polled faster than every 3 s.
    """
    choice = name_or_url.strip()
    if choice == "local":
        from deecho.backends.local import LocalBackend

        return LocalBackend(strength=settings.engine.strength)
    if choice == "musicgpt":
        return _musicgpt(settings, poll_interval_s)
    if choice.startswith(("http://", "https://")):
        return _server(choice, settings, poll_interval_s)
    raise UsageError(
        f"--backend {name_or_url}: use local, musicgpt, or a deecho server URL"
        " such as http://127.0.0.1:8000"
    )


def _poll_interval(given: float | None, default: float) -> float:
    if given is not None:
        return given
    from_env = os.environ.get("DEECHO_POLL_INTERVAL_S")
    try:
        return float(from_env) if from_env else default
    except ValueError:
        raise UsageError(f"DEECHO_POLL_INTERVAL_S={from_env}: give a number of seconds") from None


def _musicgpt(settings: Settings, poll_interval_s: float | None) -> Backend:
    from deecho.api.client import DeechoClient
    from deecho.backends.http import HttpBackend

    if settings.musicgpt_api_key is None or not settings.musicgpt_api_key.get_secret_value():
        raise AuthenticationError(
            "the musicgpt backend needs an API key; set DEECHO_MUSICGPT_API_KEY"
            " (or musicgpt_api_key in the settings file)"
        )
    interval = max(VENDOR_POLL_INTERVAL_S, _poll_interval(poll_interval_s, VENDOR_POLL_INTERVAL_S))
    client = DeechoClient(
        settings.musicgpt_base_url,
        settings.musicgpt_api_key.get_secret_value(),
        service="MusicGPT",
        key_hint="set DEECHO_MUSICGPT_API_KEY",
        min_poll_interval_s=interval,
        max_poll_interval_s=30.0,
    )
    return HttpBackend("musicgpt", client)


def _server_base(url: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        raise UsageError(f"--backend {url}: no host in this URL; e.g. http://127.0.0.1:8000")
    path = parts.path.rstrip("/")
    if not path.endswith(API_BASE_PATH):
        path += API_BASE_PATH
    return f"{parts.scheme}://{parts.netloc}{path}"


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _server_key(url: str, settings: Settings) -> str | None:
    """The key for a deecho server: the workspace's, DEECHO_API_KEY, or (on this machine)
    the one `deecho serve` generated into its data folder."""
    for secret in (settings.workspace.server_api_key, settings.api_key):
        if secret is not None and secret.get_secret_value():
            return secret.get_secret_value()
    if _is_loopback(url):
        from deecho.config import default_data_dir

        key_file = (settings.server.data_dir or default_data_dir()) / SERVER_KEY_FILE
        try:
            return key_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None
    return None


def _server(url: str, settings: Settings, poll_interval_s: float | None) -> Backend:
    from deecho.api.client import DeechoClient
    from deecho.backends.http import HttpBackend

    base = _server_base(url)
    key = _server_key(url, settings)
    if key is None:
        raise AuthenticationError(
            f"the deecho server at {url} needs its API key; set DEECHO_API_KEY"
            " (`deecho serve` prints it on first start)"
        )
    interval = _poll_interval(poll_interval_s, SERVER_POLL_INTERVAL_S)
    client = DeechoClient(
        base,
        key,
        service=f"the deecho server at {url}",
        key_hint="set DEECHO_API_KEY to the key `deecho serve` printed",
        min_poll_interval_s=interval,
        max_poll_interval_s=max(interval, 5.0),
    )
    return HttpBackend(url.rstrip("/"), client)
