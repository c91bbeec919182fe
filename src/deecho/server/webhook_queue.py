"""The `webhooks` table: deliveries queued with a task's end, due, retried, given up.

Plain functions on the store's connection: `TaskStore` holds the lock (or the
transaction) around each call, so a task's end and its webhook are still written
in one transaction. The sender (server/webhooks.py) reads and marks the rows
through the store.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SCHEMA",
    "WebhookDelivery",
    "attempted",
    "due",
    "enqueue",
    "forget",
    "next_time",
    "rows",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    delivered_at REAL,
    given_up_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks (delivered_at, given_up_at, next_attempt_at);
"""


@dataclass(frozen=True)
class WebhookDelivery:
    id: int
    task_id: str
    url: str
    body: str
    attempts: int


def enqueue(
    db: sqlite3.Connection, task_id: str, url: str, payload: dict[str, Any], now: float
) -> None:
    """Queue a delivery due at once; inside the transaction that ends the task."""
    db.execute(
        "INSERT INTO webhooks (task_id, url, body, next_attempt_at) VALUES (?, ?, ?, ?)",
        (task_id, url, json.dumps(payload), now),
    )


def due(db: sqlite3.Connection, now: float, limit: int) -> list[WebhookDelivery]:
    found = db.execute(
        "SELECT id, task_id, url, body, attempts FROM webhooks WHERE delivered_at IS NULL"
        " AND given_up_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
        (now, limit),
    ).fetchall()
    return [WebhookDelivery(**dict(row)) for row in found]


def next_time(db: sqlite3.Connection) -> float | None:
    """When the next pending delivery falls due (None: nothing pending)."""
    row = db.execute(
        "SELECT MIN(next_attempt_at) FROM webhooks WHERE delivered_at IS NULL"
        " AND given_up_at IS NULL"
    ).fetchone()
    return None if row[0] is None else float(row[0])


def attempted(
    db: sqlite3.Connection,
    delivery_id: int,
    delivered: bool,
    error: str | None,
    next_attempt_at: float | None,
    now: float,
) -> None:
    """Record a try: delivered, due again at `next_attempt_at`, or (None) given up."""
    db.execute(
        "UPDATE webhooks SET attempts = attempts + 1, last_error = ?,"
        " delivered_at = ?, given_up_at = ?, next_attempt_at = COALESCE(?, next_attempt_at)"
        " WHERE id = ?",
        (
            error,
            now if delivered else None,
            now if not delivered and next_attempt_at is None else None,
            next_attempt_at,
            delivery_id,
        ),
    )


def rows(db: sqlite3.Connection, task_id: str) -> list[dict[str, Any]]:
    """Every delivery of a task's, oldest first, as stored."""
    found = db.execute("SELECT * FROM webhooks WHERE task_id = ? ORDER BY id", (task_id,))
    return [dict(row) for row in found.fetchall()]


def forget(db: sqlite3.Connection, task_id: str) -> None:
    """Drop a task's deliveries, with the task (retention)."""
    db.execute("DELETE FROM webhooks WHERE task_id = ?", (task_id,))
