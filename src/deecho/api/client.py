"""One client for the deecho API: MusicGPT's service and this project's `deecho serve`.

    client = DeechoClient("https://api.musicgpt.com/api/public/v1", key)
    task = client.submit_file(Path("take3.wav"))
    done = client.wait(task.task_id, eta_s=task.eta, cancelled=stop_event)
    client.download(done.no_echo_url(), Path("take3.no_echo.wav"))

The HTTP transport is a `requests.Session` the caller may inject (a session
with a custom adapter mounted is requests' equivalent of httpx's
MockTransport), and time is read and spent through injectable `clock` and
`sleep` functions, so tests can check waits without waiting.

Pacing: polls of `byId` are never closer together than `min_poll_interval_s`
(3 s by default: the vendor's Free plan allows 20 calls a minute), and back
off towards `max_poll_interval_s` while the task runs. A 429 is retried after
its `Retry-After` (or an exponential backoff) up to `max_retries` times before
RateLimitedError is raised.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import ValidationError

from deecho.api.models import (
    CONVERSION_TYPE,
    ByIdResponse,
    Conversion,
    ErrorBody,
    SubmitResponse,
    TaskStatus,
)
from deecho.api.multipart import MultipartFile
from deecho.errors import (
    AuthenticationError,
    BackendError,
    CancelledError,
    InsufficientCreditsError,
    RateLimitedError,
    TaskFailedError,
    TaskTimeoutError,
)

__all__ = ["CancelCheck", "DeechoClient", "StatusCallback"]

log = logging.getLogger(__name__)

#: Something that says whether to stop: a function, or a threading.Event set by another thread.
CancelCheck = Callable[[], bool] | threading.Event
#: Called with each conversion state `wait` sees.
StatusCallback = Callable[[Conversion], None]

#: Free-plan limit of `byId`: 20 calls a minute.
VENDOR_MIN_POLL_INTERVAL_S = 3.0
#: Statuses a server may answer that still warrant retrying the same request.
_RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
#: Seconds a server may take to answer once an upload is sent.
UPLOAD_ANSWER_TIMEOUT_S = 300.0
#: Longest slice of a wait between two looks at the cancel flag.
_CANCEL_CHECK_S = 0.2
#: Small enough that a cut transfer keeps most of what arrived (the last partial read is lost).
_CHUNK_BYTES = 1 << 14


def _is_cancelled(cancelled: CancelCheck | None) -> bool:
    if cancelled is None:
        return False
    if isinstance(cancelled, threading.Event):
        return cancelled.is_set()
    return bool(cancelled())


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _retry_after_s(response: requests.Response) -> float | None:
    """`Retry-After` in seconds, from either of its two forms (seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_body(response: requests.Response) -> ErrorBody:
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict):
        try:
            return ErrorBody.model_validate(document)
        except ValidationError:
            pass
    text = _one_line(response.text or "", 120) or None
    return ErrorBody(error=text or response.reason or None)


