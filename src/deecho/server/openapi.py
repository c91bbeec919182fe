"""What the server's OpenAPI schema (`/openapi.json`) says about each route.

The routes read their multipart form and query by hand (streaming uploads to
disk, the vendor's case-insensitive `conversionType`), so FastAPI cannot infer
their inputs or answers; without this the schema promised nothing, and a
client generator or a schema-driven test (schemathesis, in the test suite)
had nothing to hold the server to. Every status a route can answer is listed
with its body, and 500 is deliberately absent: the server must never send one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from deecho.api.models import CONVERSION_TYPE, ByIdResponse, ErrorBody, SubmitResponse

__all__ = [
    "BY_ID_EXTRA",
    "BY_ID_RESPONSES",
    "FILE_RESPONSES",
    "HEALTH_RESPONSES",
    "SUBMIT_EXTRA",
    "SUBMIT_RESPONSES",
    "document_security",
]

_SECURITY_SCHEME = "apiKey"
_SECURED: dict[str, Any] = {"security": [{_SECURITY_SCHEME: []}]}


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


_UNAUTHORIZED = _error("The `Authorization` header is missing or holds the wrong key")

SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": SubmitResponse,
        "description": "Accepted and queued",
        # Lets a schema-driven client follow a submit with its byId (schemathesis' stateful phase).
        "links": {
            "ByTaskId": {
                "operationId": "by_id",
                "parameters": {
                    "conversionType": CONVERSION_TYPE,
                    "task_id": "$response.body#/task_id",
                },
            }
        },
    },
    401: _UNAUTHORIZED,
    413: _error("The upload is larger than the server's limit"),
    422: _error("Not a task: no audio or both sources, unreadable audio, an amount out of 0..1"),
    429: _error("Too many tasks in progress for this key; retry after `Retry-After` seconds"),
    507: _error("The server's disk is full; retry after `Retry-After` seconds"),
}

SUBMIT_EXTRA: dict[str, Any] = {
    **_SECURED,
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "audio_file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The recording (one of audio_file or audio_url)",
                        },
                        "audio_url": {
                            "type": "string",
                            "format": "uri",
                            "description": "Where the server fetches the recording instead",
                            "example": "https://example.com/take.wav",
                        },
                        "webhook_url": {
                            "type": "string",
                            "description": "Called with the result when the task ends",
                        },
                        "echo": {
                            "type": "number",
                            "minimum": 0,
                            "maximum": 1,
                            "description": "deecho only: how much echo to remove (default 1)",
                        },
                        "reverb": {
                            "type": "number",
                            "minimum": 0,
                            "maximum": 1,
                            "description": "deecho only: how much reverb to remove (default 1)",
                        },
                    },
                }
            }
        },
    },
}

BY_ID_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ByIdResponse, "description": "The task's state, and its result links once done"},
    400: _error("`conversionType` is not DEECHO, or not exactly one of the two ids is given"),
    401: _UNAUTHORIZED,
    404: _error("No task of this key has that id"),
}


def _query(
    name: str, description: str, schema: dict[str, Any], *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


_ID = {"type": "string", "format": "uuid"}


BY_ID_EXTRA: dict[str, Any] = {
    **_SECURED,
    "parameters": [
        _query(
            "conversionType",
            f"`{CONVERSION_TYPE}` (any case)",
            {"type": "string", "enum": [CONVERSION_TYPE]},
            required=True,
        ),
        _query("task_id", "The id `POST /deecho` answered (or give conversion_id)", _ID),
        _query("conversion_id", "The conversion id `POST /deecho` answered", _ID),
    ],
}

_AUDIO = {"schema": {"type": "string", "format": "binary"}}

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A result file (the link byId gave)",
        "content": {"audio/wav": _AUDIO, "audio/x-wav": _AUDIO, "audio/mpeg": _AUDIO},
    },
    400: _error("A query value is not text"),
    403: _error("The link is not one this server signed, or it has expired"),
    404: _error("The result has been deleted"),
}

HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The server is up: its version and how much work it holds"},
}


def document_security(app: FastAPI) -> None:
    """Declare the API key scheme the routes above refer to (`Authorization: <key>`)."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = document.setdefault("components", {})
            components.setdefault("securitySchemes", {})[_SECURITY_SCHEME] = {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "The server's key, alone or after `Bearer `",
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
