"""Audio I/O: formats round-trip, bad files fail in one clear line, writes are atomic."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_fixtures import tone_burst_signal, write_m4a
from deecho.audio.io import AudioWriter, probe, read_audio, write_audio
from deecho.errors import AudioDecodeError, AudioMissingError, OutputError, UsageError

RATE = 44100


def _stereo(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.4 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)])).astype(
        np.float32
    )


@pytest.mark.parametrize(
    ("name", "subtype", "tolerance"),
    [
        ("a.wav", "FLOAT", 0.0),
        ("a.wav", "PCM_24", 2e-7),
        ("a.wav", "PCM_16", 1e-4),
        ("a.flac", "PCM_24", 2e-7),
        ("a.aiff", "PCM_16", 1e-4),
        ("a.ogg", "VORBIS", 0.05),
    ],
)
def test_lossless_and_ogg_round_trip(tmp_path: Path, name: str, subtype: str, tolerance: float):
    audio = _stereo()
    sf.write(tmp_path / name, audio.T, RATE, subtype=subtype)
    back, rate = read_audio(tmp_path / name)
    assert rate == RATE
    assert back.dtype == np.float32
    assert back.shape == audio.shape
    if tolerance:
        assert np.max(np.abs(back - audio)) <= tolerance
    else:
        np.testing.assert_array_equal(back, audio)


def test_mp3_written_and_read_keeps_rate_channels_and_length(tmp_path: Path):
    audio = _stereo()
    write_audio(tmp_path / "a.mp3", audio, RATE)
    info = probe(tmp_path / "a.mp3")
    assert (info.sample_rate, info.channels) == (RATE, 2)
    back, _ = read_audio(tmp_path / "a.mp3")
    assert abs(back.shape[1] - audio.shape[1]) <= 1152  # at most one MPEG frame of padding


def test_m4a_aac_is_read_through_pyav(tmp_path: Path):
    audio = tone_burst_signal(RATE, 2.0, channels=2)
    write_m4a(tmp_path / "take.m4a", audio, RATE)
    back, rate = read_audio(tmp_path / "take.m4a")
    assert rate == RATE
    # The container's duration trims the encoder's padding: the length is exact.
    assert back.shape == audio.shape
    # Aligned to the sample (priming skipped) and close to the original after the codec.
    correlation = np.corrcoef(back[0, 2048:-2048], audio[0, 2048:-2048])[0, 1]
    assert correlation > 0.9


def test_missing_file_is_an_input_error(tmp_path: Path):
    with pytest.raises(AudioMissingError, match="no such file"):
        read_audio(tmp_path / "nope.wav")


def test_empty_file_is_a_data_error(tmp_path: Path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioDecodeError, match="empty"):
        read_audio(tmp_path / "empty.wav")


def test_garbage_is_a_data_error(tmp_path: Path):
    (tmp_path / "noise.wav").write_bytes(os.urandom(4096))
    with pytest.raises(AudioDecodeError, match="not a readable audio file"):
        read_audio(tmp_path / "noise.wav")


def test_truncated_wav_is_refused(tmp_path: Path):
    write_audio(tmp_path / "whole.wav", _stereo(), RATE, bit_depth="16")
    data = (tmp_path / "whole.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioDecodeError, match="truncated"):
        read_audio(tmp_path / "cut.wav")


def test_truncated_flac_is_refused(tmp_path: Path):
    sf.write(tmp_path / "whole.flac", _stereo(3.0).T, RATE)
    data = (tmp_path / "whole.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioDecodeError):
        read_audio(tmp_path / "cut.flac")


def test_writer_refuses_existing_file_and_leaves_it_alone(tmp_path: Path):
    target = tmp_path / "out.wav"
    target.write_bytes(b"precious")
    with pytest.raises(OutputError, match="already exists"):
        write_audio(target, _stereo(), RATE)
    assert target.read_bytes() == b"precious"


def test_failed_write_leaves_no_file_behind(tmp_path: Path):
    target = tmp_path / "out.wav"
    with pytest.raises(RuntimeError), AudioWriter(target, RATE, 2) as writer:
        writer.write(_stereo(0.1))
        raise RuntimeError("power cut")
    assert list(tmp_path.iterdir()) == []


def test_unknown_output_extension_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="cannot write"):
        write_audio(tmp_path / "out.xyz", _stereo(), RATE)


def test_16_bit_output_counts_clipped_samples(tmp_path: Path):
    loud = _stereo(0.1) * 4
    with AudioWriter(tmp_path / "loud.wav", RATE, 2, bit_depth="16") as writer:
        writer.write(loud)
    assert writer.clipped_samples > 0
    back, _ = read_audio(tmp_path / "loud.wav")
    assert np.max(np.abs(back)) <= 1.0


def test_outputs_get_the_users_usual_permissions(tmp_path: Path):
    umask = os.umask(0o022)
    try:
        write_audio(tmp_path / "out.wav", _stereo(0.1), RATE)
    finally:
        os.umask(umask)
    # A temporary file's 0600 must not survive the rename: a DAW or a share must read it.
    assert (tmp_path / "out.wav").stat().st_mode & 0o777 == 0o644
