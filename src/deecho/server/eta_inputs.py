"""What a submit's eta is made of, read from the store: the learnt pace and the work ahead.

Plain functions on the store's connection: `TaskStore` holds the lock (or the
transaction) around each call. The pace itself, and how it prices work, is
server/pace.py; here is only its row in `meta` and the sums over the active tasks.
"""

from __future__ import annotations

import sqlite3

from deecho.api.models import TaskStatus
from deecho.server.pace import Pace, Queue

__all__ = ["SCHEMA", "queued_audio_seconds", "read", "read_pace", "write_pace"]

# Holds the pace (one JSON row, key 'pace').
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_QUEUED, _ACTIVE = TaskStatus.IN_QUEUE.value, TaskStatus.IN_PROGRESS.value
_PACE_SQL = "SELECT value FROM meta WHERE key = 'pace'"
_QUEUED_SQL = "SELECT COALESCE(SUM(duration_s), 0) FROM tasks WHERE status IN (?, ?)"
# A queued task the pace of now prices: its size is known (pace.Queue). The two
# statements below splice in only this literal; every value is bound.
_PRICED = "status = ? AND channel_samples IS NOT NULL AND duration_s > 0"
# The priced tasks, summed; the analysis reads at most the first `?` seconds of each.
_QUEUE_SQL = (
    "SELECT COUNT(*), COALESCE(SUM(duration_s), 0),"
    " COALESCE(SUM(channel_samples * MIN(1.0, ? / duration_s)), 0),"
    f" COALESCE(SUM(channel_samples), 0) FROM tasks WHERE {_PRICED}"  # nosec B608
)
# The rest of the work ahead, at the estimates made at submit: a running task's, less
# what it has already been at; a queued one of unknown size (an audio_url not yet
# fetched: its fixed cost) or from an older deecho (none: nothing).
_STORED_SQL = (
    "SELECT COALESCE(SUM(CASE WHEN status = ?"
    " THEN MAX(0, COALESCE(estimate_s, 0) - (? - COALESCE(started_at, ?)))"
    " ELSE COALESCE(estimate_s, 0) END), 0) FROM tasks WHERE status IN (?, ?)"
    f" AND NOT ({_PRICED})"  # nosec B608
)


def read_pace(db: sqlite3.Connection) -> Pace:
    """The stored pace (a fresh one where none is stored yet)."""
    row = db.execute(_PACE_SQL).fetchone()
    return Pace.from_json(row[0] if row else None)


def write_pace(db: sqlite3.Connection, pace: Pace) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('pace', ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (pace.to_json(),),
    )


def queued_audio_seconds(db: sqlite3.Connection) -> float:
    """Seconds of audio waiting or running (unknown durations count as zero)."""
    return float(db.execute(_QUEUED_SQL, (_QUEUED, _ACTIVE)).fetchone()[0])


def read(db: sqlite3.Connection, at: float) -> tuple[Pace, Queue, float]:
    """The pace, the queued tasks it prices, and the seconds the rest hold at time `at`.

    The rest: running tasks and queued ones of unknown size, at their submit estimates.
    """
    pace = read_pace(db)
    # No cap learnt yet: the analysis reads every sample (an hour's worth is plenty).
    cap_s = pace.analysis_max_s or 1e9
    sized = db.execute(_QUEUE_SQL, (cap_s, _QUEUED)).fetchone()
    stored = db.execute(_STORED_SQL, (_ACTIVE, at, at, _QUEUED, _ACTIVE, _QUEUED))
    stored_s = float(stored.fetchone()[0])
    queue = Queue(int(sized[0]), float(sized[1]), float(sized[2]), float(sized[3]))
    return pace, queue, stored_s
