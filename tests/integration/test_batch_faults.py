"""`deecho batch` under faults: its worker processes SIGKILLed again and again mid-batch."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf
from test_cli_batch import RATE, clip, no_partials, pool_workers, recorded, start_batch

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and the fork server")

KILLS = 5
FILES = 12
SECONDS = 8.0


class OutputWatch:
    """Notes every inode each output had while the batch ran: a file written twice (a
    temporary file renamed over it again) shows two."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.inodes: dict[str, set[int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for path in self.folder.glob("*.no_echo.wav"):
                try:
                    inode = path.stat().st_ino
                except FileNotFoundError:
                    continue
                self.inodes.setdefault(path.name, set()).add(inode)
            time.sleep(0.01)

    def __enter__(self) -> OutputWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def kill_a_worker(batch_pid: int, which: int) -> bool:
    """SIGKILL one of the batch's pool workers, once there is one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = sorted(pool_workers(batch_pid), key=lambda worker: worker.pid)
        if workers:
            workers[which % len(workers)].kill()
            return True
        time.sleep(0.05)
    return False


def test_workers_killed_five_times_lose_no_file_and_write_none_twice(tmp_path: Path):
    for seed in range(FILES):
        clip(tmp_path / "in" / f"take{seed:02d}.wav", seconds=SECONDS, seed=seed)
    out = tmp_path / "out"
    out.mkdir()
    kills = 0
    with OutputWatch(out) as watch:
        running = start_batch(tmp_path / "in", "-o", out, "--jobs", "2", "--json")
        assert running.stderr is not None
        lines = []
        # A worker is killed each time a file ends, so every kill lands mid-batch, while
        # the other worker is busy with its own file.
        for line in running.stderr:
            lines.append(line)
            if kills < KILLS and (" done " in line or " failed " in line):
                assert kill_a_worker(running.pid, kills), "no worker to kill"
                kills += 1
        stdout, _ = running.communicate(timeout=300)
    assert kills == KILLS, "".join(lines)
    assert running.returncode in (0, 65), "".join(lines)

    report = [json.loads(line) for line in stdout.splitlines()]
    names = sorted(Path(row["input"]).name for row in report)
    assert names == [f"take{seed:02d}.wav" for seed in range(FILES)]  # each once, none lost
    for row in report:
        # done, or failed with its reason: the worker died under it, each try
        assert row["status"] == "done" or "worker process died" in row["reason"], row
    assert (out / "deecho-batch.jsonl").read_text().splitlines() == stdout.splitlines()
    done = {Path(row["output"]).name for row in report if row["status"] == "done"}
    assert done, "".join(lines)
    assert set(recorded(out).values()) <= {"done", "failed"}  # none left `started`
    assert {path.name for path in out.glob("*.no_echo.wav")} == done
    assert all(sf.info(out / name).frames == SECONDS * RATE for name in done)
    assert no_partials(out)
    written_twice = {name for name, inodes in watch.inodes.items() if len(inodes) > 1}
    assert not written_twice


@pytest.mark.timeout(300)
def test_a_long_batch_gets_fresh_workers_without_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Workers are renewed every TASKS_PER_WORKER files (a pool of its own, not the pool's
    max_tasks_per_child, which hangs the pool when a worker reaches it)."""
    from deecho.audio.prep import PrepOptions
    from deecho.batch import BatchRun, BatchSettings, find_items
    from deecho.batch import run as batch_run
    from deecho.engine import Amounts

    monkeypatch.setattr(batch_run, "TASKS_PER_WORKER", 2)
    for seed in range(5):
        clip(tmp_path / "in" / f"take{seed}.wav", seconds=1.0, seed=seed)
    out = tmp_path / "out"
    items = find_items([tmp_path / "in"], out)
    settings = BatchSettings(prep=PrepOptions(), amounts=Amounts(), jobs=1)
    ended = []
    with BatchRun(out, settings) as batch:
        batch.run(items, lambda item, outcome: ended.append(outcome.status.value))
    assert ended == ["done"] * 5
    assert set(recorded(out).values()) == {"done"}


@pytest.mark.timeout(300)
def test_ctrl_c_while_an_outcome_is_recorded_still_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A Ctrl-C can land anywhere in the parent, also between a file's end and its line in
    the state file: that file is written, so it must be recorded, or a rerun would find an
    output it does not know and refuse to replace it."""
    from deecho.audio.prep import PrepOptions
    from deecho.batch import BatchRun, BatchSettings, find_items
    from deecho.batch.state import BatchState
    from deecho.engine import Amounts

    for seed in range(3):
        clip(tmp_path / "in" / f"take{seed}.wav", seconds=1.0, seed=seed)
    out = tmp_path / "out"
    items = find_items([tmp_path / "in"], out)
    settings = BatchSettings(prep=PrepOptions(), amounts=Amounts(), jobs=1)
    real_record = BatchState.record
    calls = []

    def interrupted_once(self: BatchState, *args: object, **kwargs: object) -> None:
        calls.append(args[0])
        if len(calls) == 1:
            raise KeyboardInterrupt  # as if Ctrl-C came just before the write
        real_record(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(BatchState, "record", interrupted_once)
    with pytest.raises(KeyboardInterrupt), BatchRun(out, settings) as batch:
        batch.run(items, lambda item, outcome: None)
    monkeypatch.setattr(BatchState, "record", real_record)
    written = {path.name for path in out.glob("*.no_echo.wav")}
    assert written, "the first file ended before the Ctrl-C"
    done = {output for output, status in recorded(out).items() if status == "done"}
    assert written == done  # every output on disk is recorded, the interrupted one included
    assert no_partials(out)
