"""`deecho batch --scheduler`: the same files on a Dask cluster the test starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from test_cli_batch import RATE, batch, clip, recorded, rows

distributed = pytest.importorskip("distributed")


def test_files_run_on_a_dask_cluster(tmp_path: Path) -> None:
    for seed in range(3):
        clip(tmp_path / "in" / f"take{seed}.wav", seed=seed)
    out = tmp_path / "out"
    # In-process workers on a loopback TCP address: the batch, another process, reaches
    # the scheduler as it would a real cluster, and the jobs run here in the test process.
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        result = batch(tmp_path / "in", "-o", out, "--scheduler", cluster.scheduler_address,
                       "--json")  # fmt: skip
        ran_there = {
            str(entry[0]) for entry in cluster.scheduler.transition_log if entry[2] == "memory"
        }
    assert result.returncode == 0, result.stderr
    assert all(row["status"] == "done" for row in rows(result).values())
    assert len([key for key in ran_there if key.startswith("run_item-")]) == 3
    for seed in range(3):
        output = out / f"take{seed}.no_echo.wav"
        assert sf.info(output).frames == 2 * RATE
        assert recorded(out)[output.name] == "done"
