"""The FastAPI app: the MusicGPT deecho routes over the store, the runner and the sender.

Handlers only validate, write to disk and SQLite, and answer: every job runs
in a worker process, every webhook in the sender's threads.
"""

from __future__ import annotations

import json
import logging
import math
import mimetypes
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from deecho import __version__
from deecho.api.models import (
    CONVERSION_TYPE,
    SUBMIT_MESSAGE,
    WEBHOOK_COMPLETED_MESSAGE,
    ByIdResponse,
    Conversion,
    SubmitResponse,
    TaskStatus,
    WebhookPayload,
)
from deecho.errors import AudioError
from deecho.server.auth import key_owner, keys_match, load_or_create_key, presented_key
from deecho.server.config import ServerConfig
from deecho.server.jobs import JobOutcome, read_progress, result_paths
from deecho.server.leader import Leadership
from deecho.server.runner import JobRunner
from deecho.server.signing import RESULT_FILES, UrlSigner
from deecho.server.store import StoredTask, TaskStore, iso_time
from deecho.server.uploads import FormError, UploadTooLarge, drain, read_submit_form
from deecho.server.urlguard import Resolver, UnsafeUrlError, UrlPolicy, check_url, system_resolver
from deecho.server.webhooks import WebhookSender

__all__ = ["ApiError", "ServerState", "create_app"]

log = logging.getLogger("deecho.server")

API_PREFIX = "/api/public/v1"
_TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FILE_NAME = re.compile(
    rf"(?P<task>{_TASK_ID.pattern})(?P<suffix>{'|'.join(map(re.escape, RESULT_FILES.values()))})"
)
#: Form fields beyond the file are small; allow this much besides the file in Content-Length.
_FORM_OVERHEAD_BYTES = 128 * 1024


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

    def eta_s(self, duration_s: float) -> int:
        """Seconds until this task's result: its own processing plus its share of the queue."""
        speed = self.store.speed(self.config.initial_speed)
        ahead_s = self.store.queued_audio_seconds()
        workers = max(1, self.config.workers)
        return math.ceil(1.0 + speed * (duration_s + ahead_s / workers))

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
        if status == TaskStatus.COMPLETED and duration_s:
            self.store.record_speed(outcome.processing_s, duration_s)
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


def _json_error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status_code, headers=exc.headers)


def create_app(config: ServerConfig, resolver: Resolver | None = None) -> FastAPI:
    """The server for `config`; workers and the webhook sender start with the app's lifespan."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    (config.data_dir / "tasks").mkdir(exist_ok=True)
    api_key, generated = load_or_create_key(config.data_dir, config.api_key)
    store = TaskStore(config.data_dir / "tasks.sqlite3")
    policy = UrlPolicy(
        allow_private=config.allow_private_urls,
        allow_loopback=config.loopback_urls_allowed,
        resolver=resolver or system_resolver,
    )
    state_holder: dict[str, ServerState] = {}
    runner = JobRunner(store, config, lambda task, outcome: state_holder["s"].finish(task, outcome))
    state = ServerState(
        config=config,
        api_key=api_key,
        key_generated=generated,
        store=store,
        signer=UrlSigner.for_data_dir(config.data_dir, config.result_url_ttl_s),
        policy=policy,
        runner=runner,
        sender=WebhookSender(store, config, api_key, policy),
    )
    state_holder["s"] = state

    def lead() -> None:
        requeued = store.requeue_interrupted()
        if requeued:
            log.warning("re-queued %d task(s) interrupted by the last shutdown", len(requeued))
        runner.start()
        state.sender.start()

    def resign() -> None:
        state.sender.stop()
        runner.stop()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        leadership = Leadership(config.data_dir / "leader.lock", lead)
        leadership.start()
        try:
            yield
        finally:
            leadership.stop(resign)
            store.close()

    app = FastAPI(
        title="deecho server",
        version=__version__,
        description="The MusicGPT deecho API, served by the local engine.",
        lifespan=lifespan,
    )
    app.state.deecho = state
    _install_error_handlers(app)
    _install_routes(app, state)
    return app


#: Environment variable carrying the ServerConfig (JSON) to `--http-workers` processes.
CONFIG_ENV = "DEECHO_SERVE_CONFIG"


def config_to_environment(config: ServerConfig) -> str:
    """The JSON that `app_from_environment` rebuilds `config` from."""
    fields = {name: getattr(config, name) for name in config.__dataclass_fields__}
    fields["data_dir"] = str(config.data_dir)
    return json.dumps(fields)


def app_from_environment() -> FastAPI:
    """App factory for uvicorn's worker processes (`deecho serve --http-workers N`)."""
    fields = json.loads(os.environ[CONFIG_ENV])
    fields["data_dir"] = Path(fields["data_dir"])
    return create_app(ServerConfig(**fields))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json_error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"success": False, "error": str(exc.detail)}, status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"success": False, "message": "Invalid request parameters"}, 400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"success": False, "error": "Internal Server Error"}, 500)


