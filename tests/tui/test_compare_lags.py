"""The compare picture of a remote job: its lag points lie on the fit line it draws.

A vendor-shaped stub sends back the dry take 800 samples early. The job measures that
offset on the backend's own file; the comparison runs on the aligned file. The lag
panel must draw both on one scale: the window lags where the backend's file lay, and
the job's line through them (not lags near 0 under a line at −800).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aligned_cases import dry_and_take
from deecho.audio.io import read_audio
from deecho.audio.prep import PrepOptions
from deecho.backends import get_backend
from deecho.compare.figures import CompareTrace
from deecho.compare.plot import draw
from deecho.compare.redraw import kept_result
from deecho.compare.result import CompareResult
from deecho.config import Settings
from deecho.engine.report import Amounts
from deecho.tui import tasks
from stubs.musicgpt import MusicGPTStub

pytestmark = pytest.mark.timeout(300)

KEY = "stub-key"
OFFSET = -800


def _lag_panel(result: CompareResult) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The lag panel of the picture: its points, its fit line, and the range it shows."""
    import matplotlib.pyplot as plt

    figure = draw(result)
    try:
        [panel] = [ax for ax in figure.axes if ax.get_title(loc="left").startswith("Lag of")]
        points, fit = panel.get_lines()[:2]
        return (
            np.asarray(points.get_ydata(), dtype=float),
            np.asarray(fit.get_ydata(), dtype=float),
            panel.get_ylim(),
        )
    finally:
        plt.close(figure)


def test_the_lag_points_lie_on_the_fit_line_of_an_offset_result(tmp_path: Path) -> None:
    dry, take, rate = dry_and_take("mono", tmp_path)
    workdir = tmp_path / "job"
    workdir.mkdir()
    with MusicGPTStub(api_key=KEY) as stub:
        stub.result_audio = (dry, rate)
        stub.result_delay_frames = OFFSET
        stub.result_format = "wav"
        backend = get_backend(stub.origin, Settings(api_key=KEY), poll_interval_s=0.05)
        job = tasks.run_job(
            backend, take, PrepOptions(), Amounts(), workdir, lambda _: None, lambda: False
        )
    outcome = tasks.compare_job(job, workdir)
    result = outcome.result
    assert result is not None and len(result.lag_samples) >= 5
    assert result.offset_samples == pytest.approx(OFFSET, abs=1.0)

    # The figures: each window's lag within half a sample of the job's line.
    line = result.offset_samples + result.drift_ppm * 1e-6 * result.lag_times_s * rate
    assert np.max(np.abs(result.lag_samples - line)) < 0.5

    # The picture: points and line in the panel, on one scale, both inside what it shows.
    points, fit, (low, high) = _lag_panel(result)
    assert np.max(np.abs(points - fit)) < 0.5
    assert low <= min(points.min(), fit.min()) and max(points.max(), fit.max()) <= high

    # A job reopened from the history draws the same panel from its kept trace.
    entry = tasks.history_entry(outcome)
    original, _ = read_audio(outcome.prepped)
    aligned, _ = read_audio(outcome.no_echo)
    again = kept_result(outcome.figures, CompareTrace.from_dict(entry["trace"]), original, aligned)
    points_again, fit_again, _ = _lag_panel(again)
    np.testing.assert_allclose(points_again, points, atol=1e-6)
    np.testing.assert_allclose(fit_again, fit, atol=1e-3)
