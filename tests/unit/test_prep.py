"""Prep: time parsing, trim boundaries, silence trim, peak and LUFS normalization, no clipping."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from deecho.audio.limiter import PeakLimiter
from deecho.audio.loudness import LevelMeter
from deecho.audio.prep import LIMITER_CEILING_DBFS, PrepOptions, parse_time, prep_audio
from deecho.errors import UsageError

RATE = 48000


def _noise(seconds: float, level: float = 0.1, channels: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((channels, int(seconds * RATE))) * level).astype(np.float32)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("12.5", 12.5), ("0", 0.0), (".25", 0.25), ("1:02.250", 62.25), ("01:01:02.5", 3662.5)],
)
def test_parse_time(text: str, seconds: float):
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "1:75", "-3", "1::2"])
def test_parse_time_rejects_nonsense(text: str):
    with pytest.raises(UsageError):
        parse_time(text)


def test_time_trim_keeps_exact_sample_range():
    audio = np.tile(np.arange(RATE * 3, dtype=np.float32) / (RATE * 3), (2, 1))
    out = prep_audio(audio, RATE, PrepOptions(start_s=0.5, end_s=1.25))
    assert out.shape == (2, int(0.75 * RATE))
    assert out[0, 0] == audio[0, int(0.5 * RATE)]
    assert out[0, -1] == audio[0, int(1.25 * RATE) - 1]


def test_end_past_the_file_is_clamped_and_start_past_it_refused():
    audio = _noise(1.0)
    assert prep_audio(audio, RATE, PrepOptions(start_s=0.5, end_s=9.0)).shape[1] == RATE // 2
    with pytest.raises(UsageError, match="past the end"):
        prep_audio(audio, RATE, PrepOptions(start_s=2.0))


def test_silence_trim_finds_the_sound_with_a_small_margin():
    audio = np.zeros((2, 3 * RATE), dtype=np.float32)
    audio[:, RATE : 2 * RATE] = _noise(1.0, 0.2)
    audio += _noise(3.0, 1e-5, seed=1)  # a -100 dBFS floor, as a real room has
    out = prep_audio(audio, RATE, PrepOptions(trim_silence_dbfs=-50))
    assert RATE <= out.shape[1] <= RATE + int(0.05 * RATE)


def test_silence_trim_of_pure_silence_is_a_clear_error():
    with pytest.raises(UsageError, match="nothing louder"):
        prep_audio(np.zeros((1, RATE), np.float32), RATE, PrepOptions(trim_silence_dbfs=-60))


def test_peak_normalization_hits_the_target_exactly():
    out = prep_audio(_noise(1.0, 0.05), RATE, PrepOptions(normalize_peak_dbfs=-3.0))
    assert 20 * np.log10(np.max(np.abs(out))) == pytest.approx(-3.0, abs=0.01)


@pytest.mark.parametrize("target", [-30.0, -23.0, -16.0])
def test_lufs_normalization_within_half_an_lu(target: float):
    audio = _noise(5.0, 0.02)
    out = prep_audio(audio, RATE, PrepOptions(normalize_lufs=target))
    measured = pyloudnorm.Meter(RATE).integrated_loudness(out.T.astype(np.float64))
    assert measured == pytest.approx(target, abs=0.5)


def test_loud_lufs_target_is_limited_never_clipped():
    # A quiet bed with sharp transients: reaching -9 LUFS needs far more gain than the peaks allow.
    audio = _noise(5.0, 0.01)
    audio[:, :: RATE // 4] = 0.9
    out = prep_audio(audio, RATE, PrepOptions(normalize_lufs=-9.0))
    assert np.max(np.abs(out)) <= 10 ** (LIMITER_CEILING_DBFS / 20) + 1e-6
    measured = pyloudnorm.Meter(RATE).integrated_loudness(out.T.astype(np.float64))
    assert measured == pytest.approx(-9.0, abs=0.5)


def test_limiter_is_transparent_below_the_ceiling_and_block_size_invariant():
    audio = _noise(1.0, 0.05)
    audio[:, RATE // 2] = 1.5
    limiter_whole = PeakLimiter(-1.0, RATE, 2)
    whole = np.concatenate(list(limiter_whole.run([audio])), axis=1)
    pieces = [audio[:, i : i + 777] for i in range(0, audio.shape[1], 777)]
    chunked = np.concatenate(list(PeakLimiter(-1.0, RATE, 2).run(pieces)), axis=1)
    assert whole.shape == audio.shape
    np.testing.assert_allclose(whole, chunked, atol=1e-7)
    assert np.max(np.abs(whole)) <= 10 ** (-1 / 20) + 1e-6
    far_from_peak = slice(0, RATE // 4)
    np.testing.assert_array_equal(whole[:, far_from_peak], audio[:, far_from_peak])


def test_streaming_loudness_matches_pyloudnorm():
    audio = _noise(6.0, 0.1) * np.linspace(0.1, 1.0, 6 * RATE, dtype=np.float32)
    meter = LevelMeter(RATE, 2)
    for start in range(0, audio.shape[1], 9999):
        meter.add(audio[:, start : start + 9999])
    reference = pyloudnorm.Meter(RATE).integrated_loudness(audio.T.astype(np.float64))
    assert meter.levels().loudness_lufs == pytest.approx(reference, abs=0.05)


@pytest.mark.parametrize(
    "options",
    [
        {"start_s": 2.0, "end_s": 1.0},
        {"normalize_peak_dbfs": -1.0, "normalize_lufs": -16.0},
        {"normalize_peak_dbfs": 3.0},
        {"normalize_lufs": 5.0},
        {"trim_silence_dbfs": 10.0},
    ],
)
def test_contradictory_options_are_usage_errors(options: dict[str, float]):
    with pytest.raises(UsageError):
        PrepOptions(**options)
