"""The job history survives restarts and knows which results can reopen."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from deecho.history import History


def test_jobs_survive_a_new_history_object(tmp_path: Path) -> None:
    original = tmp_path / "take.wav"
    original.write_bytes(b"RIFF")
    first = History(tmp_path / "data")
    job = first.start(original, "local", {"start_s": 1.5})
    assert job.status == "IN_QUEUE" and job.workdir is not None and job.workdir.is_dir()
    result = job.workdir / "no_echo.wav"
    result.write_bytes(b"RIFF")
    first.update(job.id, task_id="abc", status="COMPLETED", no_echo=result)
    first.update(job.id, compare={"offset_samples": 0.0}, saved=[tmp_path / "take.no_echo.wav"])

    again = History(tmp_path / "data")  # as after a restart
    [record] = again.recent()
    assert record.id == job.id and record.task_id == "abc" and record.prep == {"start_s": 1.5}
    assert record.compare == {"offset_samples": 0.0}
    assert record.saved == [tmp_path / "take.no_echo.wav"]
    assert record.reopenable
    result.unlink()
    assert not again.get(job.id).reopenable  # type: ignore[union-attr]


def test_a_job_of_a_workspace_that_died_reads_interrupted(tmp_path: Path) -> None:
    history = History(tmp_path / "data")
    job = history.start(tmp_path / "take.wav", "musicgpt", {})
    history.update(job.id, status="IN_PROGRESS")
    assert history.get(job.id).status == "IN_PROGRESS"  # type: ignore[union-attr]
    with sqlite3.connect(history.path) as connection:  # pretend another, gone process ran it
        connection.execute("UPDATE jobs SET pid = ? WHERE id = ?", (2**22 + 12345, job.id))
    assert history.get(job.id).status == "INTERRUPTED"  # type: ignore[union-attr]
    assert os.getpid() != 2**22 + 12345


def test_unknown_fields_are_refused(tmp_path: Path) -> None:
    history = History(tmp_path / "data")
    job = history.start(tmp_path / "take.wav", "local", {})
    with pytest.raises(ValueError, match="unknown job fields"):
        history.update(job.id, original="elsewhere.wav")


def test_newest_first(tmp_path: Path) -> None:
    history = History(tmp_path / "data")
    ids = [history.start(tmp_path / f"{n}.wav", "local", {}).id for n in range(3)]
    assert [record.id for record in history.recent()] == ids[::-1]
    assert [record.id for record in history.recent(limit=2)] == ids[:0:-1]
