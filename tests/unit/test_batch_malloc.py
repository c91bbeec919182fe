"""A Dask worker's MALLOC_TRIM_THRESHOLD_ is undone once per process, and only there."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "from deecho.batch.malloc import undo_dask_malloc_trim as u; print(u(), u())"


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_thresholds_are_set_where_dask_set_the_variable() -> None:
    # what distributed's nanny puts in a worker's environment
    assert _probe(MALLOC_TRIM_THRESHOLD_="65536") == "True True"


def test_nothing_is_touched_in_a_process_of_our_own() -> None:
    assert _probe() == "False False"
