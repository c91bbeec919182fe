"""What a run of the batch would find for each file, read from OUTDIR's state file.

A face (the workspace's folder view) shows it before anything runs: the same rules as
`BatchRun` when it plans (a record stands when the input's bytes and the settings are
those that made it, and its outputs are still there), read-only, with no lock taken.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deecho.batch.inputs import BatchItem
from deecho.batch.outcome import BatchStatus, Outcome
from deecho.batch.settings import BatchSettings, output_key
from deecho.batch.state import Record, content_hash, read_records

__all__ = ["FileState", "FileStatus", "file_statuses", "status_of_outcome"]


class FileState(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    TO_DO = "to do"
    CHANGED = "changed"
    """Done or failed before, from other bytes or other settings: a run does it again."""
    NOT_AUDIO = "not audio"


@dataclass(frozen=True)
class FileStatus:
    state: FileState
    reason: str = ""


def _status(
    item: BatchItem, record: Record | None, content: str | None, made_with: str
) -> FileStatus:
    if record is None:
        return FileStatus(FileState.TO_DO)
    if record.outcome.status is BatchStatus.STARTED:
        return FileStatus(FileState.TO_DO, "stopped before it ended")
    if not record.matches(content, made_with):
        why = "the file changed" if content != record.content_hash else "other settings"
        return FileStatus(FileState.CHANGED, why)
    return status_of_outcome(record.outcome, item)


def status_of_outcome(outcome: Outcome, item: BatchItem) -> FileStatus:
    """How a file stands after an outcome (recorded earlier, or just heard of)."""
    if outcome.status is BatchStatus.FAILED:
        return FileStatus(FileState.FAILED, outcome.reason)
    if outcome.status is BatchStatus.SKIPPED and outcome.result is None:
        # A skip keeps the earlier outcome's exit code: a failure's, or 0 for not audio.
        state = FileState.FAILED if outcome.exit_code else FileState.NOT_AUDIO
        return FileStatus(state, outcome.reason)
    outputs = filter(None, (item.output, item.echo_output))
    if not all(path.exists() for path in outputs):
        return FileStatus(FileState.TO_DO, "its output is gone")
    return FileStatus(FileState.DONE)


def file_statuses(
    items: list[BatchItem], outdir: Path, settings: BatchSettings
) -> Iterator[FileStatus]:
    """Each item's status, in order (each input is read once, to hash it)."""
    records = read_records(outdir)
    for item in items:
        record = records.get(output_key(outdir, item.output))
        yield _status(item, record, content_hash(item.input), settings.digest(item))
