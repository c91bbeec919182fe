"""align_and_compare on generated takes whose offset, drift, gain and rate are known exactly.

SyntheticMusic is a formula of time, so a take that is 1234.37 samples late or
runs 40 ppm long is rendered exactly; what the tests measure is the aligner.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from deecho.audio.io import read_audio, write_audio
from deecho.compare import CompareFigures, CompareResult, align_and_compare
from deecho.compare.synthetic import SyntheticMusic
from deecho.errors import AudioDecodeError

RATE = 16_000
MUSIC = SyntheticMusic(seed=7, channels=1, partials=64, top_hz=6000)
STEREO = SyntheticMusic(seed=8, channels=2, partials=64, top_hz=6000)


def original(music: SyntheticMusic = MUSIC, seconds: float = 4.0, rate: int = RATE) -> np.ndarray:
    return music.render(rate, round(seconds * rate))


def compare(processed: np.ndarray, orig: np.ndarray | None = None) -> CompareResult:
    """Alignment and null figures only; the engine's estimators have their own test."""
    orig = original() if orig is None else orig
    return align_and_compare(orig, RATE, processed, RATE, engine_estimates=False)


def test_fractional_delay_and_gain_change_are_recovered() -> None:
    processed = MUSIC.render(RATE, 4 * RATE, delay_s=1234.37 / RATE, gain=0.5)
    result = compare(processed)
    assert result.offset_samples == pytest.approx(1234.37, abs=0.05)
    assert result.gain_db == pytest.approx(20 * math.log10(0.5), abs=0.05)
    assert result.polarity == 1
    assert abs(result.drift_ppm) < 1.0
    assert not result.drift_corrected
    assert result.residual_db <= -40
    assert result.correlation > 0.9999


def test_inverted_polarity_is_detected_and_nulls_deeply() -> None:
    processed = MUSIC.render(RATE, 4 * RATE, delay_s=100 / RATE, gain=-1.0)
    result = compare(processed)
    assert result.polarity == -1
    assert result.gain_db == pytest.approx(0.0, abs=0.01)
    assert result.residual_db <= -60
    assert result.correlation < -0.9999


def test_resampled_from_44k1_to_48k() -> None:
    orig = original(seconds=3.0, rate=44_100)
    processed = MUSIC.render(48_000, 3 * 48_000, delay_s=500.25 / 44_100, gain=0.8)
    result = align_and_compare(orig, 44_100, processed, 48_000, engine_estimates=False)
    assert result.sample_rate == 44_100
    assert result.processed_rate == 48_000
    assert result.offset_samples == pytest.approx(500.25, abs=0.5)
    assert result.gain_db == pytest.approx(20 * math.log10(0.8), abs=0.05)
    assert result.residual_db <= -30
    assert result.compared_band_hz == pytest.approx(0.9 * 22_050, abs=1)


def test_processed_at_a_lower_rate_is_brought_up_to_the_original() -> None:
    orig = original(seconds=2.0, rate=48_000)
    processed = MUSIC.render(22_050, 2 * 22_050, delay_s=0.01, gain=1.5)
    result = align_and_compare(orig, 48_000, processed, 22_050, engine_estimates=False)
    assert result.offset_samples == pytest.approx(480.0, abs=0.5)
    assert result.gain_db == pytest.approx(20 * math.log10(1.5), abs=0.05)
    assert result.residual_db <= -30
    assert result.compared_band_hz == pytest.approx(0.9 * 11_025, abs=1)


def test_clock_drift_of_40_ppm_over_40_seconds() -> None:
    music = SyntheticMusic(seed=9, partials=48, top_hz=3000)
    rate = 8000
    orig = music.render(rate, 40 * rate)
    processed = music.render(rate, 40 * rate, delay_s=0.01, drift_ppm=40.0)
    result = align_and_compare(orig, rate, processed, rate, engine_estimates=False)
    assert result.drift_ppm == pytest.approx(40.0, abs=2.0)
    assert result.drift_corrected
    assert result.offset_samples == pytest.approx(80.0, abs=0.5)
    assert result.residual_db <= -30
    # Without the drift correction 40 ppm leaves ~13 samples of slip at the end:
    # the null would be near 0 dB, so the depth proves it was corrected.


def test_negative_drift_means_processed_runs_short() -> None:
    music = SyntheticMusic(seed=10, partials=48, top_hz=3000)
    rate = 8000
    orig = music.render(rate, 20 * rate)
    processed = music.render(rate, 20 * rate, drift_ppm=-100.0)
    result = align_and_compare(orig, rate, processed, rate, engine_estimates=False)
    assert result.drift_ppm == pytest.approx(-100.0, abs=2.0)
    assert result.residual_db <= -30


