"""Task and webhook state in SQLite (WAL): nothing the server knows lives only in memory.

One connection guarded by a lock serves the request handlers, the job
dispatcher and the webhook sender; every statement is short, so the lock is
held for a millisecond or so. Status changes and the webhook they trigger are
written in one transaction, so a crash can never complete a task and forget
to tell its webhook.

The task rows are here; the webhook rows' SQL is server/webhook_queue.py and the
eta's reads (pace, work ahead) server/eta_inputs.py, both called on this one
connection under its lock, so every statement still goes through `TaskStore`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deecho.api.models import TaskStatus
from deecho.server import eta_inputs, webhook_queue
from deecho.server.pace import Pace, TaskTimings
from deecho.server.webhook_queue import WebhookDelivery

__all__ = ["StoredTask", "TaskStore", "iso_time"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    conversion_id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    source_name TEXT NOT NULL DEFAULT '',
    input_path TEXT,
    audio_url TEXT,
    webhook_url TEXT,
    base_url TEXT NOT NULL,
    duration_s REAL,
    eta_s INTEGER NOT NULL DEFAULT -1,
    credit_estimate REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    processing_s REAL,
    echo_amount REAL,
    reverb_amount REAL,
    estimate_s REAL,
    channel_samples REAL
);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, created_at);
CREATE INDEX IF NOT EXISTS tasks_by_owner ON tasks (owner, status);
"""

#: Columns added after the first release, nullable, added to older databases on open.
_ADDED_COLUMNS = ("echo_amount", "reverb_amount", "estimate_s", "channel_samples")
_ACTIVE = (TaskStatus.IN_QUEUE.value, TaskStatus.IN_PROGRESS.value)


