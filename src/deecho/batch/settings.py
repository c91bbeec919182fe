"""What a batch is asked to do with every file, and where its outputs are keyed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deecho.audio.prep import PrepOptions
from deecho.batch.inputs import BatchItem

if TYPE_CHECKING:
    from deecho.engine import Room
    from deecho.engine.report import Amounts

__all__ = ["BatchSettings", "output_key"]


@dataclass(frozen=True)
class BatchSettings:
    """What `deecho process` options the batch applies to every file, and where it runs."""

    prep: PrepOptions
    amounts: Amounts
    bit_depth: str = "float"
    backend: str = "local"
    force: bool = False
    retry_failed: bool = False
    jobs: int = 1
    scheduler: str | None = None
    concurrency: int = 4
    compare: bool = False
    room: Room | None = None
    """--same-room: one echo model applied to every file instead of each file's own."""

    def prep_for(self, item: BatchItem) -> PrepOptions:
        if item.start_s is None and item.end_s is None:
            return self.prep
        start = self.prep.start_s if item.start_s is None else item.start_s
        end = self.prep.end_s if item.end_s is None else item.end_s
        return dataclasses.replace(self.prep, start_s=start, end_s=end)

    def digest(self, item: BatchItem) -> str:
        """What makes an output differ: a file made with other settings is done again."""
        made_with: dict[str, object] = {
            "prep": dataclasses.asdict(self.prep_for(item)),
            "echo": self.amounts.echo,
            "reverb": self.amounts.reverb,
            "bit_depth": self.bit_depth,
            "backend": self.backend,
            "echo_output": str(item.echo_output) if item.echo_output else None,
        }
        if self.room is not None:  # only then: digests of earlier runs stay as they were
            from deecho.batch.room import room_digest

            made_with["room"] = room_digest(self.room)
        text = json.dumps(made_with, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def output_key(outdir: Path, output: Path) -> str:
    """The state file's key of an output: its place in OUTDIR (or, outside it, its path)."""
    resolved = output.resolve()
    try:
        return resolved.relative_to(outdir.resolve()).as_posix()
    except ValueError:
        return str(resolved)
