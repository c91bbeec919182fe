"""`deecho serve` as a subprocess: the generated key, and no task lost to SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests
from test_server_harness import free_port, write_wav

from audio_fixtures import deecho_command, stop_process
from deecho.api.models import ByIdResponse, Conversion, TaskStatus


def _start(data_dir: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """Start `deecho serve`; its output goes to a file, which outlives every child it forks."""
    command = [*deecho_command(), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    with log.open("w") as stream:
        return subprocess.Popen(command, env=env, stdout=stream, stderr=stream, text=True)


def _first_line(log: Path, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text()
        if "\n" in text:
            return text.splitlines()[0]
        assert process.poll() is None, text
        time.sleep(0.05)
    raise AssertionError("deecho serve printed nothing")


def _wait_healthy(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "deecho serve exited"
        try:
            if requests.get(f"{base}/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError("deecho serve did not come up")


def _conversion(base: str, key: str, task_id: str) -> Conversion:
    response = requests.get(
        f"{base}/byId",
        params={"conversionType": "DEECHO", "task_id": task_id},
        headers={"Authorization": key},
        timeout=10,
    )
    response.raise_for_status()
    return ByIdResponse.model_validate(response.json()).conversion


def _status(base: str, key: str, task_id: str) -> str:
    return _conversion(base, key, task_id).status


@pytest.mark.timeout(500)
def test_generated_key_and_sigkill_durability(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/public/v1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEECHO_")}
    env["DEECHO_CONFIG_FILE"] = str(tmp_path / "no-config.toml")

    first = _start(data_dir, port, env, tmp_path / "first.log")
    try:
        announced = _first_line(tmp_path / "first.log", first)
        assert announced.startswith("deecho: generated an API key")
        key = announced.rsplit(": ", 1)[-1]
        key_file = data_dir / "api_key"
        assert key_file.read_text().strip() == key
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        _wait_healthy(base, first)

        take = write_wav(tmp_path / "take.wav", 4.0, rate=44100, channels=2)
        task_ids = []
        for _ in range(3):
            with take.open("rb") as stream:
                response = requests.post(
                    f"{base}/deecho",
                    headers={"Authorization": key},
                    files={"audio_file": stream},
                    timeout=30,
                )
            assert response.status_code == 200, response.text
            task_ids.append(response.json()["task_id"])
        deadline = time.monotonic() + 60
        while _status(base, key, task_ids[0]) == TaskStatus.IN_QUEUE:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # what the killed server left behind: work in flight, none of it finished
    with sqlite3.connect(data_dir / "tasks.sqlite3") as db:
        left = dict(db.execute("SELECT task_id, status FROM tasks").fetchall())
    assert set(left) == set(task_ids)
    assert TaskStatus.IN_PROGRESS in left.values()
    assert list(left.values()).count(TaskStatus.COMPLETED) < len(task_ids)

    second = _start(data_dir, port, env, tmp_path / "second.log")
    try:
        _wait_healthy(base, second)
        deadline = time.monotonic() + 300
        pending = set(task_ids)
        while pending and time.monotonic() < deadline:
            for task_id in list(pending):
                conversion = _conversion(base, key, task_id)
                assert not conversion.is_done or conversion.status == TaskStatus.COMPLETED, (
                    conversion.status,
                    conversion.reason,
                )
                if conversion.status == TaskStatus.COMPLETED:
                    pending.discard(task_id)
            time.sleep(0.2)
        assert not pending, f"{len(pending)} task(s) never completed after the restart"
    finally:
        stop_process(second)
    # a second start with the key on disk announces nothing
    assert "API key" not in (tmp_path / "second.log").read_text()


@pytest.mark.timeout(500)
def test_http_workers_share_one_queue_and_survive_the_leader_s_death(tmp_path: Path) -> None:
    import psutil

    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/public/v1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEECHO_")}
    env.update(DEECHO_CONFIG_FILE=str(tmp_path / "no-config.toml"), DEECHO_API_KEY="k")
    command = [*deecho_command(), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    command += ["--http-workers", "2"]
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    try:
        _wait_healthy(base, server)
        take = write_wav(tmp_path / "take.wav", 3.0, rate=16000)
        task_ids = []
        for _ in range(4):
            with take.open("rb") as stream:
                response = requests.post(
                    f"{base}/deecho", headers={"Authorization": "k"}, files={"audio_file": stream}
                )
            assert response.status_code == 200, response.text
            task_ids.append(response.json()["task_id"])
        # the leader is the HTTP process that started a job pool (its forkserver is its child)
        deadline = time.monotonic() + 120
        leaders: list[psutil.Process] = []
        while not leaders:
            assert time.monotonic() < deadline, "no process started running jobs"
            leaders = [
                child
                for child in psutil.Process(server.pid).children()
                if any("forkserver" in " ".join(c.cmdline()) for c in child.children())
            ]
            time.sleep(0.1)
        assert len(leaders) == 1  # one job runner for the data folder, not one per process
        leaders[0].send_signal(signal.SIGKILL)
        pending = set(task_ids)
        deadline = time.monotonic() + 300
        while pending and time.monotonic() < deadline:
            for task_id in list(pending):
                try:
                    conversion = _conversion(base, "k", task_id)
                except requests.RequestException:
                    continue  # the killed process's connections
                assert conversion.status not in (TaskStatus.FAILED, TaskStatus.ERROR)
                if conversion.status == TaskStatus.COMPLETED:
                    pending.discard(task_id)
            time.sleep(0.2)
        assert not pending, f"{len(pending)} task(s) never completed after the leader died"
    finally:
        stop_process(server, timeout_s=30)
