"""Signed, expiring result links that a plain GET downloads.

A link is `/api/public/v1/files/<task_id>_<kind>.<ext>?expires=<unix>&token=<hex>`
where token = HMAC-SHA256(secret, "<file name>:<expires>"). The secret is
generated once per data dir (`url_secret`, 0600), independent of the API key,
so changing the key does not break links already handed out, and a link
cannot be guessed, altered to reach another file, or extended.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

__all__ = ["RESULT_FILES", "UrlSigner"]

#: Result kind -> file suffix, in the vendor's webhook order.
RESULT_FILES = {
    "no_echo": "_noecho.mp3",
    "no_echo_wav": "_noecho.wav",
    "echo": "_echo.mp3",
    "echo_wav": "_echo.wav",
}

FILES_PATH = "/api/public/v1/files/"


class UrlSigner:
    def __init__(self, secret: bytes, ttl_s: float) -> None:
        self._secret = secret
        self.ttl_s = ttl_s

    @classmethod
    def for_data_dir(cls, data_dir: Path, ttl_s: float) -> UrlSigner:
        path = data_dir / "url_secret"
        if not path.exists():
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(handle, "w", encoding="ascii") as stream:
                stream.write(secrets.token_hex(32))
        return cls(bytes.fromhex(path.read_text(encoding="ascii").strip()), ttl_s)

    def _token(self, name: str, expires: int) -> str:
        message = f"{name}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, name: str, now: float | None = None) -> str:
        """An absolute link to result file `name`, valid for ttl_s from now."""
        expires = int((now if now is not None else time.time()) + self.ttl_s)
        query = urlencode({"expires": expires, "token": self._token(name, expires)})
        return f"{base_url.rstrip('/')}{FILES_PATH}{name}?{query}"

    def valid(self, name: str, expires: str, token: str, now: float | None = None) -> bool:
        try:
            expires_at = int(expires)
        except ValueError:
            return False
        if expires_at < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(self._token(name, expires_at), token)