def _install_routes(app: FastAPI, state: ServerState) -> None:
    config = state.config

    async def submit(request: Request) -> JSONResponse:
        owner = state.owner_of(request)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > config.max_upload_bytes + _FORM_OVERHEAD_BYTES:
            await drain(request)
            raise _too_large(config)
        if state.store.count_active(owner) >= config.max_pending_per_key:
            await drain(request)
            raise ApiError(
                429,
                f"Too many tasks in progress (limit {config.max_pending_per_key}); retry later",
                headers={"Retry-After": "30"},
            )
        task_id = str(uuid.uuid4())
        folder = state.task_dir(task_id)
        folder.mkdir(parents=True)
        try:
            return await _accept(request, state, owner, task_id, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    app.add_api_route(f"{API_PREFIX}/deecho", submit, methods=["POST"], tags=["deecho"])
    app.add_api_route(f"{API_PREFIX}/Deecho", submit, methods=["POST"], include_in_schema=False)

    @app.get(f"{API_PREFIX}/byId", tags=["deecho"])
    async def by_id(request: Request) -> JSONResponse:
        owner = state.owner_of(request)
        query = request.query_params
        conversion_type = query.get("conversionType", "")
        task_id = query.get("task_id") or None
        conversion_id = query.get("conversion_id") or None
        if conversion_type.upper() != CONVERSION_TYPE or (task_id is None) == (
            conversion_id is None
        ):
            raise ApiError(400, "Invalid request parameters", key="message")
        task = state.store.find(owner, task_id, conversion_id)
        if task is None:
            raise ApiError(404, "Conversion not found")
        body = ByIdResponse(success=True, conversion=state.conversion(task))
        return JSONResponse(body.model_dump())

    @app.api_route(f"{API_PREFIX}/files/{{name}}", methods=["GET", "HEAD"], tags=["deecho"])
    async def result_file(name: str, expires: str = "", token: str = "") -> FileResponse:
        match = _FILE_NAME.fullmatch(name)
        if match is None or not state.signer.valid(name, expires, token):
            raise ApiError(403, "This link is invalid or has expired; ask byId for a fresh one")
        path = state.task_dir(match["task"]) / name
        if not path.is_file():
            raise ApiError(404, "This result no longer exists")
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, filename=name)

    @app.get(f"{API_PREFIX}/health", tags=["server"])
    async def health() -> dict[str, Any]:
        return {
            "success": True,
            "version": __version__,
            "active_tasks": state.store.count_active(),
            "running": state.runner.running,
        }


def _too_large(config: ServerConfig) -> ApiError:
    limit_mb = config.max_upload_bytes / (1024 * 1024)
    return ApiError(
        413, f"The upload is larger than this server's {limit_mb:g} MB limit (DEECHO_MAX_UPLOAD_MB)"
    )


async def _accept(
    request: Request, state: ServerState, owner: str, task_id: str, folder: Path
) -> JSONResponse:
    config = state.config
    try:
        form = await read_submit_form(request, folder, config.max_upload_bytes)
    except UploadTooLarge:
        await drain(request)
        raise _too_large(config) from None
    except FormError as exc:
        raise ApiError(422, str(exc)) from None
    audio_url = form.fields.get("audio_url", "").strip() or None
    webhook_url = form.fields.get("webhook_url", "").strip() or None
    has_file = form.file_path is not None
    if has_file and audio_url:
        raise ApiError(422, "Provide either audio_url or audio_file, not both.")
    if not has_file and not audio_url:
        raise ApiError(422, "Either audio_url or audio_file must be provided.")
    try:
        if audio_url:
            await run_in_threadpool(check_url, audio_url, state.policy, "audio_url")
        if webhook_url:
            await run_in_threadpool(check_url, webhook_url, state.policy, "webhook_url")
    except UnsafeUrlError as exc:
        raise ApiError(422, str(exc)) from None
    duration_s: float | None = None
    if form.file_path is not None:
        if form.file_bytes == 0:
            raise ApiError(422, "audio_file is empty (0 bytes)")
        # WAV/FLAC/AIFF/OGG headers read in well under a millisecond: a hop to the thread
        # pool would cost more than the work. FFmpeg's probe (m4a, video) can take tens of
        # milliseconds, so it goes to the pool. A damaged body the header hides ends FAILED.
        duration_s = _header_duration(form.file_path)
        if duration_s is None:
            duration_s = await run_in_threadpool(_probe_duration, form.file_path, form.file_name)
        if duration_s > config.max_duration_s:
            raise ApiError(
                422,
                f"audio_file lasts {duration_s:.0f} s, over this server's"
                f" {config.max_duration_s:.0f} s limit",
            )
    eta = state.eta_s(duration_s) if duration_s is not None else -1
    credit_estimate = state.credits(duration_s)
    base_url = config.extra.get("public_url") or str(request.base_url)
    state.store.add_task(
        task_id=task_id,
        conversion_id=str(uuid.uuid4()),
        owner=owner,
        message=SUBMIT_MESSAGE,
        source_name=form.file_name or audio_url or "",
        input_path=str(form.file_path) if form.file_path else None,
        audio_url=audio_url,
        webhook_url=webhook_url,
        base_url=base_url,
        duration_s=duration_s,
        eta_s=eta,
        credit_estimate=credit_estimate,
    )
    state.runner.wake()
    task = state.store.get(task_id)
    assert task is not None
    response = SubmitResponse(
        success=True,
        task_id=task.task_id,
        conversion_id=task.conversion_id,
        eta=eta,
        credit_estimate=credit_estimate,
        message=SUBMIT_MESSAGE,
        status=TaskStatus.IN_QUEUE.value,
    )
    return JSONResponse(response.model_dump())


def _header_duration(path: Path) -> float | None:
    """The duration libsndfile reads from the header, or None when it does not know the file."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception:
        return None
    if info.frames <= 0 or info.samplerate <= 0:
        return None  # let the full probe say what is wrong
    return float(info.frames) / float(info.samplerate)


def _probe_duration(path: Path, file_name: str | None) -> float:
    """The upload's duration from its header, or 422 when it is not audio deecho can read."""
    from deecho.audio.io import probe

    try:
        info = probe(path)
    except AudioError as exc:
        shown = file_name or "audio_file"
        reason = str(exc).split(": ", 1)[-1]
        raise ApiError(422, f"{shown}: {reason}") from None
    if info.duration_s <= 0:
        raise ApiError(422, f"{file_name or 'audio_file'}: the file holds no audio samples")
    return info.duration_s
