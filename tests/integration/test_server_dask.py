"""Jobs on a Dask cluster instead of local processes (`scheduler_address`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import soundfile as sf
from test_server_harness import live_server, write_wav

from deecho.api.models import TaskStatus

distributed = pytest.importorskip("distributed")


def test_a_task_runs_on_a_dask_cluster(tmp_path: Path) -> None:
    take = write_wav(tmp_path / "take.wav", 2.0)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        live_server(tmp_path / "data", scheduler_address=cluster.scheduler_address) as server,
    ):
        task_id = server.submit_file(take).json()["task_id"]
        conversion = server.wait_done(task_id)
        assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
        download = requests.get(conversion.no_echo_wav, timeout=30)
    path = tmp_path / "no_echo.wav"
    path.write_bytes(download.content)
    assert sf.info(str(path)).frames == sf.info(str(take)).frames