class DeechoClient:
    """Submit, poll and download deecho tasks on one server (vendor or local)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        *,
        service: str = "the deecho server",
        key_hint: str = "set DEECHO_API_KEY",
        min_poll_interval_s: float = VENDOR_MIN_POLL_INTERVAL_S,
        max_poll_interval_s: float = 30.0,
        max_retries: int = 5,
        backoff_base_s: float = 2.0,
        max_retry_after_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`service` and `key_hint` word the errors ("MusicGPT refused the API key; set …").

        A 429 whose Retry-After exceeds `max_retry_after_s` is not slept through:
        RateLimitedError is raised at once, carrying the wait the server asked for.
        """
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.session = session or requests.Session()
        self._owns_session = session is None
        self.timeout = timeout
        self.service = service
        self.key_hint = key_hint
        self.min_poll_interval_s = min_poll_interval_s
        self.max_poll_interval_s = max(max_poll_interval_s, min_poll_interval_s)
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._clock = clock
        self._last_poll_at: float | None = None
        self._poll_lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> DeechoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- submit ------------------------------------------------------------------------------

    def submit_file(
        self, path: Path, webhook_url: str | None = None, cancelled: CancelCheck | None = None
    ) -> SubmitResponse:
        """Upload an audio file (multipart `audio_file`) and return the accepted task.

        The body streams from disk (see deecho.api.multipart): memory stays flat.
        """
        fields = {"webhook_url": webhook_url} if webhook_url else {}
        try:
            upload = MultipartFile(fields, "audio_file", Path(path))
        except OSError as exc:
            raise BackendError(f"{path}: cannot read the file to upload ({exc.strerror})") from exc
        with upload:

            def body() -> dict[str, Any]:
                upload.rewind()  # a retried upload must send the file from its start
                return {"data": upload, "headers": {"Content-Type": upload.content_type}}

            response = self._send("POST", self._url("deecho"), body, cancelled, retry_any=False)
        return self._parse_submit(response)

    def submit_url(
        self, audio_url: str, webhook_url: str | None = None, cancelled: CancelCheck | None = None
    ) -> SubmitResponse:
        """Ask the server to fetch `audio_url` itself (form-encoded, as the vendor's sample)."""
        data = {"audio_url": audio_url}
        if webhook_url:
            data["webhook_url"] = webhook_url
        response = self._send(
            "POST", self._url("deecho"), lambda: {"data": data}, cancelled, retry_any=False
        )
        return self._parse_submit(response)

    def _parse_submit(self, response: requests.Response) -> SubmitResponse:
        if response.status_code == 404:
            raise BackendError(
                f"no deecho endpoint at {self._url('deecho')} (HTTP 404); check the base URL"
            )
        document = self._json(response)
        if document.get("success") is False or not document.get("task_id"):
            reason = ErrorBody.model_validate(document).reason
            raise BackendError(f"{self.service} did not accept the task: {_one_line(reason)}")
        try:
            return SubmitResponse.model_validate(document)
        except ValidationError as exc:
            raise self._unexpected("submit", exc) from exc

    # ---- poll --------------------------------------------------------------------------------

    def status(
        self,
        task_id: str | None = None,
        *,
        conversion_id: str | None = None,
        cancelled: CancelCheck | None = None,
    ) -> Conversion:
        """One `byId` call, spaced at least `min_poll_interval_s` after the previous one."""
        if bool(task_id) == bool(conversion_id):
            raise ValueError("give exactly one of task_id and conversion_id")
        params = {"conversionType": CONVERSION_TYPE}
        if task_id:
            params["task_id"] = task_id
        else:
            params["conversion_id"] = str(conversion_id)
        with self._poll_lock:
            if self._last_poll_at is not None:
                due = self._last_poll_at + self.min_poll_interval_s
                self._pause(due - self._clock(), cancelled)
            try:
                response = self._send(
                    "GET", self._url("byId"), lambda: {"params": params}, cancelled, retry_any=True
                )
            finally:
                self._last_poll_at = self._clock()
        if response.status_code == 404:
            raise BackendError(
                f"{self.service} has no task {task_id or conversion_id}; it may have expired,"
                " or it belongs to another API key: submit the file again"
            )
        document = self._json(response)
        if document.get("success") is False or not isinstance(document.get("conversion"), dict):
            reason = ErrorBody.model_validate(document).reason
            raise BackendError(f"{self.service} could not report the task: {_one_line(reason)}")
        try:
            return ByIdResponse.model_validate(document).conversion
        except ValidationError as exc:
            raise self._unexpected("byId", exc) from exc

    def wait(
        self,
        task_id: str,
        *,
        eta_s: float | None = None,
        timeout_s: float = 1800.0,
        cancelled: CancelCheck | None = None,
        on_status: StatusCallback | None = None,
    ) -> Conversion:
        """Poll until the task is COMPLETED and return it.

        Raises TaskFailedError (FAILED/ERROR), TaskTimeoutError (past `timeout_s`),
        CancelledError (when `cancelled` says so between polls).
        """
        deadline = self._clock() + timeout_s
        # The first look waits for the eta when the server gave one (-1: unknown).
        delay = self.min_poll_interval_s
        if eta_s is not None and eta_s > 0:
            delay = min(max(float(eta_s) / 2.0, self.min_poll_interval_s), self.max_poll_interval_s)
        while True:
            left = deadline - self._clock()
            if left <= 0:
                raise TaskTimeoutError(
                    f"{self.service} task {task_id} did not finish within {timeout_s:.0f} s;"
                    " raise the timeout, or check on it later by its task id"
                )
            self._pause(min(delay, left), cancelled)
            conversion = self.status(task_id, cancelled=cancelled)
            if on_status is not None:
                on_status(conversion)
            state = conversion.task_status
            if state is TaskStatus.COMPLETED:
                return conversion
            if state in (TaskStatus.FAILED, TaskStatus.ERROR):
                raise TaskFailedError(
                    f"{self.service} task {task_id} ended {state.value}:"
                    f" {_one_line(conversion.reason)}; check the input audio and submit it again"
                )
            delay = min(delay * 1.5, self.max_poll_interval_s)

    # ---- download ----------------------------------------------------------------------------

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
                        if _is_cancelled(cancelled):
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

    # ---- the request loop --------------------------------------------------------------------

    def _url(self, endpoint: str) -> str:
        return f"{self.base_url}/{endpoint}"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = self.api_key
        return headers

    def _send(
        self,
        method: str,
        url: str,
        body: Callable[[], dict[str, Any]],
        cancelled: CancelCheck | None,
        *,
        retry_any: bool,
    ) -> requests.Response:
        """Send with retries: 429 and 503 always; other 5xx and lost connections when
        `retry_any` (idempotent calls only: a retried upload could start a second task)."""
        # A server may take a while to answer an upload it has to store: give it longer.
        read_timeout = self.timeout if retry_any else max(self.timeout, UPLOAD_ANSWER_TIMEOUT_S)
        attempt = 0
        while True:
            attempt += 1
            if _is_cancelled(cancelled):
                raise CancelledError("cancelled before the server answered; nothing was written")
            try:
                options = body()
                headers = {**self._headers(), **options.pop("headers", {})}
                response = self.session.request(
                    method, url, headers=headers, timeout=(10.0, read_timeout), **options
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not retry_any or attempt > self.max_retries:
                    raise self._unreachable(exc, read_timeout) from exc
                self._pause(self._backoff(attempt), cancelled)
                continue
            retryable = response.status_code in (429, 503) or (
                retry_any and response.status_code >= 500
            )
            if not retryable:
                if response.status_code >= 400 and response.status_code != 404:
                    self._raise_for(response)
                return response
            wait = _retry_after_s(response)
            if response.status_code == 429 and wait is not None and wait > self.max_retry_after_s:
                raise RateLimitedError(
                    f"{self.service} asks to wait {wait:.0f} s before the next request;"
                    " try again then",
                    retry_after_s=wait,
                )
            if attempt > self.max_retries:
                if response.status_code == 429:
                    raise RateLimitedError(
                        f"{self.service} kept answering 'too many requests' after"
                        f" {self.max_retries} retries; wait a minute or lower the parallel jobs",
                        retry_after_s=wait,
                    )
                self._raise_for(response)
            response.close()
            self._pause(wait if wait is not None else self._backoff(attempt), cancelled)

    def _unreachable(self, exc: Exception, read_timeout: float) -> BackendError:
        if isinstance(exc, requests.ReadTimeout):
            return BackendError(
                f"{self.service} did not answer within {read_timeout:.0f} s; it may still have"
                " taken the task: check before sending it again"
            )
        return BackendError(
            f"cannot reach {self.service} at {self.base_url} ({type(exc).__name__});"
            " check the URL and the connection"
        )

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_base_s * 2 ** (attempt - 1), 60.0))

    def _pause(self, seconds: float, cancelled: CancelCheck | None) -> None:
        """Sleep `seconds`, looking at the cancel flag every fraction of a second."""
        end = self._clock() + max(0.0, seconds)
        while True:
            if _is_cancelled(cancelled):
                raise CancelledError("cancelled while waiting for the server; nothing was written")
            left = end - self._clock()
            if left <= 0:
                return
            self._sleep(min(left, _CANCEL_CHECK_S))

    def _json(self, response: requests.Response) -> dict[str, Any]:
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise BackendError(
                f"{self.service} answered something other than JSON"
                f" (HTTP {response.status_code}); check the base URL {self.base_url}"
            )
        return document

    def _unexpected(self, what: str, exc: ValidationError) -> BackendError:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return BackendError(
            f"{self.service} sent a {what} answer deecho cannot read ({where}: {first['msg']});"
            " check the base URL, or update deecho"
        )

    def _raise_for(self, response: requests.Response) -> None:
        error = _error_body(response)
        reason = _one_line(error.reason)
        code = response.status_code
        if code in (401, 403):
            raise AuthenticationError(
                f"{self.service} refused the API key ({reason}); {self.key_hint}"
            )
        if code == 402:
            raise InsufficientCreditsError(
                f"{self.service} needs more credits{self._credits_text(error)};"
                " top up the account, or use --backend local",
                required_credits=error.required_credits,
                available_credits=error.available_credits,
            )
        if code == 429:
            raise RateLimitedError(
                f"{self.service} is rate limiting this key ({reason}); wait a minute and retry",
                retry_after_s=_retry_after_s(response),
            )
        if code == 413:
            raise BackendError(
                f"{self.service} refused the upload as too large ({reason});"
                " send a shorter excerpt (--start/--end)"
            )
        if code in (400, 409, 415, 422):
            raise BackendError(f"{self.service} rejected the request ({code}: {reason})")
        raise BackendError(
            f"{self.service} failed (HTTP {code}: {reason}); try again later,"
            " or use --backend local"
        )

    @staticmethod
    def _credits_text(error: ErrorBody) -> str:
        if error.required_credits is None and error.available_credits is None:
            return ""
        required = "?" if error.required_credits is None else f"{error.required_credits:g}"
        available = "?" if error.available_credits is None else f"{error.available_credits:g}"
        return f" (this task needs {required}, the account has {available})"
