"""yt-dlp's network, through the server's URL policy: the only way its requests leave.

yt-dlp sends every request (the page, each redirect, manifests, HLS and DASH
segments, encryption keys) through a `RequestDirector` that picks among
`RequestHandler`s. `pages.py` gives it a director holding this handler alone,
so each request is checked by `check_url` before any connection, its
redirects are followed by hand and checked hop by hop (`guarded_request`),
and every byte read counts against one `FetchBudget`.

No cookies go out or are kept, no credentials are sent (`Authorization`,
user:password in a URL, .netrc), and no proxy is used.
"""

from __future__ import annotations

import http.cookiejar
from typing import Any

import requests

# The adapter that maps urllib3's read errors to yt-dlp's; the module is private to yt-dlp,
# but this class has kept its shape since the networking rewrite (2023.10).
from yt_dlp.networking._requests import RequestsResponseAdapter
from yt_dlp.networking.common import Request, RequestHandler
from yt_dlp.networking.exceptions import (
    HTTPError,
    RequestError,
    TransportError,
)

from deecho.urls.budget import FetchBudget
from deecho.urls.policy import FetchError, UnsafeUrlError, UrlPolicy, guarded_request

__all__ = ["GuardedRH", "RefusedRequest"]

#: Headers that would carry credentials or cookies: never sent.
_PRIVATE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
#: yt-dlp request extensions that need nothing from this handler (it keeps no cookie jar).
_HARMLESS_EXTENSIONS = ("timeout", "cookiejar", "legacy_ssl", "keep_header_casing")
#: Longest single wait for a connection or a read; the budget's deadline bounds the whole.
_READ_TIMEOUT_S = 30.0


class RefusedRequest(RequestError):
    """The URL policy or the budget stopped a request; `budget.refusal` says why."""


def _no_cookies() -> requests.cookies.RequestsCookieJar:
    """A jar that accepts no cookie, so nothing a server sets is sent back."""
    return requests.cookies.RequestsCookieJar(
        policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
    )


def _no_auth(prepared: requests.PreparedRequest) -> requests.PreparedRequest:
    return prepared


class _CountedResponse(RequestsResponseAdapter):
    """A response whose reads count against the budget and stop when it is spent."""

    def __init__(self, response: requests.Response, budget: FetchBudget) -> None:
        super().__init__(response)
        self._budget = budget
        budget.track(response)

    def read(self, amt: int | None = None) -> bytes:
        try:
            data: bytes = super().read(amt)
        except RequestError:
            self._stop_if_spent()  # a read cut by the watchdog: the deadline is the reason
            raise
        return data

    def _real_read(self, amt: int | None = None) -> bytes:
        """Counted chunk by chunk: a body of unknown length stops at the cap, not at its end."""
        if amt is not None:
            return self._counted(amt)
        chunks = []
        while chunk := self._counted(1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)

    def _counted(self, amt: int) -> bytes:
        self._stop_if_spent()
        data: bytes = self.fp.read(amt, decode_content=True)
        try:
            self._budget.count(len(data))
        except (FetchError, UnsafeUrlError) as exc:
            self.close()
            raise RefusedRequest(str(exc)) from exc
        return data

    def _stop_if_spent(self) -> None:
        try:
            self._budget.check_open()
        except (FetchError, UnsafeUrlError) as exc:
            self.close()
            raise RefusedRequest(str(exc)) from exc

    def close(self) -> None:
        self._budget.untrack(self._requests_response)
        super().close()


class GuardedRH(RequestHandler):
    """Sends yt-dlp's requests with `requests`, each one past the URL policy and the budget."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = None
    _SUPPORTED_FEATURES = None

    def __init__(self, *, policy: UrlPolicy, budget: FetchBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.budget = budget
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy from the environment, no .netrc credentials
        self.session.cookies = _no_cookies()
        self.session.auth = _no_auth  # else requests sends a URL's user:password as Basic auth

    def close(self) -> None:
        self.session.close()

    def _check_proxies(self, proxies: dict[str, Any]) -> None:
        """Proxies are never used, so whatever yt-dlp was told about them does not matter."""

    def _check_extensions(self, extensions: dict[str, Any]) -> None:
        super()._check_extensions(extensions)
        for name in _HARMLESS_EXTENSIONS:
            extensions.pop(name, None)  # anything left (impersonate) makes the request unsupported

    def _send(self, request: Request) -> _CountedResponse:
        try:
            self.budget.check_open()
        except (FetchError, UnsafeUrlError) as exc:
            raise RefusedRequest(str(exc)) from exc
        headers = {
            name: value
            for name, value in self._get_headers(request).items()
            if name.lower() not in _PRIVATE_HEADERS
        }
        timeout = max(0.1, min(_READ_TIMEOUT_S, self.budget.remaining_s()))
        try:
            response = guarded_request(
                self.session,
                request.method,
                request.url,
                self.policy,
                field_name="audio_url",
                timeout=timeout,
                headers=headers,
                data=request.data,
                stream=True,
            )
        except (FetchError, UnsafeUrlError) as exc:
            raise RefusedRequest(str(self.budget.refuse(exc))) from exc
        except requests.RequestException as exc:
            raise TransportError(cause=exc) from exc
        declared = response.headers.get("content-length", "")
        if declared.isdigit():
            try:
                self.budget.expect(int(declared))
            except FetchError as exc:
                response.close()
                raise RefusedRequest(str(exc)) from exc
        counted = _CountedResponse(response, self.budget)
        if not 200 <= response.status_code < 300:
            raise HTTPError(counted)
        return counted
