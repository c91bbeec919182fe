"""`deecho batch --backend`: each file through the one job path, against the MusicGPT stub
and a live `deecho serve`.

The stub answers the first uploads with 429 and Retry-After; the client waits and
retries, and a rerun sends nothing: a file done is never paid for twice.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from test_cli_batch import RATE, clip, rows, wait_for
from test_client_cli import live_server  # noqa: F401  (a fixture: a real `deecho serve`)

from audio_fixtures import deecho_command
from stubs.musicgpt import MusicGPTStub, Reply

KEY = "stub-key"


@pytest.fixture
def stub() -> Iterator[MusicGPTStub]:
    with MusicGPTStub(api_key=KEY) as running:
        yield running


def stub_env(stub: MusicGPTStub, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEECHO_CONFIG_FILE": str(tmp_path / "no-config.toml"),
        "DEECHO_MUSICGPT_BASE_URL": stub.base_url,
        "DEECHO_MUSICGPT_API_KEY": KEY,
    }


def batch_on(
    stub: MusicGPTStub, tmp_path: Path, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*deecho_command(), "batch", *map(str, args), "--backend", "musicgpt"],
        capture_output=True,
        text=True,
        env=stub_env(stub, tmp_path),
        timeout=300,
    )


def uploads(stub: MusicGPTStub) -> list[int]:
    return [i for i, request in enumerate(stub.requests) if request.method == "POST"]


def test_musicgpt_batch_waits_out_429s_and_a_rerun_spends_nothing(
    stub: MusicGPTStub, tmp_path: Path
) -> None:
    for seed in range(3):
        clip(tmp_path / "in" / f"take{seed}.wav", seed=seed)
    stub.progression = ["COMPLETED"]
    busy = Reply(429, {"success": False, "error": "Too many requests"}, {"Retry-After": "1"})
    stub.submit_replies.extend([busy, busy])
    out = tmp_path / "out"
    first = batch_on(stub, tmp_path, tmp_path / "in", "-o", out, "--concurrency", "2", "--json")
    assert first.returncode == 0, first.stderr
    report = rows(first)
    assert {row["status"] for row in report.values()} == {"done"}
    assert {row["backend"] for row in report.values()} == {"musicgpt"}
    assert len(uploads(stub)) == 5  # two refused with 429, then one accepted per file
    for seed in range(3):
        assert sf.info(out / f"take{seed}.no_echo.wav").frames == 2 * RATE

    again = batch_on(stub, tmp_path, tmp_path / "in", "-o", out, "--json")
    assert again.returncode == 0, again.stderr
    assert {row["status"] for row in rows(again).values()} == {"skipped"}
    assert len(uploads(stub)) == 5


def test_a_killed_batch_watches_its_tasks_again_instead_of_paying_twice(
    stub: MusicGPTStub, tmp_path: Path
) -> None:
    for seed in range(3):
        clip(tmp_path / "in" / f"take{seed}.wav", seed=seed)
    stub.progression = ["IN_PROGRESS"]  # the service works on, until the test says
    out = tmp_path / "out"
    running = subprocess.Popen(
        [*deecho_command(), "batch", str(tmp_path / "in"), "-o", str(out),
         "--backend", "musicgpt", "--concurrency", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=stub_env(stub, tmp_path),
    )  # fmt: skip
    try:
        assert wait_for(lambda: len(uploads(stub)) == 3)
        # the tasks are kept in the state file before they are watched
        assert wait_for(lambda: len(kept_tasks(out)) == 3)
    finally:
        running.kill()  # SIGKILL: nothing of the batch runs after this
        running.wait(timeout=30)
    assert kept_tasks(out) == set(stub.tasks)
    assert not list(out.rglob("*.no_echo.wav"))

    stub.progression = ["COMPLETED"]
    rest = batch_on(stub, tmp_path, tmp_path / "in", "-o", out, "--json")
    assert rest.returncode == 0, rest.stderr
    assert {row["status"] for row in rows(rest).values()} == {"done"}
    assert len(uploads(stub)) == 3  # the rerun polled the same three tasks, sent nothing
    for seed in range(3):
        assert sf.info(out / f"take{seed}.no_echo.wav").frames == 2 * RATE


def test_a_task_that_failed_is_paid_again_only_with_retry_failed(
    stub: MusicGPTStub, tmp_path: Path
) -> None:
    clip(tmp_path / "in" / "take.wav")
    stub.progression = ["FAILED"]
    out = tmp_path / "out"
    first = batch_on(stub, tmp_path, tmp_path / "in", "-o", out, "--json")
    assert first.returncode == 69, first.stderr
    assert rows(first)["take.wav"]["status"] == "failed"
    assert not kept_tasks(out)  # a failed task is forgotten: it has no result to wait for
    again = batch_on(stub, tmp_path, tmp_path / "in", "-o", out)
    assert again.returncode == 69
    assert len(uploads(stub)) == 1
    stub.progression = ["COMPLETED"]
    retried = batch_on(stub, tmp_path, tmp_path / "in", "-o", out, "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert len(uploads(stub)) == 2


def kept_tasks(out: Path) -> set[str]:
    state = out / "deecho-batch.sqlite"
    if not state.exists():
        return set()
    try:
        with sqlite3.connect(state, timeout=5) as db:
            return {task for (task,) in db.execute("SELECT task_id FROM remote_tasks")}
    except sqlite3.OperationalError:  # the batch has not made the table yet
        return set()


def test_a_batch_on_a_live_deecho_serve(
    live_server: tuple[str, dict[str, str]],  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    url, env = live_server
    for seed in range(3):
        clip(tmp_path / "in" / f"take{seed}.wav", seed=seed)
    out = tmp_path / "out"
    command = [*deecho_command(), "batch", str(tmp_path / "in"), "-o", str(out),
               "--backend", url, "--concurrency", "2", "--json"]  # fmt: skip
    env = dict(env, DEECHO_POLL_INTERVAL_S="0.5")
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    report = rows(first)
    assert {row["status"] for row in report.values()} == {"done"}
    assert {row["backend"] for row in report.values()} == {url}
    for seed in range(3):
        assert sf.info(out / f"take{seed}.no_echo.wav").frames == 2 * RATE
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert {row["status"] for row in rows(again).values()} == {"skipped"}
