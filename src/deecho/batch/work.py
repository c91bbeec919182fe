"""What a worker does with one file: `run_job` on the batch's backend, its end as an Outcome.

Runs in a pool's worker process, a Dask worker, or a thread (remote backends), so the
work item is plain data and every import happens here, in the worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deecho.audio.prep import PrepOptions
from deecho.batch.malloc import undo_dask_malloc_trim
from deecho.batch.outcome import BatchStatus, Outcome
from deecho.errors import EX_SOFTWARE, AudioDecodeError, DeechoError

if TYPE_CHECKING:
    from deecho.batch.state import RemoteTask
    from deecho.config import Settings
    from deecho.engine import Room
    from deecho.engine.report import Amounts

__all__ = ["WorkItem", "read_notes", "run_item", "stop_jobs_here", "worker_init"]


@dataclass(frozen=True)
class WorkItem:
    input: Path
    output: Path
    echo_output: Path | None
    prep: PrepOptions
    amounts: Amounts
    bit_depth: str
    overwrite: bool
    backend: str
    promises_audio: bool
    compare: bool = False
    """Also run the null test of the output against the input (`deecho batch --compare`)."""
    remote_task: RemoteTask | None = None
    """Where a remote backend's task for this file is kept (None for the local engine)."""
    room: Room | None = None
    """The echo model of the batch's one room (--same-room), for the local engine."""


#: Set by SIGTERM while a job runs: the job stops at its next block, and its writers
#: remove their temporary files, so a stopped batch leaves no half-written output.
_stopping = threading.Event()
_busy = threading.Event()
#: What a job stopped by the batch reports; the batch neither records nor shows it.
STOPPED_CODE = 130
#: Where this worker process notes the job it runs and how it ended (`job_notes`).
_notes: Path | None = None


@functools.cache
def _settings() -> Settings:
    from deecho.config import load_settings

    return load_settings()


def _stop(signum: int, frame: Any) -> None:
    # Not an exit: a worker that vanished would break the pool and lose the results of the
    # others' jobs that finish meanwhile. The pool's shutdown ends the worker afterwards.
    _stopping.set()


def _exit_with(parent_pid: int) -> None:
    # A worker's parent is the forkserver, which outlives a SIGKILLed batch: watch the batch.
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent_pid, 0)
        except (ProcessLookupError, PermissionError):
            break
    _stopping.set()
    while _busy.is_set():
        time.sleep(0.1)
    os._exit(1)


def stop_jobs_here() -> None:
    """Stop the jobs running in this process's threads (a remote backend's batch)."""
    _stopping.set()


def worker_init(parent_pid: int, notes: str | None = None) -> None:
    """In each pool worker: Ctrl-C is the batch's to handle (it stops us with SIGTERM)."""
    global _notes
    _notes = Path(notes) if notes else None
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    if os.name == "posix":  # on Windows os.kill(pid, 0) is not a probe but a Ctrl-C
        threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True).start()


def _request(work: WorkItem) -> Any:
    from deecho.pipeline import ProcessRequest

    return ProcessRequest(
        input=work.input,
        output=work.output,
        echo_output=work.echo_output,
        prep=work.prep,
        amounts=work.amounts,
        overwrite=work.overwrite,
        bit_depth=work.bit_depth,
    )


def _backend(work: WorkItem) -> Any:
    if work.room is not None:
        from deecho.backends.local import LocalBackend

        return LocalBackend(room=work.room)
    from deecho.backends import get_backend

    return get_backend(work.backend, _settings())


def _run(work: WorkItem, workdir: Path, after_note: contextlib.ExitStack) -> dict[str, Any]:
    from deecho.backends.job import run_job

    for target in filter(None, (work.output, work.echo_output)):
        target.parent.mkdir(parents=True, exist_ok=True)
    backend = _backend(work)
    close = getattr(backend, "close", None)
    if close is not None:
        after_note.callback(close)
    result = run_job(
        _request(work),
        backend,
        cancelled=_stopping.is_set,
        workdir=workdir,
        ledger=work.remote_task,
    )
    row = result.to_dict()
    if work.compare:
        row["compare"] = _compare(work.input, work.output)
    return row


def _compare(original: Path, no_echo: Path) -> dict[str, Any]:
    """The null test's brief figures: the same streamed comparison as `deecho compare`."""
    from deecho.compare import compare_files

    found = compare_files(original, no_echo, engine_estimates=False, picture=False)
    return found.figures().brief()


def _note(output: str, outcome: Outcome | None) -> None:
    """The job's note (`<notes>/<digest of output>.json`), replaced atomically: which
    worker runs it, then how it ended. When a worker's death breaks the pool, the batch
    reads the notes: a job that ended has its outcome (not run again: its result may not
    have reached us), one still running in a dead process is the one charged with the
    death, and one with no note never began."""
    if _notes is None:
        return
    note = {
        "pid": os.getpid(),
        "output": output,
        "outcome": dataclasses.asdict(outcome) if outcome else None,
    }
    name = hashlib.sha256(output.encode()).hexdigest()[:32]
    target = _notes / f"{name}.json"
    scratch = _notes / f"{name}.{os.getpid()}.tmp"
    scratch.write_text(json.dumps(note))
    scratch.replace(target)


def read_notes(notes: Path) -> dict[str, tuple[int, Outcome | None]]:
    """By output: (the worker's pid, the outcome, or None while it was still running)."""
    found = {}
    for path in notes.glob("*.json"):
        note = json.loads(path.read_text())
        outcome = note["outcome"]
        if outcome is not None:
            outcome = Outcome(**{**outcome, "status": BatchStatus(outcome["status"])})
        found[note["output"]] = (int(note["pid"]), outcome)
    return found


def run_item(work: WorkItem) -> Outcome:
    """Clean one file; every failure is an Outcome with the one-line reason, never a raise."""
    output = str(work.output)
    if _stopping.is_set():
        return Outcome(output, BatchStatus.FAILED, "stopped before it began", STOPPED_CODE)
    undo_dask_malloc_trim()  # a Dask worker's allocator setting (see deecho.batch.malloc)
    _busy.set()
    try:
        _note(output, None)
        # The job's scratch folder (and the local backend's) is cleaned after the note:
        # the note follows the outputs' renaming as closely as it can.
        with contextlib.ExitStack() as after_note:
            workdir = after_note.enter_context(tempfile.TemporaryDirectory(prefix="deecho-job-"))
            outcome = _outcome(work, Path(workdir), after_note)
            _note(output, outcome)
        return outcome
    finally:
        _busy.clear()


def _outcome(work: WorkItem, workdir: Path, after_note: contextlib.ExitStack) -> Outcome:
    output = str(work.output)
    try:
        return Outcome(output, BatchStatus.DONE, result=_run(work, workdir, after_note))
    except AudioDecodeError as exc:
        if not work.promises_audio:
            return Outcome(output, BatchStatus.SKIPPED, f"not audio ({exc})")
        return Outcome(output, BatchStatus.FAILED, str(exc), exc.exit_code)
    except DeechoError as exc:
        return Outcome(output, BatchStatus.FAILED, str(exc), exc.exit_code)
    except OSError as exc:
        return Outcome(output, BatchStatus.FAILED, f"{exc.strerror}: {exc.filename}", 73)
    except Exception as exc:
        reason = f"internal error: {type(exc).__name__}: {exc} (report it)"
        return Outcome(output, BatchStatus.FAILED, reason, EX_SOFTWARE)
