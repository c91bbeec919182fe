"""The workspace's job history: every job sent, in SQLite, surviving restarts.

One row per job: the original, the prep asked for, the backend, the task id
and status it went through, the files it produced (kept in a per-job folder
under the data dir, so a past result can be reopened) and the compare metrics.
A connection per call keeps it safe to use from worker threads.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deecho.config import default_data_dir
from deecho.kinds import JobState

__all__ = ["FINISHED_STATUSES", "History", "JobRecord"]

#: Statuses after which a job no longer changes (the API's, plus the workspace's own).
FINISHED_STATUSES = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.ERROR, JobState.CANCELLED, JobState.INTERRUPTED}
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    original TEXT NOT NULL,
    backend TEXT NOT NULL,
    prep TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    task_id TEXT,
    message TEXT NOT NULL DEFAULT '',
    workdir TEXT,
    no_echo TEXT,
    echo TEXT,
    compare TEXT,
    saved TEXT NOT NULL DEFAULT '[]',
    pid INTEGER
)
"""

_COLUMNS = (
    "status",
    "task_id",
    "message",
    "workdir",
    "no_echo",
    "echo",
    "compare",
    "saved",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


@dataclass(frozen=True)
class JobRecord:
    """One job as the history remembers it."""

    id: int
    created_at: str
    updated_at: str
    original: Path
    backend: str
    prep: dict[str, Any]
    status: str
    task_id: str | None = None
    message: str = ""
    workdir: Path | None = None
    no_echo: Path | None = None
    echo: Path | None = None
    compare: dict[str, Any] | None = None
    saved: list[Path] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def reopenable(self) -> bool:
        """True when the job completed and its result files are still there."""
        return (
            self.status == JobState.COMPLETED
            and self.no_echo is not None
            and self.no_echo.is_file()
            and self.original.is_file()
        )


class History:
    """Read and write the job history database (`history.sqlite3` in the data dir)."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.path = self.data_dir / "history.sqlite3"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10.0)) as connection:
            connection.row_factory = sqlite3.Row
            with connection:  # one transaction: commit on success, roll back on error
                yield connection

    def downloads_folder(self) -> Path:
        """Where the workspace keeps recordings it downloaded from a link (kept results of
        one land beside it, as beside any file opened)."""
        folder = self.data_dir / "downloads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def workdir_for(self, job_id: int) -> Path:
        """The folder that keeps a job's files (prepped input, results, reports)."""
        folder = self.data_dir / "jobs" / str(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def start(self, original: Path, backend: str, prep: dict[str, Any]) -> JobRecord:
        """Record a new job, queued, and create its folder."""
        now = _now()
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO jobs (created_at, updated_at, original, backend, prep, status, pid)"
                " VALUES (?, ?, ?, ?, ?, 'IN_QUEUE', ?)",
                (now, now, str(Path(original).resolve()), backend, json.dumps(prep), os.getpid()),
            )
            job_id = int(cursor.lastrowid or 0)
        self.update(job_id, workdir=self.workdir_for(job_id))
        record = self.get(job_id)
        assert record is not None
        return record

    def update(self, job_id: int, **changes: Any) -> None:
        """Change some of a job's fields (status, task_id, message, paths, compare, saved)."""
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown job fields: {', '.join(sorted(unknown))}")
        values: list[Any] = []
        for name in changes:
            value = changes[name]
            if name == "compare":
                value = None if value is None else json.dumps(value)
            elif name == "saved":
                value = json.dumps([str(item) for item in value])
            elif isinstance(value, Path):
                value = str(value)
            values.append(value)
        assignments = ", ".join(f"{name} = ?" for name in changes)
        # the names are checked against _COLUMNS above; the values are bound
        update = f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?"  # nosec B608
        with self._connect() as connection:
            connection.execute(update, (*values, _now(), job_id))

    def get(self, job_id: int) -> JobRecord | None:
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else self._record(row)

    def recent(self, limit: int = 100) -> list[JobRecord]:
        """The latest jobs first."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._record(row) for row in rows]

    @staticmethod
    def _record(row: sqlite3.Row) -> JobRecord:
        status = row["status"]
        # A job left unfinished by a workspace that is no longer running will never finish.
        if status not in FINISHED_STATUSES and not _pid_alive(row["pid"]):
            status = JobState.INTERRUPTED
        return JobRecord(
            id=int(row["id"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            original=Path(row["original"]),
            backend=row["backend"],
            prep=json.loads(row["prep"] or "{}"),
            status=status,
            task_id=row["task_id"],
            message=row["message"] or "",
            workdir=_path_or_none(row["workdir"]),
            no_echo=_path_or_none(row["no_echo"]),
            echo=_path_or_none(row["echo"]),
            compare=json.loads(row["compare"]) if row["compare"] else None,
            saved=[Path(item) for item in json.loads(row["saved"] or "[]")],
        )
