"""The deecho API: the wire models of the contract and one client for every server.

`DeechoClient` talks to MusicGPT's service and to this project's `deecho serve`
alike; `deecho.api.models` holds the contract's shapes, shared with the server.
"""

from deecho.api.client import CancelCheck, DeechoClient, StatusCallback
from deecho.api.models import ByIdResponse, Conversion, ErrorBody, SubmitResponse, TaskStatus

__all__ = [
    "ByIdResponse",
    "CancelCheck",
    "Conversion",
    "DeechoClient",
    "ErrorBody",
    "StatusCallback",
    "SubmitResponse",
    "TaskStatus",
]
