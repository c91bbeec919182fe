"""Retention: a task's input, results and record go once it has been over for `retention_s`.

SECURITY.md promises that uploads and results do not stay on the server forever.
Here the period is two seconds: a finished task's folder, row and result links are
gone soon after, while a task still running past the period is kept whole.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import requests
import soundfile as sf
from test_server_harness import live_server, wait_for, write_wav

from deecho.api.models import ByIdResponse, TaskStatus

_RETENTION_S = 2.0


def test_finished_tasks_are_deleted_after_the_retention_period(tmp_path: Path) -> None:
    short = write_wav(tmp_path / "short.wav", 1.0, rate=16000, channels=1)
    long = tmp_path / "long.wav"  # 4 minutes of stereo noise: seconds of work, past the period
    noise = np.random.default_rng(0).standard_normal((240 * 48000, 2)).astype(np.float32)
    sf.write(long, 0.1 * noise, 48000, subtype="PCM_16")
    with live_server(tmp_path / "data", retention_s=_RETENTION_S) as live:
        task_id = live.submit_file(short).json()["task_id"]
        conversion = live.wait_done(task_id)
        assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
        link = conversion.no_echo_wav
        assert requests.get(link, timeout=30).status_code == 200
        folder = live.app_state().task_dir(task_id)
        assert folder.is_dir()

        # a task still running past the period is kept whole: row and folder
        running_id = live.submit_file(long).json()["task_id"]
        running_folder = live.app_state().task_dir(running_id)
        seen_running_s = 0.0
        first_seen: float | None = None
        while True:
            answer = live.by_id(running_id)
            assert answer.status_code == 200
            status = ByIdResponse.model_validate(answer.json()).conversion.task_status
            if status == TaskStatus.IN_PROGRESS:
                first_seen = first_seen or time.monotonic()
                seen_running_s = time.monotonic() - first_seen
            elif status != TaskStatus.IN_QUEUE:
                break
            assert running_folder.is_dir()
            time.sleep(0.1)
        assert status == TaskStatus.COMPLETED
        assert seen_running_s > _RETENTION_S  # the checks above covered the period

        # the finished ones go once the period has passed: row, folder, links
        assert wait_for(lambda: live.by_id(task_id).status_code == 404, 60)
        assert not folder.exists()
        gone = requests.get(link, timeout=30)
        assert gone.status_code == 404 and "no longer exists" in gone.json()["error"]
        assert wait_for(lambda: live.by_id(running_id).status_code == 404, 60)
        assert not running_folder.exists()
