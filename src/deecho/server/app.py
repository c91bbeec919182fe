"""The FastAPI app: the MusicGPT deecho routes over the store, the runner and the sender.

Handlers only validate, write to disk and SQLite, and answer: every job runs
in a worker process, every webhook in the sender's threads. The routes live in
deecho.server.submit (POST deecho) and deecho.server.lookups (byId, files);
the state they answer from in deecho.server.state.
"""

from __future__ import annotations

import gc
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from deecho import __version__
from deecho.server.auth import load_or_create_key
from deecho.server.config import ServerConfig
from deecho.server.leader import Leadership
from deecho.server.lookups import install_lookups
from deecho.server.openapi import HEALTH_RESPONSES, document_security
from deecho.server.runner import JobRunner
from deecho.server.signing import UrlSigner
from deecho.server.state import API_PREFIX, ApiError, ServerState
from deecho.server.store import TaskStore
from deecho.server.submit import install_submit
from deecho.server.submit import warm_up as warm_up_submit
from deecho.server.webhooks import WebhookSender
from deecho.urls.policy import Resolver, UrlPolicy, system_resolver

__all__ = ["ApiError", "ServerState", "create_app", "settle_for_serving"]

log = logging.getLogger("deecho.server")


def _json_error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status_code, headers=exc.headers)


def create_app(config: ServerConfig, resolver: Resolver | None = None) -> FastAPI:
    """The server for `config`; workers and the webhook sender start with the app's lifespan."""
    # 0700: uploads and results are the users' recordings, not for other accounts here
    # (a folder that already exists keeps the mode its owner gave it).
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (config.data_dir / "tasks").mkdir(exist_ok=True, mode=0o700)
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
        # uvicorn takes connections only once this start-up part has run.
        warm_up_submit()
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
    document_security(app)
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
    app = create_app(ServerConfig(**fields))
    settle_for_serving()
    return app


def settle_for_serving() -> None:
    """Ready a process that will do nothing but serve (`deecho serve`) for its traffic.

    The submit path's libraries are loaded now (the app's start-up would load them
    anyway), then everything alive is frozen out of the cyclic garbage collector:
    a full collection walks every object in the process, some 65,000 after these
    imports, which took 45-60 ms here; frozen, the modules, classes and the app are
    skipped, so a full collection that falls in a burst of uploads no longer stalls
    the event loop for that long. Not done by create_app itself: a test process
    builds many apps, and freezing there would keep their garbage forever.
    """
    warm_up_submit()
    gc.collect()
    gc.freeze()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json_error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The exception's headers carry what the status needs (405's `Allow`, RFC 9110).
        return JSONResponse(
            {"success": False, "error": str(exc.detail)},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"success": False, "message": "Invalid request parameters"}, 400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"success": False, "error": "Internal Server Error"}, 500)


def _install_routes(app: FastAPI, state: ServerState) -> None:
    install_submit(app, state)
    install_lookups(app, state)

    @app.get(f"{API_PREFIX}/health", tags=["server"], responses=HEALTH_RESPONSES)
    async def health() -> dict[str, Any]:
        return {
            "success": True,
            "version": __version__,
            "active_tasks": state.store.count_active(),
            "running": state.runner.running,
        }
