"""While a job's result is compared, the job panel already shows what the job knows.

The comparison of a long take takes seconds; the figures the job measured itself
(where the backend's result sat, what the engine removed) are known before it
starts. `compare_job` hands them on with its progress, first at 0 %, so the panel
shows them at once and then counts up to the comparison's own figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aligned_cases import dry_and_take
from deecho.audio.prep import PrepOptions
from deecho.backends import get_backend
from deecho.config import Settings
from deecho.engine.report import Amounts
from deecho.kinds import JobState
from deecho.tui import tasks
from stubs.musicgpt import MusicGPTStub

pytestmark = pytest.mark.timeout(300)

KEY = "stub-key"


def test_comparing_reports_the_jobs_own_figures_first_then_counts_up(tmp_path: Path) -> None:
    dry, take, rate = dry_and_take("mono", tmp_path)
    workdir = tmp_path / "job"
    workdir.mkdir()
    with MusicGPTStub(api_key=KEY) as stub:
        stub.result_audio = (dry, rate)
        stub.result_delay_frames = -800
        stub.result_format = "wav"
        backend = get_backend(stub.origin, Settings(api_key=KEY), poll_interval_s=0.05)
        job = tasks.run_job(
            backend, take, PrepOptions(), Amounts(), workdir, lambda _: None, lambda: False
        )
    heard: list[tasks.JobStatus] = []
    outcome = tasks.compare_job(job, workdir, on_status=heard.append)

    assert heard and all(status.status is JobState.COMPARING for status in heard)
    first = heard[0]
    assert first.fraction == 0.0
    assert first.stage.startswith("comparing: offset -800.0 smp, drift +0.0 ppm, overlap")
    fractions = [status.fraction for status in heard]
    assert fractions == sorted(fractions) and len(set(fractions)) > 2
    # the comparison's own figures agree with what was shown first
    assert outcome.figures.offset_samples == pytest.approx(-800, abs=1.0)
