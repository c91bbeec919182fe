"""The server on a data folder that fills up (a real tmpfs the test mounts, as root).

A submit whose upload does not fit is refused with 507 and leaves nothing behind; a
task whose results do not fit ends ERROR (the server's fault) with the reason; the
database stays intact and the server keeps serving; once space is freed the next task
completes, and a task whose end the full database could not take is recorded then.
"""

from __future__ import annotations

import time
from pathlib import Path

from test_server_harness import live_server, wait_for, write_wav

from deecho.api.models import TaskStatus
from fault_fixtures import fill, tmpfs


def test_full_data_folder_refuses_uploads_with_507_and_recovers(tmp_path: Path) -> None:
    with (
        tmpfs(tmp_path / "disk", 16 << 20) as disk,
        live_server(disk / "data") as live,
    ):
        before = live.submit_file(write_wav(tmp_path / "before.wav", 1.0))
        assert before.status_code == 200, before.text
        earlier = before.json()["task_id"]
        assert live.wait_done(earlier).task_status == TaskStatus.COMPLETED

        filler = fill(disk, leave_bytes=64 << 10)
        upload = write_wav(tmp_path / "long.wav", 30.0)  # about 1 MB
        refused = live.submit_file(upload)
        assert refused.status_code == 507, refused.text
        assert "disk is full" in refused.json()["error"]
        assert refused.headers["Retry-After"] == "60"
        assert sorted(path.name for path in (disk / "data" / "tasks").iterdir()) == [earlier]
        # the database and the API are intact
        assert live.session.get(f"{live.base}/health", timeout=10).status_code == 200
        assert live.wait_done(earlier).task_status == TaskStatus.COMPLETED

        filler.unlink()
        after = live.submit_file(upload)
        assert after.status_code == 200, after.text
        assert live.wait_done(after.json()["task_id"]).task_status == TaskStatus.COMPLETED


def test_results_that_do_not_fit_end_error_with_the_reason(tmp_path: Path) -> None:
    with (
        tmpfs(tmp_path / "disk", 16 << 20) as disk,
        live_server(disk / "data") as live,
    ):
        # 3 s of 16-bit mono (96 kB) fits; its float results (about 400 kB) do not
        filler = fill(disk, leave_bytes=256 << 10)
        response = live.submit_file(write_wav(tmp_path / "take.wav", 3.0))
        assert response.status_code == 200, response.text
        task_id = response.json()["task_id"]
        conversion = live.wait_done(task_id)
        assert conversion.task_status == TaskStatus.ERROR
        assert "disk is full" in conversion.reason
        task_dir = disk / "data" / "tasks" / task_id
        assert not [path.name for path in task_dir.iterdir() if ".partial" in path.name]

        filler.unlink()
        again = live.submit_file(write_wav(tmp_path / "again.wav", 3.0))
        assert live.wait_done(again.json()["task_id"]).task_status == TaskStatus.COMPLETED


def test_a_database_that_fills_up_mid_task_still_ends_the_task(tmp_path: Path) -> None:
    """The disk fills while a task runs: its results and then its row's update do not fit.

    Once space is back, the task must end (with the reason) without a restart: a row
    left IN_PROGRESS would have the client poll forever.
    """
    with (
        tmpfs(tmp_path / "disk", 24 << 20) as disk,
        live_server(disk / "data") as live,
    ):
        response = live.submit_file(write_wav(tmp_path / "take.wav", 20.0))
        assert response.status_code == 200, response.text
        task_id = response.json()["task_id"]
        assert wait_for(
            lambda: live.app_state().store.get(task_id).status == TaskStatus.IN_PROGRESS, 60
        )
        filler = fill(disk, leave_bytes=0)
        time.sleep(8.0)  # the worker meets the full disk, then the runner, recording the end
        filler.unlink()
        conversion = live.wait_done(task_id, timeout_s=90)
        assert conversion.is_done, f"still {conversion.status} after the space came back"
        assert conversion.task_status in (TaskStatus.ERROR, TaskStatus.COMPLETED)
        if conversion.task_status == TaskStatus.ERROR:
            assert "disk is full" in conversion.reason
        assert live.session.get(f"{live.base}/health", timeout=10).status_code == 200
