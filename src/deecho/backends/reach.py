"""Whether a server still answers at its address: a TCP connection, nothing sent.

The workspace reopens on the backend last used; when that was a deecho server that has
since gone away, it says so at once, and lastingly, rather than when a job fails.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

__all__ = ["why_unreachable"]

#: How long a silent address is given before it counts as gone.
CONNECT_TIMEOUT_S = 3.0


def why_unreachable(url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when something accepts a connection at the URL's host and port; else what
    happened, in a few words that fit a narrow panel (the caller says what to do)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL with a host"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"{url!r} has no usable port"
    where = f"{parts.hostname}:{port}"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            return None
    except ConnectionRefusedError:
        return f"{where} refused the connection"
    except TimeoutError:
        return f"{where} did not answer within {timeout_s:g} s"
    except OSError as exc:
        return f"{where}: {exc.strerror or exc}"
