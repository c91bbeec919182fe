"""The batch's memory in OUTDIR: one SQLite row per output, written as each file ends.

Rows are keyed by the no_echo output's path relative to OUTDIR, so a moved OUTDIR, or a
rerun from another folder, still finds them.

A row says which input content (sha256) and which settings made the output, and how
it ended. A rerun skips a file whose row matches both and whose output is still there;
a changed input or changed settings no longer match, so the file is done again. Each
row is committed on its own, so a killed batch loses none that finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from deecho.backends.base import Submission
from deecho.batch.outcome import BatchStatus, Outcome

__all__ = ["STATE_FILE", "BatchState", "Record", "RemoteTask", "content_hash", "read_records"]

STATE_FILE = "deecho-batch.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    output TEXT PRIMARY KEY,
    input TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    settings TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    exit_code INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS remote_tasks (
    output TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    settings TEXT NOT NULL,
    task_id TEXT NOT NULL,
    conversion_id TEXT NOT NULL,
    eta_s INTEGER,
    credit_estimate REAL,
    submitted_at REAL NOT NULL
)
"""
#: Seconds a writer waits for another's transaction (the batch and its job threads).
_BUSY_TIMEOUT_S = 30.0


def content_hash(path: Path) -> str | None:
    """sha256 of the file's bytes; None when it cannot be read (its job says why)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_S)
    db.execute("PRAGMA journal_mode=WAL")
    # WAL with NORMAL survives a killed process (not a power cut) without an fsync per row.
    db.execute("PRAGMA synchronous=NORMAL")
    return db


@dataclass(frozen=True)
class Record:
    content_hash: str
    settings: str
    outcome: Outcome

    def matches(self, content: str | None, settings: str) -> bool:
        return content is not None and (content, settings) == (self.content_hash, self.settings)


def _record(key: str, row: tuple[str, str, str, str, int, str | None]) -> Record:
    content, settings, status, reason, exit_code, result = row
    outcome = Outcome(
        output=key,
        status=BatchStatus(status),
        reason=reason,
        exit_code=exit_code,
        result=json.loads(result) if result else None,
    )
    return Record(content, settings, outcome)


def read_records(outdir: Path) -> dict[str, Record]:
    """Every row of OUTDIR's state file, read-only (it may be a running batch's): what a
    face shows before it runs anything. None there yet: no rows, and no file made."""
    path = outdir / STATE_FILE
    if not path.is_file():
        return {}
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        ) as db:
            rows = db.execute(
                "SELECT output, content_hash, settings, status, reason, exit_code, result"
                " FROM files"
            ).fetchall()
    except sqlite3.Error:
        return {}  # unreadable: the batch itself will say so when it runs
    return {key: _record(key, rest) for key, *rest in rows}


class BatchState:
    def __init__(self, outdir: Path) -> None:
        self.path = outdir / STATE_FILE
        self._db = _connect(self.path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def lookup(self, key: str) -> Record | None:
        row = self._db.execute(
            "SELECT content_hash, settings, status, reason, exit_code, result"
            " FROM files WHERE output = ?",
            (key,),
        ).fetchone()
        return None if row is None else _record(key, row)

    def mark_started(self, started: list[tuple[str, Path, str, str]]) -> None:
        """(key, input, content hash, settings) of the files handed to workers, at once:
        an output they make is then known as the batch's own, even if the batch is killed
        before it hears of it (the rerun may replace it)."""
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO files (output, input, content_hash, settings, status,"
                " finished_at) VALUES (?, ?, ?, ?, 'started', ?)",
                [(key, str(i), c, s, now) for key, i, c, s in started],
            )

    def record(
        self, key: str, input_path: Path, content: str, settings: str, outcome: Outcome
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                str(input_path),
                content,
                settings,
                outcome.status.value,
                outcome.reason,
                outcome.exit_code,
                json.dumps(outcome.result) if outcome.result is not None else None,
                time.time(),
            ),
        )


@dataclass(frozen=True)
class RemoteTask:
    """The state file's memory of the task a remote backend accepted for one output
    (`deecho.backends.base.TaskLedger`): a batch killed while the service worked is
    rerun to watch that task, and no credit is spent twice for the same file.

    Plain data, so it travels to the thread that runs the job; each call opens its own
    connection (a sqlite3 connection belongs to one thread).
    """

    state_file: Path
    key: str
    content_hash: str
    settings: str

    def recall(self) -> Submission | None:
        with contextlib.closing(_connect(self.state_file)) as db:
            row = db.execute(
                "SELECT task_id, conversion_id, eta_s, credit_estimate FROM remote_tasks"
                " WHERE output = ? AND content_hash = ? AND settings = ?",
                (self.key, self.content_hash, self.settings),
            ).fetchone()
        if row is None:
            return None
        task_id, conversion_id, eta_s, credit = row
        return Submission(
            task_id, conversion_id, "IN_PROGRESS", eta_s, credit, "watching the earlier task"
        )

    def remember(self, task: Submission) -> None:
        with contextlib.closing(_connect(self.state_file)) as db:
            db.execute(
                "INSERT OR REPLACE INTO remote_tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.key,
                    self.content_hash,
                    self.settings,
                    task.task_id,
                    task.conversion_id,
                    task.eta_s,
                    task.credit_estimate,
                    time.time(),
                ),
            )

    def forget(self) -> None:
        with contextlib.closing(_connect(self.state_file)) as db:
            db.execute("DELETE FROM remote_tasks WHERE output = ?", (self.key,))
