"""Downloading result files: atomic (temp file, then rename) and resumable (`Range`)."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

from deecho.api.pacing import CancelCheck, Pacing, is_cancelled
from deecho.errors import BackendError, CancelledError

__all__ = ["Downloads"]

# The client's logger: download messages read as the client's own.
log = logging.getLogger("deecho.api.client")

#: Statuses a server may answer that still warrant retrying the same request.
_RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
#: Small enough that a cut transfer keeps most of what arrived (the last partial read is lost).
_CHUNK_BYTES = 1 << 14


class Downloads(Pacing):
    """`download` for a client that sets these attributes."""

    base_url: str
    api_key: str | None
    session: requests.Session
    timeout: float
    service: str

    def download(
        self,
        url: str,
        destination: Path,
        *,
        cancelled: CancelCheck | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        attempts: int = 4,
    ) -> Path:
        """Fetch a result file to `destination` atomically, resuming broken transfers.

        Bytes go to a hidden temporary file beside the destination, renamed into
        place only once complete. A transfer cut short is resumed with `Range`
        when the server honours it, otherwise restarted. `progress(bytes, total)`.
        """
        if not url:
            raise BackendError(f"{self.service} sent no result link; submit the file again")
        destination = Path(destination)
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
        )
        os.close(handle)
        temp = Path(temp_name)
        try:
            for attempt in range(1, attempts + 1):
                if self._fetch_into(url, temp, cancelled, progress):
                    os.replace(temp, destination)
                    return destination
                log.debug("download of %s broke (attempt %d of %d)", url, attempt, attempts)
                if attempt < attempts:
                    self._pause(self._backoff(attempt), cancelled)
        finally:
            temp.unlink(missing_ok=True)
        raise BackendError(
            f"the download of {destination.name} from {self.service} broke {attempts} times;"
            " check the connection and run it again"
        )

    def _fetch_into(
        self,
        url: str,
        temp: Path,
        cancelled: CancelCheck | None,
        progress: Callable[[int, int | None], None] | None,
    ) -> bool:
        """One transfer attempt; True when the file is complete."""
        have = temp.stat().st_size
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        if self.api_key and self._same_origin(url):
            # Only our own server gets the key: presigned storage links refuse extra auth.
            headers["Authorization"] = self.api_key
        try:
            response = self.session.get(
                url, headers=headers, stream=True, timeout=(10.0, self.timeout)
            )
        except (requests.ConnectionError, requests.Timeout):
            return False
        with response:
            if response.status_code == 416:
                temp.write_bytes(b"")  # our Range no longer fits the file: start again
                return False
            if have and response.status_code == 200:
                have = 0  # the server ignores Range: take the whole file again
                temp.write_bytes(b"")
            if response.status_code in _RETRYABLE_STATUSES or response.status_code >= 500:
                return False
            if response.status_code not in (200, 206):
                self._raise_for_download(response)
            total = self._expected_size(response, have)
            try:
                with open(temp, "ab") as sink:
                    for chunk in response.iter_content(_CHUNK_BYTES):
                        if is_cancelled(cancelled):
                            raise CancelledError("download cancelled; nothing was written")
                        sink.write(chunk)
                        have += len(chunk)
                        if progress is not None:
                            progress(have, total)
                    sink.flush()
                    os.fsync(sink.fileno())
            except (requests.ConnectionError, requests.Timeout, requests.RequestException):
                return False
        return total is None or have == total

    @staticmethod
    def _expected_size(response: requests.Response, have: int) -> int | None:
        content_range = response.headers.get("Content-Range", "")
        if response.status_code == 206 and "/" in content_range:
            total = content_range.rsplit("/", 1)[1]
            return int(total) if total.isdigit() else None
        length = response.headers.get("Content-Length")
        return have + int(length) if length and length.isdigit() else None

    def _raise_for_download(self, response: requests.Response) -> None:
        if response.status_code in (401, 403):
            raise BackendError(
                f"{self.service} refused the result link (HTTP {response.status_code}); links"
                " expire after a while: check the task again or submit the file again"
            )
        raise BackendError(
            f"{self.service} could not serve the result (HTTP {response.status_code});"
            " check the task again or submit the file again"
        )

    def _same_origin(self, url: str) -> bool:
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)
