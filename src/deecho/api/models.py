"""The wire models of the deecho API contract (MusicGPT public API v1), once.

The server builds its answers from these, the client parses the vendor's and
the server's answers with them, and the tests check both against them. Names
are the vendor's, spelled as on its page (`createdAt`, `no_echo_wav`…), see
`shared/reference/deecho-api.md`.

Models read by a client are lenient: they ignore unknown fields, accept
numbers sent as strings (and the other way round where the vendor is loose),
and give every field the vendor may omit a default, so a response the vendor
shapes slightly differently still parses.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from deecho.kinds import TaskStatus

__all__ = [
    "CONVERSION_TYPE",
    "SUBMIT_MESSAGE",
    "TERMINAL_STATUSES",
    "WEBHOOK_COMPLETED_MESSAGE",
    "WEBHOOK_CONVERSION_TYPE",
    "ByIdResponse",
    "Conversion",
    "ErrorBody",
    "SubmitResponse",
    "TaskStatus",
    "WebhookPayload",
]

#: `conversionType` query value of `byId` for this endpoint.
CONVERSION_TYPE = "DEECHO"
#: `conversion_type` in the webhook payload.
WEBHOOK_CONVERSION_TYPE = "Deecho"
#: `message` of a successful submit.
SUBMIT_MESSAGE = "Message published to queue"
#: `message` of a successful webhook.
WEBHOOK_COMPLETED_MESSAGE = "de_echo conversion Completed"


#: Statuses after which a task never changes again.
TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.ERROR})


class _Wire(BaseModel):
    """Lenient parsing: unknown fields kept, numbers accepted where text is expected."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, populate_by_name=True)


class SubmitResponse(_Wire):
    """200 answer of `POST /deecho`."""

    success: bool = True
    task_id: str
    conversion_id: str = ""
    eta: int = -1
    """Seconds until the result is expected; -1 when unknown."""
    credit_estimate: float = 0.0
    message: str = ""
    status: str = TaskStatus.IN_QUEUE.value


class ErrorBody(_Wire):
    """A JSON error answer. The vendor puts the reason in `error` or in `message`."""

    success: bool = False
    error: str | None = None
    message: str | None = None
    required_credits: float | None = None
    available_credits: float | None = None

    @property
    def reason(self) -> str:
        """The human reason, wherever the server put it."""
        return self.error or self.message or "no reason given"


class Conversion(_Wire):
    """The `conversion` object of a `byId` answer.

    The vendor does not document its deecho-specific fields; the result URLs
    carry the webhook's names, with `conversion_path*` and `audio_url` as the
    generic fallbacks other conversion types use.
    """

    task_id: str = ""
    conversion_id: str = ""
    status: str = TaskStatus.IN_QUEUE.value
    message: str = ""
    status_msg: str = ""
    createdAt: str = ""
    updatedAt: str = ""
    conversion_type: str = WEBHOOK_CONVERSION_TYPE
    conversion_duration: float | None = None
    """Seconds of audio, when known."""
    no_echo: str = ""
    no_echo_wav: str = ""
    echo: str = ""
    echo_wav: str = ""
    conversion_path: str = ""
    conversion_path_wav: str = ""
    audio_url: str = ""
    error: str | None = None
    """Why the task failed (FAILED or ERROR), when it did."""

    @property
    def task_status(self) -> TaskStatus | None:
        """`status` as a TaskStatus, or None when the server sent a value not in the contract."""
        try:
            return TaskStatus(self.status.strip().upper())
        except ValueError:
            return None

    @property
    def is_done(self) -> bool:
        return self.task_status in TERMINAL_STATUSES

    @property
    def reason(self) -> str:
        """Why it failed, wherever the server put it."""
        return self.error or self.message or self.status_msg or "no reason given"

    def no_echo_url(self, prefer_wav: bool = True) -> str:
        """The cleaned audio's URL: the WAV when there is one (and preferred), else the MP3."""
        wav = self.no_echo_wav or self.conversion_path_wav
        mp3 = self.no_echo or self.conversion_path or self.audio_url
        return (wav or mp3) if prefer_wav else (mp3 or wav)

    def echo_url(self, prefer_wav: bool = True) -> str:
        """The removed echo's URL, WAV preferred; empty when the server sent none."""
        return (self.echo_wav or self.echo) if prefer_wav else (self.echo or self.echo_wav)


class ByIdResponse(_Wire):
    """200 answer of `GET /byId`."""

    success: bool = True
    conversion: Conversion = Field(default_factory=Conversion)


class WebhookPayload(_Wire):
    """What the server POSTs to `webhook_url` when a task ends.

    On success the vendor's documented payload; on failure `success` is false,
    the result URLs are empty and `error` says why (deecho's addition: the
    vendor does not document failure callbacks).
    """

    success: bool = True
    conversion_type: str = WEBHOOK_CONVERSION_TYPE
    task_id: str
    conversion_id: str = ""
    audio_path: str = ""
    no_echo: str = ""
    no_echo_wav: str = ""
    echo: str = ""
    echo_wav: str = ""
    message: str = WEBHOOK_COMPLETED_MESSAGE
    conversion_duration: float = 0.0
    conversion_cost: str = "0"
    error: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON object to send; `error` appears only on failure."""
        body = self.model_dump()
        if body.get("error") is None:
            body.pop("error", None)
        return body
