"""Compare as it streams: files read in blocks, long takes measured from excerpts, memory
bounded, and the null over the band both takes carry.

Known answers come from `deecho.compare.broadband`'s formula (exact delay and drift);
the long-take path is forced on short takes by lowering `measure.WHOLE_S`, so the
excerpt measurement is checked against the same answers the whole-take one gets.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from deecho.compare import align_and_compare, compare_files, measure
from deecho.compare.broadband import BandLimited, noise_bursts

RATE = 16_000


def _write(path: Path, audio: np.ndarray, rate: int) -> Path:
    sf.write(str(path), np.ascontiguousarray(audio.T), rate, subtype="FLOAT")
    return path


def test_files_and_arrays_give_the_same_figures(tmp_path: Path) -> None:
    take = BandLimited(noise_bursts(1, 2, 6 * RATE, RATE, top_hz=7000), RATE)
    original = take.render(RATE, 6 * RATE)
    processed = take.render(RATE, 6 * RATE, delay_s=321.4 / RATE, drift_ppm=30.0, gain=0.6)
    from_files = compare_files(
        _write(tmp_path / "o.wav", original, RATE),
        _write(tmp_path / "p.wav", processed, RATE),
        engine_estimates=False,
    )
    from_arrays = align_and_compare(original, RATE, processed, RATE, engine_estimates=False)
    assert from_files.figures() == from_arrays.figures()
    assert from_files.offset_samples == pytest.approx(321.4, abs=0.005)
    assert from_files.picture is not None


@pytest.mark.parametrize(("drift_ppm", "offset"), [(20.0, 1500.37), (-35.0, -2345.6), (0.0, 77.25)])
def test_long_takes_measured_from_excerpts_get_the_known_answer(
    monkeypatch: pytest.MonkeyPatch, drift_ppm: float, offset: float
) -> None:
    frames = 90 * RATE
    take = BandLimited(noise_bursts(6, 1, frames, RATE, top_hz=7000), RATE)
    original = take.render(RATE, frames)
    processed = take.render(RATE, frames, delay_s=offset / RATE, drift_ppm=drift_ppm, gain=0.7)
    whole = align_and_compare(original, RATE, processed, RATE, engine_estimates=False)
    monkeypatch.setattr(measure, "WHOLE_S", 10.0)
    excerpts = align_and_compare(original, RATE, processed, RATE, engine_estimates=False)
    for found in (whole, excerpts):
        assert found.offset_samples == pytest.approx(offset, abs=0.005)
        assert found.drift_ppm == pytest.approx(drift_ppm, abs=0.01)
        assert found.residual_db < -45
    assert excerpts.overlap_s == pytest.approx(whole.overlap_s, abs=1 / RATE)
    assert excerpts.residual_db == pytest.approx(whole.residual_db, abs=3.0)


def _long_pair(folder: Path, seconds: int) -> tuple[Path, Path]:
    """A stereo take and a copy 20 ppm long, 0.6 as loud and 500 samples late, written
    ten seconds at a time (so the test itself never holds the whole take)."""
    stream = soxr.ResampleStream(1.0, 1.0 + 20e-6, 2, dtype="float32", quality="HQ")
    original, processed = folder / f"o{seconds}.wav", folder / f"p{seconds}.wav"
    with (
        sf.SoundFile(str(original), "w", RATE, 2, "FLOAT") as o,
        sf.SoundFile(str(processed), "w", RATE, 2, "FLOAT") as p,
    ):
        p.write(np.zeros((500, 2), dtype=np.float32))
        for index in range(seconds // 10):
            chunk = (0.2 * noise_bursts(index, 2, 10 * RATE, RATE, top_hz=7000)).T
            o.write(chunk.astype(np.float32))
            p.write(0.6 * stream.resample_chunk(chunk.astype(np.float32)))
    return original, processed


def _peak_bytes(original: Path, processed: Path) -> tuple[int, float]:
    tracemalloc.start()
    try:
        found = compare_files(original, processed, engine_estimates=False)
        return tracemalloc.get_traced_memory()[1], found.drift_ppm
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_length(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measure, "WHOLE_S", 10.0)
    short, short_drift = _peak_bytes(*_long_pair(tmp_path, 90))
    long, long_drift = _peak_bytes(*_long_pair(tmp_path, 360))
    assert short_drift == pytest.approx(20.0, abs=0.05)
    assert long_drift == pytest.approx(20.0, abs=0.05)
    # Holding one take whole (float32 stereo, or a float64 mono mix) would add at least
    # its 270 extra seconds (35 MB) to the long run's peak. What grows is only the 1 kHz
    # mono copies the lag is found on (1/16 of the samples at this rate, 1/48 at 48 kHz):
    # 7 MB here.
    one_take_more = 270 * RATE * 2 * 4
    assert long - short < one_take_more / 2, (short, long)


def test_the_null_is_also_reported_over_the_band_both_takes_carry() -> None:
    rate = 44_100
    take = BandLimited(noise_bursts(3, 1, 6 * rate, rate, top_hz=20_000), rate)
    original = take.render(rate, 6 * rate)
    late = take.render(rate, 6 * rate, delay_s=250.5 / rate, gain=0.8)
    # What an MP3 encoder's low-pass does: nothing above 12 kHz is left.
    spectrum = np.fft.rfft(late, axis=-1)
    spectrum[:, np.fft.rfftfreq(late.shape[-1], 1 / rate) > 12_000] = 0
    processed = np.fft.irfft(spectrum, late.shape[-1], axis=-1).astype(np.float32)
    found = align_and_compare(original, rate, processed, rate, engine_estimates=False)
    assert found.offset_samples == pytest.approx(250.5, abs=0.01)
    assert found.residual_db > -6  # a third of the band is missing from the processed take
    assert found.shared_band_hz == pytest.approx(12_000, abs=150)
    assert found.residual_shared_band_db is not None
    assert found.residual_shared_band_db < -40
    as_json = found.to_dict()
    assert as_json["residual_shared_band_db"] == round(found.residual_shared_band_db, 2)
