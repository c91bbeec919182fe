"""Two corpora of real, unusual audio files for the hostile-input tests.

- scipy's own test WAVs: RF64, WAVE_FORMAT_EXTENSIBLE, 5- to 64-bit integer PCM,
  µ-law, unsigned 8-bit, big-endian RIFX, odd block alignments, early EOF, a cut-short
  chunk. Real files that nobody here wrote, shipped inside the installed scipy.
- one short file of every container and codec the readers claim, written by
  libsndfile (soundfile) and FFmpeg (PyAV).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io
import soundfile as sf

from audio_fixtures import tone_burst_signal, write_m4a, write_pcm_s64_w64

SCIPY_DATA = Path(scipy.io.__file__).parent / "tests" / "data"
SCIPY_WAVS = sorted(SCIPY_DATA.glob("*.wav"))

#: scipy's files that are damaged on purpose, and words deecho's reason must hold.
SCIPY_DAMAGED = {
    "test-44100Hz-le-1ch-4bytes-early-eof-no-data.wav": "no audio data",
    "test-44100Hz-le-1ch-4bytes-early-eof.wav": "truncated",
    "test-44100Hz-le-1ch-4bytes-incomplete-chunk.wav": "no audio data",
}

RATE = 16000


def _audio(channels: int = 2) -> np.ndarray:
    return tone_burst_signal(RATE, 1.0, channels=channels, seed=5)


def _soundfile(
    extension: str, container: str, subtype: str, rate: int = RATE, channels: int = 2
) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / f"{container.lower()}-{subtype.lower()}.{extension}"
        sf.write(path, _audio(channels).T, rate, format=container, subtype=subtype)
        return path

    return write


def _pyav(extension: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        return write_m4a(folder / f"aac.{extension}", _audio(), RATE)

    return write


#: Every container/codec pair the readers claim, by a test id.
FORMATS: dict[str, Callable[[Path], Path]] = {
    "wav-u8": _soundfile("wav", "WAV", "PCM_U8"),
    "wav-16": _soundfile("wav", "WAV", "PCM_16"),
    "wav-24": _soundfile("wav", "WAV", "PCM_24"),
    "wav-32": _soundfile("wav", "WAV", "PCM_32"),
    "wav-float": _soundfile("wav", "WAV", "FLOAT"),
    "wav-double": _soundfile("wav", "WAV", "DOUBLE"),
    "wav-ulaw": _soundfile("wav", "WAV", "ULAW"),
    "wav-alaw": _soundfile("wav", "WAV", "ALAW"),
    "wav-ima-adpcm": _soundfile("wav", "WAV", "IMA_ADPCM"),
    "wav-ms-adpcm": _soundfile("wav", "WAV", "MS_ADPCM"),
    "wav-gsm610": _soundfile("wav", "WAV", "GSM610", rate=8000, channels=1),
    "wavex-24": _soundfile("wav", "WAVEX", "PCM_24"),
    "rf64-16": _soundfile("wav", "RF64", "PCM_16"),
    "w64-16": _soundfile("w64", "W64", "PCM_16"),
    "aiff-16": _soundfile("aiff", "AIFF", "PCM_16"),
    "aifc-float": _soundfile("aifc", "AIFF", "FLOAT"),
    "caf-alac": _soundfile("caf", "CAF", "ALAC_16"),
    "au-16": _soundfile("au", "AU", "PCM_16"),
    "flac-24": _soundfile("flac", "FLAC", "PCM_24"),
    "ogg-vorbis": _soundfile("ogg", "OGG", "VORBIS"),
    "ogg-opus": _soundfile("opus", "OGG", "OPUS", rate=48000),
    "mp3": _soundfile("mp3", "MP3", "MPEG_LAYER_III"),
    "m4a-aac": _pyav("m4a"),
    "mp4-aac": _pyav("mp4"),
    "mov-aac": _pyav("mov"),
    "w64-pcm-s64": lambda folder: write_pcm_s64_w64(folder / "pcm-s64.w64", _audio(), RATE),
}
