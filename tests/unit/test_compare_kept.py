"""A comparison drawn again from what a job kept (figures, trace, the two takes on one
timeline) matches the comparison it came from, without aligning again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from deecho.audio.io import read_audio
from deecho.compare import CompareResult, align_and_compare
from deecho.compare import comparison as comparison_module
from deecho.compare.figures import CompareFigures, CompareTrace
from deecho.compare.redraw import kept_result

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "speech_echo.wav"


@pytest.fixture(scope="module")
def takes() -> tuple[np.ndarray, np.ndarray, int]:
    """The bundled take, and a processed take on its timeline: duller (a zero-phase filter,
    so no delay), quieter, and silent for its first quarter second (what a service that
    trims leading audio returns once aligned), so the compared stretch does not start at 0."""
    original, rate = read_audio(SAMPLE)
    lowpass = butter(4, 3000, fs=rate, output="sos")
    processed = (0.6 * sosfiltfilt(lowpass, original, axis=-1)).astype(np.float32)
    processed[:, : rate // 4] = 0.0
    return original, processed, rate


@pytest.fixture(scope="module")
def live(takes: tuple[np.ndarray, np.ndarray, int]) -> CompareResult:
    original, processed, rate = takes
    return align_and_compare(original, rate, processed, rate, engine_estimates=False)


def test_the_trace_survives_json(live: CompareResult) -> None:
    trace = live.trace()
    assert trace.overlap_frames == round(live.overlap_s * live.sample_rate)
    assert len(trace.lag_samples) == len(live.lag_samples) > 0
    assert CompareTrace.from_dict(json.loads(json.dumps(trace.to_dict()))) == trace


def test_kept_result_redraws_the_same_comparison_without_aligning(
    takes: tuple[np.ndarray, np.ndarray, int],
    live: CompareResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original, processed, _ = takes

    def no_alignment(*args: object, **kwargs: object) -> None:
        raise AssertionError("a kept comparison is not aligned again")

    monkeypatch.setattr(comparison_module, "measure", no_alignment)
    figures = CompareFigures.from_dict(json.loads(json.dumps(live.figures().to_dict())))
    trace = CompareTrace.from_dict(live.trace().to_dict())
    kept = kept_result(figures, trace, original, processed)

    assert kept.overlap_s == pytest.approx(live.overlap_s)
    assert kept.overlap_start_s == pytest.approx(live.overlap_start_s)
    assert kept.picture is not None and live.picture is not None
    # The same stretch of the original, summarised the same way.
    np.testing.assert_array_equal(kept.picture.original_high, live.picture.original_high)
    # The live comparison resampled the processed take by a fraction of a sample at most.
    scale = live.picture.difference_peak
    gap = np.abs(kept.picture.difference_high - live.picture.difference_high)
    assert float(gap.max()) < 0.05 * scale
    np.testing.assert_allclose(kept.lag_samples, live.lag_samples)
    assert kept.over_time is not None and live.over_time is not None
    finite = np.isfinite(live.over_time.residual_db)
    np.testing.assert_allclose(
        kept.over_time.residual_db[finite], live.over_time.residual_db[finite], atol=0.5
    )
    assert kept.figures().residual_db == live.figures().residual_db  # the figures are kept


def test_kept_result_draws(
    takes: tuple[np.ndarray, np.ndarray, int], live: CompareResult, tmp_path: Path
) -> None:
    from deecho.compare.plot import save_png

    original, processed, _ = takes
    kept = kept_result(live.figures(), live.trace(), original, processed)
    path = tmp_path / "kept.png"
    save_png(kept, path, "kept")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
