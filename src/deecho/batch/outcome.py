"""How one file of a batch ended: a leaf module of plain types, imported by workers and faces."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["PROCESS_FIELDS", "BatchStatus", "Outcome"]

#: The keys of `deecho process --json` (ProcessResult.to_dict), in its order; a row of
#: `deecho batch --json` has them all, None where the file was not processed.
PROCESS_FIELDS = (
    "input",
    "output",
    "echo_output",
    "backend",
    "duration_s",
    "sample_rate",
    "channels",
    "start_s",
    "gain_db",
    "strength",
    "echo_amount",
    "reverb_amount",
    "echoes",
    "rt60_before_s",
    "rt60_after_s",
    "reverb_removed_db",
    "drr_before_db",
    "drr_after_db",
    "alignment",
    "clipped_samples",
    "seconds",
)


class BatchStatus(enum.StrEnum):
    STARTED = "started"
    """Handed to a worker; only in the state file, where it outlives a killed batch."""
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    """One file's end: its status, why (for failed and skipped), and the job's report."""

    output: str
    """The no_echo output's path: the file's key in the batch."""
    status: BatchStatus
    reason: str = ""
    exit_code: int = 0
    """The exit code `deecho process` would have given for this file."""
    result: dict[str, Any] | None = None
    """ProcessResult.to_dict() of the job that made the outputs."""

    def row(self, input_path: str) -> dict[str, Any]:
        """The file's line in `--json`: process's fields, then status and reason."""
        fields: dict[str, Any] = dict.fromkeys(PROCESS_FIELDS)
        fields["input"] = input_path
        # output and echo_output name files written: none when the job made nothing.
        fields.update(self.result or {})
        fields.update(status=self.status.value, reason=self.reason or None)
        return fields
