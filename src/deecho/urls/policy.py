"""Keep `audio_url` and `webhook_url` from reaching places they must not (SSRF guard).

Only http and https. The host is resolved and every address it resolves to
must be public: loopback, private (RFC 1918, CGNAT, ULA), link-local (cloud
metadata lives at 169.254.169.254), multicast, reserved and unspecified
addresses are refused, unless the policy allows private hosts
(`--allow-private-urls`) or loopback ones (the default when the server itself
listens on loopback only: its callers are on this machine already).
Redirects are followed by hand, and each hop is checked again. Downloads have
a byte cap and an overall deadline.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from deecho.errors import UsageError

__all__ = [
    "FetchError",
    "Resolver",
    "UnsafeUrlError",
    "UrlPolicy",
    "check_url",
    "cut_response",
    "fetch_to_file",
    "guarded_request",
    "system_resolver",
]

Resolver = Callable[[str, int], list[str]]
_REDIRECTS = (301, 302, 303, 307, 308)


class UnsafeUrlError(UsageError):
    """The URL's scheme or host is not one the server may reach."""


class FetchError(UsageError):
    """The audio_url could not be downloaded."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, as the operating system sees it."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeUrlError(f"{host}: the host name does not resolve ({exc.strerror})") from exc
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class UrlPolicy:
    allow_private: bool = False
    allow_loopback: bool = False
    resolver: Resolver = field(default=system_resolver)


def _address_refusal(address: str, policy: UrlPolicy) -> str | None:
    """Why the server may not connect to `address`, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if policy.allow_private:
        return None
    if ip.is_loopback:
        return None if policy.allow_loopback else "a loopback address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private or not ip.is_global:
        return "a private or reserved address"
    return None


def check_url(url: str, policy: UrlPolicy, field_name: str = "audio_url") -> None:
    """Raise UnsafeUrlError unless `url` is http(s) to a host the policy lets the server reach."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        scheme = parts.scheme or "no scheme"
        raise UnsafeUrlError(f"{field_name}: only http and https URLs are accepted, not {scheme}")
    host = parts.hostname
    if not host:
        raise UnsafeUrlError(f"{field_name}: the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrlError(f"{field_name}: the URL's port is not a number") from exc
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = policy.resolver(host, port)
    if not addresses:
        raise UnsafeUrlError(f"{field_name}: {host} resolves to no address")
    for address in addresses:
        why = _address_refusal(address, policy)
        if why is not None:
            raise UnsafeUrlError(
                f"{field_name}: {host} resolves to {why} ({address}); the server does not reach"
                " private hosts unless started with --allow-private-urls"
            )


def guarded_request(
    session: requests.Session,
    method: str,
    url: str,
    policy: UrlPolicy,
    *,
    field_name: str,
    timeout: float,
    max_redirects: int = 5,
    **kwargs: Any,
) -> requests.Response:
    """`session.request` that checks the URL and every redirect target before connecting."""
    for _ in range(max_redirects + 1):
        check_url(url, policy, field_name)
        response = session.request(method, url, allow_redirects=False, timeout=timeout, **kwargs)
        if response.status_code not in _REDIRECTS or "location" not in response.headers:
            return response
        response.close()
        url = urljoin(url, response.headers["location"])
        if response.status_code == 303 or (
            response.status_code in (301, 302) and method.upper() == "POST"
        ):
            method = "GET"  # what browsers and requests do; 307/308 keep the method and body
            kwargs.pop("data", None)
            kwargs.pop("json", None)
    raise FetchError(f"{field_name}: more than {max_redirects} redirects")


def cut_response(response: requests.Response) -> None:
    """End a download from another thread: shutting the socket down wakes a blocked read."""
    raw: Any = response.raw  # urllib3 -> http.client -> socket: no public way down
    with contextlib.suppress(Exception):
        raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


def fetch_to_file(
    url: str,
    folder: Path,
    policy: UrlPolicy,
    max_bytes: int,
    timeout_s: float,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[Path, str]:
    """Download `url` into a new file in `folder`; returns (path, the server's file name).

    Refuses bodies over `max_bytes` (by Content-Length up front, and by
    counting) and stops when the whole download takes longer than `timeout_s`.
    `progress(bytes so far, bytes declared or None)` after each chunk.
    """
    # The deadline covers the whole exchange, headers included: a server dribbling a
    # byte now and then never trips the per-read timeout, so the exchange's timer shuts
    # its connections at the deadline, which ends the blocked read.
    from deecho.urls.deadline import exchange_within

    deadline = time.monotonic() + timeout_s
    too_slow = FetchError(f"audio_url: the download took longer than {timeout_s:g} s")
    with exchange_within(timeout_s) as exchange:
        try:
            response = guarded_request(
                exchange.session,
                "GET",
                url,
                policy,
                field_name="audio_url",
                timeout=min(30.0, timeout_s),
                stream=True,
            )
        except requests.RequestException as exc:
            if exchange.expired.is_set():
                raise too_slow from exc
            raise FetchError(f"audio_url: cannot download ({type(exc).__name__})") from exc
        with response:
            if response.status_code != 200:
                raise FetchError(f"audio_url: the server answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"audio_url: the file is larger than the {max_bytes} byte limit")
            name = Path(urlsplit(response.url or url).path).name or "audio"
            total = int(declared) if declared and declared.isdigit() else None
            handle, temp_name = tempfile.mkstemp(prefix=".fetch.", dir=folder)
            received = 0
            try:
                with os.fdopen(handle, "wb") as stream:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        received += len(chunk)
                        if received > max_bytes:
                            raise FetchError(
                                f"audio_url: the file is larger than the {max_bytes} byte limit"
                            )
                        if time.monotonic() > deadline:
                            raise too_slow
                        stream.write(chunk)
                        if progress is not None:
                            progress(received, total)
                if exchange.expired.is_set():
                    raise too_slow  # the deadline cut the body short
            except (requests.RequestException, OSError, ValueError, AttributeError) as exc:
                # a shut connection surfaces as any of these, depending on where the read was
                Path(temp_name).unlink(missing_ok=True)
                if exchange.expired.is_set() or time.monotonic() > deadline:
                    raise too_slow from exc
                raise FetchError(
                    f"audio_url: the download broke off ({type(exc).__name__})"
                ) from exc
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
    if received == 0:
        Path(temp_name).unlink(missing_ok=True)
        raise FetchError("audio_url: the server sent an empty file")
    return Path(temp_name), name
