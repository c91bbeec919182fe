"""The server's API key: where it comes from and how a request proves it holds it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["KEY_FILE_NAME", "key_owner", "load_or_create_key", "presented_key"]

KEY_FILE_NAME = "api_key"


def load_or_create_key(data_dir: Path, configured: str | None) -> tuple[str, bool]:
    """The key to accept and whether it was generated just now.

    `configured` (DEECHO_API_KEY or the settings file) wins. Otherwise the key
    stored in the data dir is used, or a new one is generated and stored there,
    readable by its owner only (0600), so a restart keeps the same key.
    """
    if configured:
        return configured, False
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key, False
    key = secrets.token_urlsafe(32)
    # O_EXCL with mode 0600: the key is never readable by others, not even for a moment.
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(key + "\n")
    return key, True


def presented_key(authorization: str | None) -> str | None:
    """The key in an `Authorization` header: the raw key (the vendor's way) or `Bearer <key>`."""
    if not authorization:
        return None
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip()
    return value


def key_owner(key: str) -> str:
    """What the database stores to tie a task to its key: a hash, never the key itself."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def keys_match(presented: str | None, expected: str) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))
