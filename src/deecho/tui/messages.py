"""Messages the workers post back to the screens: small, and replaceable when they flood."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from deecho.audio.io import AudioInfo
from deecho.audio.loudness import Levels
from deecho.backends.base import JobStatus
from deecho.kinds import JobState
from deecho.overview import Overview
from deecho.tui.tasks import CompareOutcome, PrepPreview

__all__ = [
    "CompareReady",
    "DownloadFailed",
    "DownloadProgress",
    "FileOpened",
    "JobFailed",
    "JobUpdate",
    "LevelsMeasured",
    "OverviewReady",
    "PrepPreviewed",
    "ResultKept",
]


@dataclass
class FileOpened(Message):
    """The header of the chosen file was read."""

    info: AudioInfo


@dataclass
class OverviewReady(Message):
    """A (possibly partial) waveform overview of the open file."""

    path: Path
    overview: Overview

    def can_replace(self, message: Message) -> bool:
        # A newer envelope of the same file makes an older, undelivered one useless.
        return isinstance(message, OverviewReady) and message.path == self.path


@dataclass
class LevelsMeasured(Message):
    """Peak, RMS and loudness of the open file."""

    path: Path
    levels: Levels


@dataclass
class PrepPreviewed(Message):
    """What the current prep settings would send."""

    preview: PrepPreview


@dataclass
class JobUpdate(Message):
    """A job's status, progress or ETA changed."""

    job_id: int
    status: JobStatus

    def can_replace(self, message: Message) -> bool:
        # Progress within one state floods; a change of state is always shown.
        return (
            isinstance(message, JobUpdate)
            and message.job_id == self.job_id
            and message.status.status == self.status.status
        )


@dataclass
class JobFailed(Message):
    """A job ended without a result; `message` is one line for the user."""

    job_id: int
    status: JobState
    message: str


@dataclass
class CompareReady(Message):
    """A job's result, aligned on what was sent, ready for the compare view."""

    job_id: int
    outcome: CompareOutcome


@dataclass
class DownloadProgress(Message):
    """How far the download of a link has come: `fraction` 0..1 of the `stage`."""

    url: str
    fraction: float
    stage: str

    def can_replace(self, message: Message) -> bool:
        # Only the latest figure of one download is worth drawing.
        return isinstance(message, DownloadProgress) and message.url == self.url


@dataclass
class DownloadFailed(Message):
    """A link could not be downloaded; `reason` is one line for the user."""

    url: str
    reason: str


@dataclass
class ResultKept(Message):
    """Files were written beside the original."""

    paths: list[Path]