def test_alignment_holds_when_the_processed_take_lost_its_reverb_and_echo() -> None:
    """deecho's own use: the input is wet, the (remote) output dry, late and drifting."""
    import pedalboard

    music = SyntheticMusic(seed=12, partials=64, top_hz=6000)
    dry = music.render(RATE, 20 * RATE)
    room = pedalboard.Pedalboard(
        [
            pedalboard.Reverb(room_size=0.7, wet_level=0.4, dry_level=0.8),
            pedalboard.Delay(delay_seconds=0.25, feedback=0.3, mix=0.35),
        ]
    )
    wet = room(dry, RATE)
    processed = music.render(RATE, 20 * RATE, delay_s=321.7 / RATE, drift_ppm=40.0, gain=0.7)
    result = align_and_compare(wet, RATE, processed, RATE, engine_estimates=False)
    assert result.offset_samples == pytest.approx(321.7, abs=0.1)
    assert result.drift_ppm == pytest.approx(40.0, abs=1.0)
    assert 0.5 < result.correlation < 0.95  # really different takes, yet aligned
    assert result.energy_removed_db > 0


def test_mp3_round_trip_measures_a_500_sample_difference(tmp_path: Path) -> None:
    rate = 44_100
    music = SyntheticMusic(seed=11, partials=64, top_hz=8000)
    orig = music.render(rate, 4 * rate)
    offsets = []
    for name, delay in (("early.mp3", 300), ("late.mp3", 800)):
        path = tmp_path / name
        write_audio(path, music.render(rate, 4 * rate, delay_s=delay / rate), rate)
        decoded, decoded_rate = read_audio(path)
        found = align_and_compare(orig, rate, decoded, decoded_rate, engine_estimates=False)
        offsets.append(found.offset_samples)
    assert offsets[1] - offsets[0] == pytest.approx(500.0, abs=1.0)


def test_stereo_against_stereo_compares_each_channel() -> None:
    orig = original(STEREO)
    processed = STEREO.render(RATE, 4 * RATE, delay_s=0.05, gain=0.8)
    result = compare(processed, orig)
    assert result.channels_compared == 2
    assert result.offset_samples == pytest.approx(0.05 * RATE, abs=0.05)
    assert result.residual_db <= -40


def test_stereo_original_against_mono_processed_compares_mono_mixes() -> None:
    orig = original(STEREO)
    processed = STEREO.render(RATE, 4 * RATE, delay_s=0.02).mean(axis=0)
    result = compare(processed, orig)
    assert result.original_channels == 2
    assert result.processed_channels == 1
    assert result.channels_compared == 1
    assert any("mono" in note for note in result.notes)
    assert result.offset_samples == pytest.approx(320.0, abs=0.05)
    assert result.residual_db <= -40


def test_trimmed_processed_starts_early_and_overlap_is_reported() -> None:
    orig = original()
    processed = orig[:, 1000 : orig.shape[1] - 2000]
    result = compare(processed, orig)
    assert result.offset_samples == pytest.approx(-1000.0, abs=0.01)
    assert result.offset_ms == pytest.approx(-1000.0 / RATE * 1000, abs=0.01)
    assert result.overlap_start_s == pytest.approx(1000 / RATE, abs=1e-6)
    assert result.overlap_s == pytest.approx((orig.shape[1] - 3000) / RATE, abs=1e-6)
    assert result.residual_db <= -60


def test_padded_processed_is_late_and_covers_the_whole_original() -> None:
    orig = original()
    processed = np.concatenate(
        [np.zeros((1, 3000), np.float32), orig, np.zeros((1, 2000), np.float32)], axis=1
    )
    result = compare(processed, orig)
    assert result.offset_samples == pytest.approx(3000.0, abs=0.01)
    assert result.overlap_start_s == 0.0
    assert result.overlap_s == pytest.approx(orig.shape[1] / RATE)
    assert result.residual_db <= -60


def test_an_offset_longer_than_half_the_file_is_found() -> None:
    orig = original(seconds=3.0)
    processed = MUSIC.render(RATE, 5 * RATE, delay_s=2.0)  # late by 2 s of 3
    result = compare(processed, orig)
    assert result.offset_samples == pytest.approx(2.0 * RATE, abs=0.05)
    assert result.overlap_s == pytest.approx(3.0, abs=1e-3)


def test_a_short_clip_still_aligns_to_a_fraction_of_a_sample() -> None:
    orig = original(seconds=0.25)
    processed = MUSIC.render(RATE, round(0.25 * RATE), delay_s=10.3 / RATE)
    result = compare(processed, orig)
    assert result.offset_samples == pytest.approx(10.3, abs=0.05)
    assert result.residual_db <= -40


