"""Progress on stderr with rich's live display, on a terminal only (a pipe gets plain lines).

`job_progress()` is `deecho process`'s bar: the job's stage, how far it is, and the time
left when the backend knows it. `BatchProgress` is `deecho batch`'s: files done of all,
hours of audio cleaned, and an estimate of the time left from the files this run did.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from deecho.backends.base import JobStatus

__all__ = ["BatchProgress", "job_progress", "on_terminal", "stage_progress"]


def on_terminal() -> bool:
    return sys.stderr.isatty()


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


@contextmanager
def job_progress(console: Console | None = None) -> Iterator[Callable[[JobStatus], None] | None]:
    """One job's bar, for `run_job(on_status=...)`; None (no display) off a terminal."""
    if console is None and not on_terminal():
        yield None
        return
    # rich is imported only for a terminal: a script's `deecho process` does not pay for it.
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    progress = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[left]}"),
        console=console or Console(stderr=True),
    )
    with progress:
        task = progress.add_task("starting", total=1.0, left="")

        def show(status: JobStatus) -> None:
            left = f"{_clock(status.eta_s)} left" if status.eta_s is not None else ""
            progress.update(
                task,
                completed=status.fraction or 0.0,
                description=status.stage or status.status.lower().replace("_", " "),
                left=left,
            )

        yield show


@contextmanager
def stage_progress(console: Console | None = None) -> Iterator[Callable[[float, str], None] | None]:
    """A bar fed `(fraction, stage)`, e.g. a URL's download; None off a terminal."""
    with job_progress(console) as show:
        if show is None:
            yield None
            return
        from deecho.backends.base import JobStatus
        from deecho.kinds import JobState

        def step(fraction: float, stage: str) -> None:
            show(JobStatus(JobState.DOWNLOADING, fraction=fraction, stage=stage[:30]))

        yield step


class BatchProgress:
    """The batch's live bar with a line per file above it; `with` it around the run."""

    def __init__(self, total: int, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.total = total
        self.began = time.monotonic()
        self.worked = 0
        """Files this run did (done or failed), which is what the time left is made of."""
        self.seen = 0
        self.audio_s = 0.0
        self.progress = Progress(
            TextColumn("deecho batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[hours]} h audio · {task.fields[left]} left"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._task = self.progress.add_task("", total=total, hours="0.00", left=_clock(None))

    def __enter__(self) -> BatchProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def say(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def ended(self, worked: bool, audio_s: float | None) -> None:
        """A file ended: `worked` when this run processed it (not skipped)."""
        self.seen += 1
        if worked:
            self.worked += 1
            self.audio_s += audio_s or 0.0
        self.progress.update(
            self._task, completed=self.seen, hours=f"{self.audio_s / 3600:.2f}", left=self.left()
        )

    def left(self) -> str:
        if self.worked == 0:
            return _clock(None)
        per_file = (time.monotonic() - self.began) / self.worked
        return _clock(per_file * (self.total - self.seen))