def iso_time(epoch_s: float) -> str:
    """The vendor's timestamp style: ISO 8601 UTC with milliseconds and a Z."""
    stamp = datetime.fromtimestamp(epoch_s, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class StoredTask:
    task_id: str
    conversion_id: str
    owner: str
    status: str
    message: str
    error: str | None
    created_at: float
    updated_at: float
    source_name: str
    input_path: str | None
    audio_url: str | None
    webhook_url: str | None
    base_url: str
    duration_s: float | None
    eta_s: int
    credit_estimate: float
    attempts: int
    started_at: float | None
    finished_at: float | None
    processing_s: float | None
    echo_amount: float | None = None
    """deecho's extension: how much echo to remove, 0..1 (None: the server's default)."""
    reverb_amount: float | None = None
    """deecho's extension: how much reverb to remove, 0..1 (None: the server's default)."""
    estimate_s: float | None = None
    """Seconds a worker was expected to take on it, at submit (server/pace.py)."""
    channel_samples: float | None = None
    """Its size as the engine reads it (seconds x rate x channels); None until known."""


def _columns(values: dict[str, Any]) -> list[str]:
    """The keys of `values`, each checked to be a column of tasks: SQL never names another."""
    unknown = set(values) - _TASK_COLUMNS
    if unknown:
        raise ValueError(f"not task columns: {', '.join(sorted(unknown))}")
    return list(values)


_TASK_COLUMNS = frozenset(field.name for field in dataclass_fields(StoredTask))


class TaskStore:
    """The server's database file `tasks.sqlite3` in the data dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process kill (only a power cut can lose the last commit).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA + webhook_queue.SCHEMA + eta_inputs.SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """A data folder from an older deecho lacks the newer nullable columns: add them."""
        have = {row["name"] for row in self._db.execute("PRAGMA table_info(tasks)")}
        for name in _ADDED_COLUMNS:
            if name not in have:
                with contextlib.suppress(sqlite3.OperationalError):  # another process added it
                    self._db.execute(f"ALTER TABLE tasks ADD COLUMN {name} REAL")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    # --- tasks -------------------------------------------------------------------------------

    def add_task(self, **fields: Any) -> None:
        now = time.time()
        fields.setdefault("status", TaskStatus.IN_QUEUE.value)
        fields.setdefault("created_at", now)
        fields.setdefault("updated_at", now)
        names = ", ".join(_columns(fields))
        marks = ", ".join("?" for _ in fields)
        # SQL names only checked columns (_columns); the values are bound
        insert = f"INSERT INTO tasks ({names}) VALUES ({marks})"  # nosec B608
        with self._transaction() as db:
            db.execute(insert, tuple(fields.values()))

    def get(self, task_id: str) -> StoredTask | None:
        rows = self._query("SELECT * FROM tasks WHERE task_id = ?", (task_id,))
        return StoredTask(**dict(rows[0])) if rows else None

    def find(self, owner: str, task_id: str | None, conversion_id: str | None) -> StoredTask | None:
        """The task with that id, when it belongs to `owner` (others' tasks do not exist)."""
        column, value = ("task_id", task_id) if task_id else ("conversion_id", conversion_id)
        # `column` is one of the two literals above; the values are bound
        query = f"SELECT * FROM tasks WHERE {column} = ? AND owner = ?"  # nosec B608
        rows = self._query(query, (value, owner))
        return StoredTask(**dict(rows[0])) if rows else None

    def update(self, task_id: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in _columns(fields))
        # SQL names only checked columns (_columns); the values are bound
        update = f"UPDATE tasks SET {assignments} WHERE task_id = ?"  # nosec B608
        with self._transaction() as db:
            db.execute(update, (*fields.values(), task_id))

    def count_active(self, owner: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM tasks WHERE status IN (?, ?)"
        params: tuple[Any, ...] = _ACTIVE
        if owner is not None:
            sql += " AND owner = ?"
            params = (*params, owner)
        return int(self._query(sql, params)[0][0])

    def queued_audio_seconds(self) -> float:
        """Seconds of audio waiting or running (unknown durations count as zero)."""
        with self._lock:
            return eta_inputs.queued_audio_seconds(self._db)

    def estimate_inputs(
        self, default_per_second: float = 0.0, now: float | None = None
    ) -> tuple[Pace, float]:
        """`pace()`, and the seconds of work queued or running (`work_ahead`) at that pace.

        Every submit asks for them to word its eta: read under one hold of the lock.
        """
        at = time.time() if now is None else now
        with self._lock:
            pace, priced, stored_s = eta_inputs.read(self._db, at)
        return pace, stored_s + pace.queue_s(priced, default_per_second)

    def work_ahead(self, default_per_second: float = 0.0, now: float | None = None) -> float:
        """Seconds of work the active tasks hold (a running one: less its time so far)."""
        return self.estimate_inputs(default_per_second, now)[1]

    def claim_next(self) -> StoredTask | None:
        """Move the oldest queued task to IN_PROGRESS and return it (None when none waits)."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT * FROM tasks WHERE status = ? ORDER BY created_at LIMIT 1",
                (TaskStatus.IN_QUEUE.value,),
            ).fetchone()
            if row is None:
                return None
            now = time.time()
            db.execute(
                "UPDATE tasks SET status = ?, attempts = attempts + 1, started_at = ?,"
                " updated_at = ?, message = ? WHERE task_id = ?",
                (TaskStatus.IN_PROGRESS.value, now, now, "Processing", row["task_id"]),
            )
        task = dict(row)
        task.update(
            status=TaskStatus.IN_PROGRESS.value,
            attempts=row["attempts"] + 1,
            started_at=now,
            updated_at=now,
            message="Processing",
        )
        return StoredTask(**task)

    def requeue_interrupted(self) -> list[str]:
        """At start-up: tasks a killed server left IN_PROGRESS go back to the queue."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT task_id FROM tasks WHERE status = ?", (TaskStatus.IN_PROGRESS.value,)
            ).fetchall()
            db.execute(
                "UPDATE tasks SET status = ?, message = ?, updated_at = ? WHERE status = ?",
                (
                    TaskStatus.IN_QUEUE.value,
                    "Requeued after a server restart",
                    time.time(),
                    TaskStatus.IN_PROGRESS.value,
                ),
            )
        return [row["task_id"] for row in rows]

    def finish(
        self,
        task_id: str,
        status: TaskStatus,
        message: str,
        error: str | None = None,
        webhook: tuple[str, dict[str, Any]] | None = None,
        **fields: Any,
    ) -> None:
        """Record a task's end and queue its webhook (url, payload) in the same transaction."""
        now = time.time()
        fields.update(status=status.value, message=message, error=error, finished_at=now)
        fields["updated_at"] = now
        assignments = ", ".join(f"{name} = ?" for name in _columns(fields))
        # SQL names only checked columns (_columns); the values are bound
        update = f"UPDATE tasks SET {assignments} WHERE task_id = ?"  # nosec B608
        with self._transaction() as db:
            db.execute(update, (*fields.values(), task_id))
            if webhook is not None:
                url, payload = webhook
                webhook_queue.enqueue(db, task_id, url, payload, now)

    def expired_tasks(self, before: float) -> list[StoredTask]:
        rows = self._query(
            "SELECT * FROM tasks WHERE status NOT IN (?, ?) AND updated_at < ?", (*_ACTIVE, before)
        )
        return [StoredTask(**dict(row)) for row in rows]

    def delete_task(self, task_id: str) -> None:
        with self._transaction() as db:
            webhook_queue.forget(db, task_id)
            db.execute("DELETE FROM tasks WHERE task_id = ?", (task_id,))

    # --- speed measurement -------------------------------------------------------------------

    def pace(self) -> Pace:
        """How long finished tasks took, stage by stage (server/pace.py)."""
        with self._lock:
            return eta_inputs.read_pace(self._db)

    def record_pace(self, timings: TaskTimings, run_s: float | None = None) -> None:
        """Learn from a finished task; `run_s`: how long it ran as the server saw it."""
        if timings.streamed_samples <= 0:
            return
        # Read, learn and write in one write transaction: two tasks ending at once (two
        # completion threads, or two HTTP processes) must not each overwrite the other's.
        with self._transaction() as db:
            pace = eta_inputs.read_pace(db)
            pace.add(timings, run_s)
            eta_inputs.write_pace(db, pace)

    # --- webhooks ----------------------------------------------------------------------------

    def due_webhooks(self, now: float, limit: int = 20) -> list[WebhookDelivery]:
        with self._lock:
            return webhook_queue.due(self._db, now, limit)

    def next_webhook_time(self) -> float | None:
        with self._lock:
            return webhook_queue.next_time(self._db)

    def webhook_attempted(
        self,
        delivery_id: int,
        delivered: bool,
        error: str | None,
        next_attempt_at: float | None,
    ) -> None:
        now = time.time()
        with self._transaction() as db:
            webhook_queue.attempted(db, delivery_id, delivered, error, next_attempt_at, now)

    def webhook_rows(self, task_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return webhook_queue.rows(self._db, task_id)
