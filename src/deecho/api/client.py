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

The parts live beside this module: deecho.api.pacing (cancel checks,
Retry-After, backoff), deecho.api.download (atomic, resumable downloads) and
deecho.api.answers (reading answers, mapping HTTP errors to deecho's).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from pydantic import ValidationError

from deecho.api.answers import json_object, one_line, raise_for_status, unreadable_answer
from deecho.api.download import Downloads
from deecho.api.models import (
    CONVERSION_TYPE,
    ByIdResponse,
    Conversion,
    ErrorBody,
    SubmitResponse,
    TaskStatus,
)
from deecho.api.multipart import MultipartFile
from deecho.api.pacing import CancelCheck, is_cancelled, retry_after_s
from deecho.errors import (
    BackendError,
    CancelledError,
    RateLimitedError,
    TaskFailedError,
    TaskGoneError,
    TaskTimeoutError,
)

__all__ = ["CancelCheck", "DeechoClient", "StatusCallback"]

#: Called with each conversion state `wait` sees.
StatusCallback = Callable[[Conversion], None]

#: Free-plan limit of `byId`: 20 calls a minute.
VENDOR_MIN_POLL_INTERVAL_S = 3.0
#: Seconds a server may take to answer once an upload is sent.
UPLOAD_ANSWER_TIMEOUT_S = 300.0


class DeechoClient(Downloads):
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
        document = json_object(response, self.service, self.base_url)
        if document.get("success") is False or not document.get("task_id"):
            reason = ErrorBody.model_validate(document).reason
            raise BackendError(f"{self.service} did not accept the task: {one_line(reason)}")
        try:
            return SubmitResponse.model_validate(document)
        except ValidationError as exc:
            raise unreadable_answer(self.service, "submit", exc) from exc

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
            raise TaskGoneError(
                f"{self.service} has no task {task_id or conversion_id}; it may have expired,"
                " or it belongs to another API key: submit the file again"
            )
        document = json_object(response, self.service, self.base_url)
        if document.get("success") is False or not isinstance(document.get("conversion"), dict):
            reason = ErrorBody.model_validate(document).reason
            raise BackendError(f"{self.service} could not report the task: {one_line(reason)}")
        try:
            return ByIdResponse.model_validate(document).conversion
        except ValidationError as exc:
            raise unreadable_answer(self.service, "byId", exc) from exc

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
                    f" {one_line(conversion.reason)}; check the input audio and submit it again"
                )
            delay = min(delay * 1.5, self.max_poll_interval_s)

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
            if is_cancelled(cancelled):
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
                    raise_for_status(response, self.service, self.key_hint)
                return response
            wait = retry_after_s(response)
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
                raise_for_status(response, self.service, self.key_hint)
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
