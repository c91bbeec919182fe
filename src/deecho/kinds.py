"""The few named values every layer shares: where a job runs, where a task stands.

A leaf module (standard library only), so the wire models, the backends, the
history and the workspace can all import it without pulling anything heavy.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BackendKind", "JobState", "TaskStatus"]


class BackendKind(StrEnum):
    """Where a job runs: what the workspace's backend choice and the history store."""

    LOCAL = "local"
    """deecho's own engine, in this process."""
    SERVER = "server"
    """A `deecho serve` instance, by its URL."""
    MUSICGPT = "musicgpt"
    """The vendor's service (needs a key; spends credits)."""

    @classmethod
    def of(cls, name_or_url: str) -> BackendKind:
        """`local`, `musicgpt`, `server` or a server's URL, as its kind."""
        text = name_or_url.strip()
        if text in (cls.LOCAL.value, cls.MUSICGPT.value):
            return cls(text)
        return cls.SERVER


class TaskStatus(StrEnum):
    """Where a task stands, as the API's `byId` spells it."""

    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ERROR = "ERROR"


class JobState(StrEnum):
    """Where a job stands: a task's statuses plus the steps around it on this machine."""

    PREPARING = "PREPARING"
    UPLOADING = "UPLOADING"
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    DOWNLOADING = "DOWNLOADING"
    ALIGNING = "ALIGNING"
    COMPARING = "COMPARING"
    """The workspace measuring the result against what was sent (figures, picture)."""
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ERROR = "ERROR"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    INTERRUPTED = "INTERRUPTED"
    """The workspace that ran it closed or died before it ended (the history says so)."""
