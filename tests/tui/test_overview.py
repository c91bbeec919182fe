"""The waveform overview: known answers on generated signals, streamed or in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from deecho.overview import MAX_BUCKETS, Overview, overview_of_array, overview_of_file


def burst_file(path: Path, rate: int = 8000, seconds: float = 10.0) -> np.ndarray:
    """Stereo silence with a 0.5-amplitude square burst on the left from 2 s to 3 s,
    and a -0.25 DC step on the right from 6 s to 8 s."""
    frames = int(rate * seconds)
    audio = np.zeros((2, frames), dtype=np.float32)
    burst = np.arange(2 * rate, 3 * rate)
    audio[0, burst] = np.where(burst % 20 < 10, 0.5, -0.5)
    audio[1, 6 * rate : 8 * rate] = -0.25
    sf.write(str(path), audio.T, rate, subtype="FLOAT")
    return audio


def test_columns_find_the_burst_and_the_step(tmp_path: Path) -> None:
    audio = burst_file(tmp_path / "burst.wav")
    overview = overview_of_file(tmp_path / "burst.wav")
    assert overview is not None and overview.complete
    assert overview.frames == audio.shape[1] and overview.channels == 2
    lows, highs = overview.columns(10)  # one column a second
    assert highs.tolist() == pytest.approx([0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0])
    assert lows.tolist() == pytest.approx([0, 0, -0.5, 0, 0, 0, -0.25, -0.25, 0, 0])


def test_a_zoomed_view_covers_only_its_span(tmp_path: Path) -> None:
    burst_file(tmp_path / "burst.wav")
    overview = overview_of_file(tmp_path / "burst.wav")
    assert overview is not None
    lows, highs = overview.columns(4, start_s=1.5, end_s=3.5)  # half-second columns
    assert highs.tolist() == pytest.approx([0, 0.5, 0.5, 0])
    lows, _ = overview.columns(2, start_s=7.0, end_s=9.0)
    assert lows.tolist() == pytest.approx([-0.25, 0])


def test_columns_past_the_end_are_blank_not_silent(tmp_path: Path) -> None:
    burst_file(tmp_path / "burst.wav")
    overview = overview_of_file(tmp_path / "burst.wav")
    assert overview is not None
    lows, _ = overview.columns(4, start_s=8.0, end_s=12.0)
    assert np.isfinite(lows[:2]).all() and np.isnan(lows[2:]).all()


def test_file_and_array_overviews_agree(tmp_path: Path) -> None:
    audio = burst_file(tmp_path / "burst.wav")
    from_file = overview_of_file(tmp_path / "burst.wav")
    from_array = overview_of_array(audio, 8000)
    assert from_file is not None
    np.testing.assert_array_equal(from_file.minimum, from_array.minimum)
    np.testing.assert_array_equal(from_file.maximum, from_array.maximum)


def test_long_audio_keeps_a_bounded_envelope() -> None:
    rate = 8000
    audio = np.zeros((1, rate * 600), dtype=np.float32)  # ten minutes
    audio[0, -1] = 1.0  # the very last sample must still be seen
    overview = overview_of_array(audio, rate)
    assert overview.minimum.size <= MAX_BUCKETS + 1
    assert overview.maximum[-1] == 1.0
    assert overview.columns(50)[1][-1] == 1.0


def test_partial_overviews_grow_and_cancel_stops(tmp_path: Path) -> None:
    burst_file(tmp_path / "burst.wav", seconds=600.0)
    partials: list[Overview] = []
    final = overview_of_file(
        tmp_path / "burst.wav", on_partial=partials.append, partial_interval_s=0.0
    )
    assert final is not None and len(partials) >= 2
    reached = [partial.frames_read for partial in partials]
    assert reached == sorted(reached) and reached[-1] <= final.frames_read
    assert not partials[0].complete
    calls = iter(range(1000))
    stopped = overview_of_file(tmp_path / "burst.wav", cancelled=lambda: next(calls) >= 2)
    assert stopped is None


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_stored_sample_fast_path_matches_decoded_samples(tmp_path: Path, subtype: str) -> None:
    from deecho.audio.io import read_audio

    rng = np.random.default_rng(3)
    audio = np.clip(rng.standard_normal((2, 100_003)) * 0.3, -1, 1).astype(np.float32)
    path = tmp_path / f"{subtype}.wav"
    sf.write(str(path), audio.T, 44100, subtype=subtype)
    decoded, rate = read_audio(path)
    fast = overview_of_file(path)
    assert fast is not None
    reference = overview_of_array(decoded, rate)
    np.testing.assert_array_equal(fast.minimum, reference.minimum)
    np.testing.assert_array_equal(fast.maximum, reference.maximum)
    assert fast.frames == reference.frames == audio.shape[1]


def test_compressed_files_take_the_decoding_path(tmp_path: Path) -> None:
    rate = 22050
    audio = np.zeros((1, rate * 3), dtype=np.float32)
    audio[0, rate : 2 * rate] = 0.5 * np.sin(np.arange(rate) / 5.0)
    sf.write(str(tmp_path / "take.ogg"), audio.T, rate, format="OGG", subtype="VORBIS")
    overview = overview_of_file(tmp_path / "take.ogg")
    assert overview is not None
    _, highs = overview.columns(3)
    assert highs[1] == pytest.approx(0.5, abs=0.1) and abs(highs[0]) < 0.02  # lossy codec
