"""Known-answer tests of the benchmark's generators, its SI-SDR and its measuring tools."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate

# The bench package lives at the repository root, beside src/ (not installed).
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import cases, report, sources  # noqa: E402
from bench.measure import GNU_TIME, run_measured  # noqa: E402
from bench.metrics import si_sdr, si_sdr_gain  # noqa: E402

RATE = 16000


def noise(seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, round(seconds * RATE)))).astype(np.float32)


# --- SI-SDR ------------------------------------------------------------------------------


def test_si_sdr_of_a_scaled_copy_is_huge() -> None:
    signal = noise(1.0)
    assert si_sdr(0.3 * signal, signal) > 100.0
    assert si_sdr(-2.0 * signal, signal) > 100.0  # the scale may be negative too


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_si_sdr_with_added_noise_is_the_snr(snr_db: float) -> None:
    signal = noise(10.0, seed=1)[0].astype(np.float64)
    disturbance = np.random.default_rng(2).standard_normal(signal.size)
    disturbance *= np.sqrt(np.sum(signal**2) / np.sum(disturbance**2) / 10 ** (snr_db / 10))
    assert si_sdr(signal + disturbance, signal) == pytest.approx(snr_db, abs=0.1)


def test_si_sdr_length_is_the_references() -> None:
    signal = noise(1.0, seed=3)
    longer = np.concatenate([signal, noise(0.5, seed=4)], axis=1)
    assert si_sdr(longer, signal) > 100.0  # the extra tail is cut, not counted
    shorter = signal[:, : signal.shape[1] // 2]
    # Missing half the reference: the dropped half counts as distortion, about 0 dB.
    assert si_sdr(shorter, signal) == pytest.approx(0.0, abs=0.3)


def test_si_sdr_stereo_with_a_silent_channel_is_finite() -> None:
    stereo = np.concatenate([noise(1.0, seed=5), np.zeros((1, RATE), np.float32)])
    assert np.isfinite(si_sdr(stereo, stereo))
    disturbed = stereo + np.concatenate([np.zeros((1, RATE)), noise(1.0, seed=6)])
    assert si_sdr(disturbed, stereo) == pytest.approx(0.0, abs=0.3)


def test_si_sdr_refuses_a_channel_mismatch() -> None:
    with pytest.raises(ValueError, match="channel"):
        si_sdr(noise(0.1, channels=2), noise(0.1))


def test_si_sdr_gain_is_the_improvement() -> None:
    signal = noise(2.0, seed=7)[0]
    disturbance = noise(2.0, seed=8)[0]
    worse, better = signal + disturbance, signal + 0.1 * disturbance
    assert si_sdr_gain(better, worse, signal) == pytest.approx(20.0, abs=0.2)


# --- echo generators: known answers on noise -------------------------------------------------


def test_digital_delay_is_dry_plus_a_delayed_copy() -> None:
    dry = noise(1.0, seed=9)
    audio, reference, rate = cases.digital_delay(dry, RATE, delay_s=0.1, feedback=0.0, mix=0.5)
    assert rate == RATE and audio.shape == reference.shape == dry.shape
    assert audio.dtype == reference.dtype == np.float32
    # pedalboard's Delay: (1 - mix) * dry + mix * dry delayed by 100 ms (1600 frames).
    expected = 0.5 * reference + 0.5 * cases._delayed(reference, 1600)
    np.testing.assert_allclose(audio, expected, atol=2e-5)
    assert np.max(np.abs(audio)) == pytest.approx(cases.INPUT_PEAK, rel=1e-5)


def test_filtered_reflections_arrive_at_their_delays() -> None:
    dry = noise(1.0, seed=10)
    audio, reference, _ = cases.filtered_reflections(
        dry, RATE, reflections=((0.12, 0.5, 3000.0), (0.25, 0.35, 1500.0))
    )
    echo = (audio - reference)[0].astype(np.float64)
    assert np.max(np.abs(echo[: round(0.12 * RATE)])) < 1e-6  # nothing before the first one
    correlation = np.abs(correlate(echo, reference[0].astype(np.float64), mode="full"))
    at_lag = correlation[reference.shape[1] - 1 :]  # index = lag in frames, 0 and later
    # Elsewhere only chance correlation of noise with itself: the strongest of it is the floor.
    floor = max(np.max(at_lag[500:1800]), np.max(at_lag[2100:3900]), np.max(at_lag[4200:8000]))
    # Each reflection shows as a correlation peak near its delay (the lowpass smears it a little).
    for delay_frames in (1920, 4000):
        assert np.max(at_lag[delay_frames - 5 : delay_frames + 40]) > 4 * floor


def test_ping_pong_alternates_left_and_right() -> None:
    impulse = np.zeros((2, RATE), np.float32)
    impulse[:, 0] = 1.0
    audio, reference, _ = cases.ping_pong(impulse, RATE, delay_s=0.1, gain=0.5, feedback=0.5)
    echo = audio - reference
    step = round(0.1 * RATE)
    left, right = np.flatnonzero(np.abs(echo[0]) > 1e-6), np.flatnonzero(np.abs(echo[1]) > 1e-6)
    assert list(left[:3]) == [step, 3 * step, 5 * step]
    assert list(right[:3]) == [2 * step, 4 * step, 6 * step]
    assert echo[0, step] / reference[0, 0] == pytest.approx(0.5, rel=1e-4)
    assert echo[1, 2 * step] / reference[0, 0] == pytest.approx(0.25, rel=1e-4)


def test_ping_pong_needs_stereo() -> None:
    with pytest.raises(ValueError, match="stereo"):
        cases.ping_pong(noise(0.2), RATE, delay_s=0.1, gain=0.5, feedback=0.5)


def test_room_reference_is_aligned_and_more_reverb_is_worse() -> None:
    dry = noise(1.5, seed=11)
    scores = {}
    for rt60, dim in ((0.4, (6.0, 5.0, 3.0)), (1.0, (10.0, 7.5, 3.5))):
        audio, reference, _ = cases.room(dry, RATE, rt60_s=rt60, room_dim=dim)
        correlation = correlate(audio[0], reference[0, 2000:6000], mode="valid")
        assert int(np.argmax(correlation)) == 2000  # same time axis: the peak is at lag 0
        scores[rt60] = si_sdr(audio, reference)
    assert scores[0.4] > scores[1.0] + 2.0


def test_dry_reference_is_the_input() -> None:
    audio, reference, _ = cases.dry_input(noise(0.5, seed=12), RATE)
    np.testing.assert_array_equal(audio, reference)


# --- sources and the case list -------------------------------------------------------------


def test_music_is_deterministic_stereo_and_broadband() -> None:
    first = sources.music(RATE, 3.0, seed=1, stereo=True)
    np.testing.assert_array_equal(first, sources.music(RATE, 3.0, seed=1, stereo=True))
    assert first.shape == (2, 3 * RATE) and first.dtype == np.float32
    assert np.max(np.abs(first)) == pytest.approx(0.9, rel=1e-4)
    assert not np.allclose(first[0], first[1])  # instruments are panned apart
    spectrum = np.abs(np.fft.rfft(first[0])) ** 2
    frequencies = np.fft.rfftfreq(first.shape[1], 1 / RATE)
    low = spectrum[frequencies < 200].sum()
    high = spectrum[frequencies > 4000].sum()
    assert low > 0.01 * spectrum.sum() and high > 1e-4 * spectrum.sum()
    assert not np.array_equal(first, sources.music(RATE, 3.0, seed=2, stereo=True))


def test_speech_has_the_asked_length_and_pauses() -> None:
    talk = sources.speech(RATE, 3.0, seed=0)
    assert talk.shape == (3 * RATE,) and talk.dtype == np.float32
    np.testing.assert_array_equal(talk, sources.speech(RATE, 3.0, seed=0))
    frames = talk[: talk.size // 160 * 160].reshape(-1, 160)
    loudness = np.sqrt(np.mean(frames**2, axis=1))
    assert np.mean(loudness > 0.01) > 0.4  # mostly talking ...
    assert np.mean(loudness < 1e-4) > 0.05  # ... with real pauses


def test_case_list_is_complete_and_deterministic() -> None:
    every = cases.all_cases()
    names = [case.name for case in every]
    assert len(names) == len(set(names))
    assert {case.group for case in every} == set(cases.GROUPS)
    rooms = [case for case in every if case.group == "room"]
    assert sorted({float(case.params["rt60_s"]) for case in rooms}) == [0.4, 0.7, 1.0]
    quick = cases.all_cases(quick=True)
    assert {case.group for case in quick} == set(cases.GROUPS)
    case = next(case for case in quick if case.name == "pingpong_music")
    audio, reference, rate = case.generate()
    again, _, _ = case.generate()
    np.testing.assert_array_equal(audio, again)
    assert audio.shape == reference.shape and audio.shape[0] == 2 and rate == 44100


def test_find_cases_matches_group_or_name() -> None:
    assert {case.group for case in cases.find_cases("room")} == {"room"}
    assert [case.name for case in cases.find_cases("dry_music")] == ["dry_music"]
    assert list(cases.find_cases("no_such_case")) == []


# --- report and measurement --------------------------------------------------------------


def test_readme_section_is_replaced_between_markers() -> None:
    text = report.replace_section("# Bench\n\nintro\n", "quality", "table one")
    assert "<!-- bench:quality:start -->\ntable one\n<!-- bench:quality:end -->" in text
    text = report.replace_section(text + "\nafter\n", "quality", "table two")
    assert "table one" not in text and "table two" in text
    assert text.startswith("# Bench\n\nintro\n") and text.rstrip().endswith("after")


def test_peak_memory_of_a_child_is_measured() -> None:
    # A child that holds 300 MB for a moment: the measure must see at least that much.
    code = "import time; block = bytearray(300 * 2**20); time.sleep(0.3)"
    run = run_measured([sys.executable, "-c", code], measure_memory=True, timeout_s=60)
    assert run.ok
    assert run.peak_rss_bytes is not None and run.peak_rss_bytes >= 300 * 2**20
    if Path(GNU_TIME).exists():  # GNU time also reports the child's CPU seconds
        assert run.cpu_seconds is not None and run.cpu_seconds < run.seconds + 1.0
