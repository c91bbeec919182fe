"""Fixtures shared by the whole suite."""

from __future__ import annotations

import numpy as np
import pytest

from audio_fixtures import tone_burst_signal


@pytest.fixture
def speech_like() -> np.ndarray:
    return tone_burst_signal(16000, 4.0)
