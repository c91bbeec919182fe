"""Readers on unusual but valid files: wide integer PCM, unseekable codecs, no data chunk."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.io import wavfile

from audio_fixtures import tone_burst_signal, write_pcm_s64_w64
from deecho.audio.io import iter_blocks, opened, read_audio
from deecho.errors import AudioDecodeError
from odd_corpus import SCIPY_DATA


def _wav_bytes(bits: int, channels: int, rate: int, frames: bytes, block_align: int = 0) -> bytes:
    width = (bits + 7) // 8
    align = block_align or channels * width
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(frames)) + frames + b"\0" * (len(frames) & 1)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_40_bit_pcm_decodes_to_the_values_written(tmp_path: Path) -> None:
    # 40-bit samples, left-justified in 5 bytes: full scale is 2**39.
    values = np.array([[0, 2**38, -(2**39), 2**39 - 1], [1, -1, 2**20, -(2**30)]], dtype=np.int64)
    frames = b"".join(
        int(value).to_bytes(5, "little", signed=True) for value in values.T.reshape(-1)
    )
    (tmp_path / "wide.wav").write_bytes(_wav_bytes(40, 2, 8000, frames))
    audio, rate = read_audio(tmp_path / "wide.wav")
    assert rate == 8000
    np.testing.assert_allclose(audio, values / 2.0**39, rtol=1e-7, atol=0)


@pytest.mark.parametrize("bits", [36, 45, 53, 64])
def test_scipy_wide_pcm_files_match_scipys_own_reading(bits: int) -> None:
    path = SCIPY_DATA / f"test-8000Hz-le-3ch-5S-{bits}bit.wav"
    if not path.exists():
        pytest.skip("this scipy was installed without its test data")
    rate, expected = wavfile.read(path)
    audio, our_rate = read_audio(path)
    assert our_rate == rate
    np.testing.assert_allclose(audio, expected.T / 2.0**63, rtol=1e-7, atol=0)
    # and from an offset, as the pipeline reads excerpts
    with opened(path) as reader:
        tail = np.concatenate(list(iter_blocks(reader, 2, None, 2)), axis=1)
    np.testing.assert_array_equal(tail, audio[:, 2:])


def test_wide_pcm_with_an_impossible_block_size_is_refused(tmp_path: Path) -> None:
    (tmp_path / "odd.wav").write_bytes(_wav_bytes(48, 2, 8000, bytes(24), block_align=7))
    with pytest.raises(AudioDecodeError, match="header of this 48-bit PCM file is inconsistent"):
        read_audio(tmp_path / "odd.wav")


def test_a_codec_libsndfile_cannot_seek_in_is_read_from_any_offset(tmp_path: Path) -> None:
    path = tmp_path / "phone.wav"
    sf.write(path, tone_burst_signal(8000, 2.0)[0], 8000, format="WAV", subtype="GSM610")
    whole, _ = read_audio(path)
    with opened(path) as reader:
        middle = np.concatenate(list(iter_blocks(reader, 5000, 9000, 1024)), axis=1)
    np.testing.assert_array_equal(middle, whole[:, 5000:9000])


def test_a_wav_without_a_data_chunk_says_so(tmp_path: Path) -> None:
    whole = _wav_bytes(16, 1, 8000, bytes(100))
    (tmp_path / "cut.wav").write_bytes(whole[: whole.index(b"data")])
    with pytest.raises(AudioDecodeError, match="no audio data"):
        read_audio(tmp_path / "cut.wav")


def test_64_bit_pcm_that_ffmpeg_decodes_is_read(tmp_path: Path) -> None:
    audio = tone_burst_signal(8000, 1.0, channels=2, seed=2)
    write_pcm_s64_w64(tmp_path / "wide.w64", audio, 8000)
    back, rate = read_audio(tmp_path / "wide.w64")
    assert rate == 8000
    np.testing.assert_allclose(back, audio, atol=1e-7)
