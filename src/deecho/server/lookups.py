"""The lookup routes: `byId` (a task's state and result links) and `files` (signed results)."""

from __future__ import annotations

import mimetypes
import re

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from deecho.api.models import CONVERSION_TYPE, ByIdResponse
from deecho.server.openapi import BY_ID_EXTRA, BY_ID_RESPONSES, FILE_RESPONSES
from deecho.server.signing import RESULT_FILES
from deecho.server.state import API_PREFIX, ApiError, ServerState

__all__ = ["install_lookups"]

_TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FILE_NAME = re.compile(
    rf"(?P<task>{_TASK_ID.pattern})(?P<suffix>{'|'.join(map(re.escape, RESULT_FILES.values()))})"
)


def install_lookups(app: FastAPI, state: ServerState) -> None:
    @app.get(
        f"{API_PREFIX}/byId",
        tags=["deecho"],
        operation_id="by_id",
        responses=BY_ID_RESPONSES,
        openapi_extra=BY_ID_EXTRA,
    )
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

    @app.api_route(
        f"{API_PREFIX}/files/{{name}}",
        methods=["GET", "HEAD"],
        tags=["deecho"],
        response_class=FileResponse,
        responses=FILE_RESPONSES,
    )
    async def result_file(name: str, expires: str = "", token: str = "") -> FileResponse:
        match = _FILE_NAME.fullmatch(name)
        if match is None or not state.signer.valid(name, expires, token):
            raise ApiError(403, "This link is invalid or has expired; ask byId for a fresh one")
        path = state.task_dir(match["task"]) / name
        if not path.is_file():
            raise ApiError(404, "This result no longer exists")
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, filename=name)