def test_silent_processed_take_gives_finite_figures() -> None:
    result = compare(np.zeros((1, 4 * RATE), np.float32))
    assert result.correlation == 0.0
    assert result.residual_db == pytest.approx(0.0, abs=0.01)
    json.dumps(result.to_dict(), allow_nan=False)


def test_samples_by_channels_layout_is_refused() -> None:
    with pytest.raises(AudioDecodeError, match="channels, samples"):
        compare(original().T)


def test_json_keys_types_and_signs_are_pinned() -> None:
    processed = MUSIC.render(RATE, 4 * RATE, delay_s=0.01, drift_ppm=300.0, gain=0.7)
    result = compare(processed)
    as_json = result.to_dict()
    text = json.dumps(as_json, allow_nan=False)  # strict JSON: no NaN or infinity anywhere
    for key in (
        "offset_samples",
        "offset_ms",
        "drift_ppm",
        "drift_corrected",
        "gain_db",
        "polarity",
        "sample_rate",
        "correlation",
        "residual_db",
        "overlap_s",
        "si_sdr_db",
        "energy_removed_db",
        "residual_over_time",
        "octave_bands",
        "echoes_before",
        "echoes_after",
        "rt60_before_s",
        "rt60_after_s",
    ):
        assert key in as_json, key
    assert isinstance(as_json["offset_samples"], float)
    assert as_json["polarity"] in (1, -1)
    assert as_json["sample_rate"] == RATE
    # Late processed: positive offset. Long-running processed clock: positive drift.
    # Quieter processed: negative gain.
    assert as_json["offset_samples"] > 0 and as_json["offset_ms"] > 0
    assert as_json["drift_ppm"] == pytest.approx(300.0, abs=2.0)
    assert as_json["gain_db"] == pytest.approx(20 * math.log10(0.7), abs=0.05)
    assert as_json["energy_removed_db"] == pytest.approx(-20 * math.log10(0.7), abs=0.1)
    assert as_json["si_sdr_db"] == pytest.approx(-as_json["residual_db"], abs=0.01)
    # The arrays are for pictures and playback, not for the JSON.
    assert "aligned" not in as_json and "difference" not in text[:0]
    assert len(text) < 20_000
    # The figures are one type every face reads; the JSON reads back into the same figures.
    figures = result.figures()
    assert figures.to_dict() == as_json
    assert CompareFigures.from_dict(json.loads(text)) == figures


def test_octave_bands_and_energy_removed_see_a_quieter_take() -> None:
    processed = 0.5 * original()
    result = compare(processed)
    assert [band.center_hz for band in result.octave_bands][:3] == [31.5, 63, 125]
    assert max(band.center_hz for band in result.octave_bands) <= RATE / 2
    for band in result.octave_bands:
        if band.center_hz >= 63:  # the lowest band holds no partials: skip its noise
            assert band.difference_db == pytest.approx(-6.02, abs=0.05)
    assert result.energy_removed_db == pytest.approx(6.02, abs=0.01)


def test_octave_band_levels_are_dbfs() -> None:
    t = np.arange(2 * RATE) / RATE
    sine = np.sin(2 * np.pi * 1000 * t)[np.newaxis, :].astype(np.float32)
    result = compare(0.5 * sine, sine)
    band = next(b for b in result.octave_bands if b.center_hz == 1000)
    assert band.original_db == pytest.approx(0.0, abs=0.1)  # full-scale sine: 0 dBFS
    assert band.processed_db == pytest.approx(-6.02, abs=0.1)


def test_residual_over_time_points_at_the_changed_stretch() -> None:
    processed = original().copy()
    processed[:, 2 * RATE : round(2.4 * RATE)] *= 0.5  # one 400 ms window turned down
    result = compare(processed)
    summary = result.residual_summary()
    assert summary.worst_at_s == pytest.approx(2.2, abs=0.21)
    worst = summary.worst_db
    assert worst is not None and worst > -10 > result.residual_db  # the dip dominates
    assert result.over_time is not None
    assert len(result.over_time.times_s) == 10


def test_unrelated_take_reports_poor_figures_without_failing() -> None:
    other = SyntheticMusic(seed=99, partials=64, top_hz=6000).render(RATE, 4 * RATE)
    result = compare(other)
    assert abs(result.correlation) < 0.2
    assert result.residual_db > -1.0
    assert any("matched" in note for note in result.notes)


def test_empty_audio_is_refused() -> None:
    with pytest.raises(AudioDecodeError):
        compare(original(), np.zeros((1, 0), np.float32))


def test_non_finite_audio_is_refused() -> None:
    bad = original().copy()
    bad[0, 10] = np.nan
    with pytest.raises(AudioDecodeError):
        compare(bad)
