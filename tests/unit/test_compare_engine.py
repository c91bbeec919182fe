"""The echo and RT60 figures of a comparison are the engine's own estimators' answers."""

from __future__ import annotations

import numpy as np
import pytest

from deecho.compare import align_and_compare
from deecho.compare.comparison import ESTIMATOR_EXCERPT_S

RATE = 8000


@pytest.mark.slow  # the engine's estimators take tens of seconds on a busy machine
def test_echo_and_rt60_figures_come_from_the_engine_on_both_takes() -> None:
    from audio_fixtures import tone_burst_signal
    from deecho.engine import estimate_echoes, estimate_rt60

    dry = tone_burst_signal(RATE, 3.0, seed=4)
    delay = round(0.15 * RATE)
    wet = dry.copy()
    wet[:, delay:] += 0.5 * dry[:, :-delay]
    result = align_and_compare(wet, RATE, dry, RATE)
    assert abs(result.offset_samples) < 0.05
    assert ESTIMATOR_EXCERPT_S > 3.0  # so the whole overlap is what the engine saw
    assert result.overlap_s == pytest.approx(3.0)
    # The whole takes overlap: the engine saw these (the processed one shifted by the
    # measured offset, a thousandth of a sample, hence approx for its RT60).
    before, after = wet, dry
    assert result.echoes_before == [
        echo.to_dict() for echo in estimate_echoes(before.mean(axis=0, keepdims=True), RATE)
    ]
    assert result.echoes_after == [
        echo.to_dict() for echo in estimate_echoes(after.mean(axis=0, keepdims=True), RATE)
    ]
    assert result.rt60_before_s == estimate_rt60(before.mean(axis=0, keepdims=True), RATE)
    assert result.rt60_after_s == pytest.approx(
        estimate_rt60(after.mean(axis=0, keepdims=True), RATE), rel=1e-4
    )
    assert result.to_dict()["echoes_before"] == result.echoes_before
    assert not any("engine" in note for note in result.notes)


def test_engine_figures_can_be_skipped() -> None:
    audio = np.random.default_rng(1).standard_normal((1, RATE)).astype(np.float32)
    result = align_and_compare(audio, RATE, audio, RATE, engine_estimates=False)
    assert result.echoes_before is None and result.rt60_after_s is None
