"""Reading a server's answers: JSON bodies, and HTTP errors mapped to deecho's exceptions.

Each error says in one line what happened and what to do; `service` and
`key_hint` word them ("MusicGPT refused the API key; set …").
"""

from __future__ import annotations

from typing import Any

import requests
from pydantic import ValidationError

from deecho.api.models import ErrorBody
from deecho.api.pacing import retry_after_s
from deecho.errors import (
    AuthenticationError,
    BackendError,
    InsufficientCreditsError,
    RateLimitedError,
)

__all__ = ["error_body", "json_object", "one_line", "raise_for_status", "unreadable_answer"]


def one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_body(response: requests.Response) -> ErrorBody:
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict):
        try:
            return ErrorBody.model_validate(document)
        except ValidationError:
            pass
    text = one_line(response.text or "", 120) or None
    return ErrorBody(error=text or response.reason or None)


def json_object(response: requests.Response, service: str, base_url: str) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise BackendError(
            f"{service} answered something other than JSON"
            f" (HTTP {response.status_code}); check the base URL {base_url}"
        )
    return document


def unreadable_answer(service: str, what: str, exc: ValidationError) -> BackendError:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return BackendError(
        f"{service} sent a {what} answer deecho cannot read ({where}: {first['msg']});"
        " check the base URL, or update deecho"
    )


def raise_for_status(response: requests.Response, service: str, key_hint: str) -> None:
    error = error_body(response)
    reason = one_line(error.reason)
    code = response.status_code
    if code in (401, 403):
        raise AuthenticationError(f"{service} refused the API key ({reason}); {key_hint}")
    if code == 402:
        raise InsufficientCreditsError(
            f"{service} needs more credits{_credits_text(error)};"
            " top up the account, or use --backend local",
            required_credits=error.required_credits,
            available_credits=error.available_credits,
        )
    if code == 429:
        raise RateLimitedError(
            f"{service} is rate limiting this key ({reason}); wait a minute and retry",
            retry_after_s=retry_after_s(response),
        )
    if code == 413:
        raise BackendError(
            f"{service} refused the upload as too large ({reason});"
            " send a shorter excerpt (--start/--end)"
        )
    if code in (400, 409, 415, 422):
        raise BackendError(f"{service} rejected the request ({code}: {reason})")
    raise BackendError(
        f"{service} failed (HTTP {code}: {reason}); try again later, or use --backend local"
    )


def _credits_text(error: ErrorBody) -> str:
    if error.required_credits is None and error.available_credits is None:
        return ""
    required = "?" if error.required_credits is None else f"{error.required_credits:g}"
    available = "?" if error.available_credits is None else f"{error.available_credits:g}"
    return f" (this task needs {required}, the account has {available})"
