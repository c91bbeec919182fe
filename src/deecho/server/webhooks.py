"""Deliver webhooks from the `webhooks` table, retrying with exponential backoff.

A sender thread in the server process reads due deliveries from SQLite and
POSTs them from a few threads of its own, so a slow or dead receiver never
holds up a job worker or another delivery, and a restart resumes where the
last run stopped. Each POST carries the raw JSON body and

    X-Deecho-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by the API key>

plus `X-Deecho-Task-Id`, `X-Deecho-Delivery` and `X-Deecho-Attempt`. Any 2xx
answer counts as delivered; anything else (or no answer) is retried after
base·factor^(n−1) seconds, up to max_attempts tries in all. A try ends at
webhook_timeout_s whatever the receiver does (`deecho.urls.deadline`), and its body is never read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from deecho import __version__
from deecho.server.config import ServerConfig
from deecho.server.store import TaskStore
from deecho.server.webhook_queue import WebhookDelivery
from deecho.urls.deadline import exchange_within
from deecho.urls.policy import UnsafeUrlError, UrlPolicy, guarded_request

__all__ = ["SIGNATURE_HEADER", "WebhookSender", "retry_delay_s", "sign_body", "verify_signature"]

log = logging.getLogger("deecho.server")

SIGNATURE_HEADER = "X-Deecho-Signature"


def sign_body(body: bytes, api_key: str) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(api_key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header_value: str | None, api_key: str) -> bool:
    """What a receiver does: recompute the HMAC of the raw body and compare in constant time."""
    if not header_value:
        return False
    return hmac.compare_digest(sign_body(body, api_key), header_value.strip())


def retry_delay_s(attempts_made: int, config: ServerConfig) -> float | None:
    """Seconds to wait after the n-th failed try, or None when it was the last one."""
    if attempts_made >= config.webhook_max_attempts:
        return None
    return config.webhook_retry_base_s * config.webhook_retry_factor ** (attempts_made - 1)


class WebhookSender:
    def __init__(
        self, store: TaskStore, config: ServerConfig, api_key: str, policy: UrlPolicy
    ) -> None:
        self.store = store
        self.config = config
        self._api_key = api_key
        self._policy = policy
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="deecho-webhook")
        self._thread = threading.Thread(target=self._loop, name="deecho-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                for delivery in self.store.due_webhooks(time.time()):
                    with self._lock:
                        if delivery.id in self._in_flight:
                            continue
                        self._in_flight.add(delivery.id)
                    self._pool.submit(self._deliver, delivery)
                next_at = self.store.next_webhook_time()
            except Exception:
                log.exception("webhook sender error")
                next_at = None
            wait = 1.0 if next_at is None else min(1.0, max(0.01, next_at - time.time()))
            self._wake.wait(timeout=wait)
            self._wake.clear()

    def _deliver(self, delivery: WebhookDelivery) -> None:
        body = delivery.body.encode("utf-8")
        attempt = delivery.attempts + 1
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"deecho/{__version__}",
            SIGNATURE_HEADER: sign_body(body, self._api_key),
            "X-Deecho-Task-Id": delivery.task_id,
            "X-Deecho-Delivery": str(delivery.id),
            "X-Deecho-Attempt": str(attempt),
        }
        error: str | None = None
        permanent = False
        timeout_s = self.config.webhook_timeout_s
        # The deadline covers the whole delivery, redirects included; the answer's body
        # is never read (stream=True, then closed): only its status counts.
        with exchange_within(timeout_s) as exchange:
            try:
                response = guarded_request(
                    exchange.session,
                    "POST",
                    delivery.url,
                    self._policy,
                    field_name="webhook_url",
                    timeout=timeout_s,
                    data=body,
                    headers=headers,
                    stream=True,
                )
                response.close()
                if not 200 <= response.status_code < 300:
                    error = f"HTTP {response.status_code}"
            except UnsafeUrlError as exc:
                error, permanent = str(exc), True
            except Exception as exc:
                error = type(exc).__name__
            if exchange.expired.is_set() and error is not None:
                error = f"no answer within {timeout_s:g} s"
        delay = None if permanent or error is None else retry_delay_s(attempt, self.config)
        try:
            self.store.webhook_attempted(
                delivery.id,
                delivered=error is None,
                error=error,
                next_attempt_at=None if delay is None else time.time() + delay,
            )
        finally:
            with self._lock:
                self._in_flight.discard(delivery.id)
        if error is not None:
            log.warning("webhook for %s, try %d: %s", delivery.task_id, attempt, error)
        self._wake.set()
