"""The server's shared state: the store, runner, signer and sender the routes answer from.

ServerState also words the answers: estimates (eta, credits), result links,
the `byId` conversion and the webhook payload. ApiError is any answer other
than 200, with the vendor's JSON error body.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from deecho.api.models import (
    WEBHOOK_COMPLETED_MESSAGE,
    Conversion,
    TaskStatus,
    WebhookPayload,
)
from deecho.server.auth import key_owner, keys_match, presented_key
from deecho.server.config import ServerConfig
from deecho.server.jobs import JobOutcome, read_progress, result_paths
from deecho.server.runner import JobRunner
from deecho.server.signing import UrlSigner
from deecho.server.store import StoredTask, TaskStore, iso_time
from deecho.server.webhooks import WebhookSender
from deecho.urls.policy import UrlPolicy

__all__ = ["API_PREFIX", "ApiError", "ServerState"]

API_PREFIX = "/api/public/v1"


class ApiError(Exception):
    """An answer other than 200, with the vendor's JSON error body."""

    def __init__(
        self,
        status_code: int,
        error: str,
        *,
        key: str = "error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.body = {"success": False, key: error}
        self.headers = headers


@dataclass
class ServerState:
    config: ServerConfig
    api_key: str
    key_generated: bool
    store: TaskStore
    signer: UrlSigner
    policy: UrlPolicy
    runner: JobRunner
    sender: WebhookSender

    def owner_of(self, request: Request) -> str:
        """The requester's key owner hash, or 401."""
        key = presented_key(request.headers.get("authorization"))
        if not keys_match(key, self.api_key):
            raise ApiError(401, "Authentication failed")
        return key_owner(self.api_key)

    def task_dir(self, task_id: str) -> Path:
        return self.config.data_dir / "tasks" / task_id

    # --- estimates ---------------------------------------------------------------------------

    def estimates(
        self, duration_s: float | None, sample_rate: int = 0, channels: int = 0
    ) -> tuple[int, float]:
        """(eta, own estimate): seconds until this task's result, and its own processing time.

        The eta is the task's own processing plus its share of the work ahead, spread
        over the workers: the queued tasks priced at the pace of now, and each running
        task's own estimate less its time so far. The own estimate and the task's size
        are stored with it. An audio_url's length is not known at submit: its eta is
        -1 (as the vendor's), its estimate the fixed cost.
        """
        pace, ahead_s = self.store.estimate_inputs(self.config.initial_speed)
        own = pace.estimate_s(duration_s or 0.0, sample_rate, channels, self.config.initial_speed)
        if duration_s is None:
            return -1, own
        return math.ceil(1.0 + own + ahead_s / max(1, self.config.workers)), own

    def credits(self, duration_s: float | None) -> float:
        if not duration_s:
            return 0.0
        return round(duration_s / 60.0 * self.config.credit_rate_per_minute, 2)

    # --- results -----------------------------------------------------------------------------

    def result_urls(self, task: StoredTask) -> dict[str, str]:
        paths = result_paths(self.task_dir(task.task_id), task.task_id)
        return {
            kind: self.signer.url(task.base_url, path.name) if path.exists() else ""
            for kind, path in paths.items()
        }

    def conversion(self, task: StoredTask) -> Conversion:
        urls = self.result_urls(task) if task.status == TaskStatus.COMPLETED.value else {}
        message, progress = task.message, None
        if task.status == TaskStatus.IN_PROGRESS.value:
            known = read_progress(self.task_dir(task.task_id))
            if known is not None:
                progress = known[0]
                message = f"Processing: {known[1]} ({round(100 * known[0])}%)"
        elif task.status == TaskStatus.COMPLETED.value:
            progress = 1.0
        return Conversion(
            task_id=task.task_id,
            conversion_id=task.conversion_id,
            status=task.status,
            message=message,
            status_msg=message,
            progress=progress,
            createdAt=iso_time(task.created_at),
            updatedAt=iso_time(task.updated_at),
            conversion_duration=task.duration_s,
            no_echo=urls.get("no_echo", ""),
            no_echo_wav=urls.get("no_echo_wav", ""),
            echo=urls.get("echo", ""),
            echo_wav=urls.get("echo_wav", ""),
            conversion_path=urls.get("no_echo", ""),
            conversion_path_wav=urls.get("no_echo_wav", ""),
            audio_url=task.audio_url or "",
            error=task.error,
            eta=task.eta_s,
            conversion_cost=f"{self.credits(task.duration_s):.2f}",
        )

    def finish(self, task: StoredTask, outcome: JobOutcome) -> None:
        """Record a task's end, measure the engine's speed, and queue the webhook."""
        status = TaskStatus(outcome.status)
        duration_s = outcome.duration_s if outcome.duration_s is not None else task.duration_s
        fields: dict[str, Any] = {"duration_s": duration_s, "processing_s": outcome.processing_s}
        if outcome.input_path:
            fields["input_path"] = outcome.input_path
        error = None if status == TaskStatus.COMPLETED else outcome.message
        webhook = None
        if task.webhook_url:
            finished = StoredTask(**{**task.__dict__, "status": status.value, **fields})
            webhook = (task.webhook_url, self.webhook_payload(finished, error).to_wire())
        self.store.finish(task.task_id, status, outcome.message, error, webhook, **fields)
        if status == TaskStatus.COMPLETED and outcome.timings is not None:
            # From the claim to now: the worker's own time plus the hand-over both ways.
            run_s = time.time() - task.started_at if task.started_at else None
            self.store.record_pace(outcome.timings, run_s)
        if webhook is not None:
            self.sender.wake()

    def webhook_payload(self, task: StoredTask, error: str | None) -> WebhookPayload:
        urls = self.result_urls(task) if error is None else {}
        input_name = Path(task.input_path).suffix if task.input_path else ""
        return WebhookPayload(
            success=error is None,
            task_id=task.task_id,
            conversion_id=task.conversion_id,
            audio_path=f"files/{task.task_id}{input_name}",
            message=WEBHOOK_COMPLETED_MESSAGE if error is None else "de_echo conversion Failed",
            conversion_duration=float(task.duration_s or 0.0),
            conversion_cost=f"{self.credits(task.duration_s):.2f}",
            error=error,
            **urls,
        )
