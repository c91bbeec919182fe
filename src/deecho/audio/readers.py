"""Reading audio files as (channels, samples) float32, whole or in blocks.

Readers, in the order tried:
- soundfile (libsndfile): WAV, FLAC, OGG/Vorbis/Opus, AIFF, MP3 and friends;
- widepcm: WAV of integer PCM wider than 32 bits, which neither library decodes;
- PyAV (FFmpeg): what libsndfile cannot open on Linux, e.g. M4A/AAC and video
  containers such as MP4 and MOV.

Whatever a decoder raises on a damaged or unusual file ends as an AudioError
(exit 65, HTTP 422), never as an internal error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile as sf

from deecho.audio.widepcm import WidePcmReader, find_wide_pcm
from deecho.errors import AudioDecodeError, AudioMissingError

__all__ = [
    "AudioInfo",
    "AudioReader",
    "check_wav_not_truncated",
    "iter_blocks",
    "open_audio",
    "opened",
    "probe",
    "read_audio",
]


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header (or its first decode for PyAV)."""

    path: Path
    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


class AudioReader(Protocol):
    """A sequential reader of (channels, n) float32 blocks."""

    info: AudioInfo
    #: Whether info.frames is exact (a header count) or an estimate (a container's duration).
    frames_exact: bool

    def seek(self, frame: int) -> None: ...

    def read(self, frames: int) -> np.ndarray: ...

    def close(self) -> None: ...


class _SoundFileReader:
    frames_exact = True

    def __init__(self, path: Path) -> None:
        self._file = sf.SoundFile(str(path))
        self.info = AudioInfo(
            path=path,
            format=self._file.format,
            subtype=self._file.subtype or "",
            sample_rate=int(self._file.samplerate),
            channels=int(self._file.channels),
            frames=int(self._file.frames),
        )

    def seek(self, frame: int) -> None:
        try:
            self._file.seek(frame)
        except (sf.LibsndfileError, RuntimeError):
            self._seek_by_decoding(frame)

    def _seek_by_decoding(self, frame: int) -> None:
        """Reopen and decode up to `frame`: libsndfile cannot seek in some codecs (GSM 6.10)."""
        self._file.close()
        self._file = sf.SoundFile(str(self.info.path))
        remaining = frame
        while remaining > 0:
            skipped = self.read(min(remaining, 1 << 16)).shape[1]
            if skipped == 0:
                break
            remaining -= skipped

    def read(self, frames: int) -> np.ndarray:
        try:
            block = self._file.read(frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            name = self.info.path.name
            raise AudioDecodeError(
                f"{name}: the audio is damaged ({exc}); export it again"
            ) from exc
        return np.ascontiguousarray(block.T)

    def close(self) -> None:
        self._file.close()


#: FFmpeg's demuxers for bare codec streams, whose durations are bitrate estimates.
_RAW_STREAM_FORMATS = frozenset({"aac", "ac3", "eac3", "dts", "mp3"})


class _PyAVReader:
    """Decodes with FFmpeg through PyAV; seeks by decoding from the start.

    Seeking by re-decoding is exact to the sample, which container seeks are
    not, and AAC decodes at hundreds of times real time.
    """

    frames_exact = False

    def __init__(self, path: Path) -> None:
        import av  # imported here: most files never need FFmpeg

        self._av = av
        self._path = path
        self._container = av.open(str(path))
        streams = self._container.streams.audio
        if not streams:
            self._container.close()
            raise AudioDecodeError(f"{path.name}: the file has no audio stream")
        stream = streams[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        channels = int(stream.codec_context.channels or 0)
        if rate <= 0 or channels <= 0:
            self._container.close()
            raise AudioDecodeError(f"{path.name}: the audio stream has no sample rate or channels")
        duration_s = 0.0
        raw = (self._container.format.name or "") in _RAW_STREAM_FORMATS
        if raw and stream.time_base is not None:
            # A raw stream (ADTS .aac, as HLS segments join into) declares no length: FFmpeg
            # guesses one from the bitrate (10 % short was seen), so its packets are counted.
            duration_s = self._demuxed_seconds(stream.time_base)
        elif stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        elif self._container.duration is not None:
            duration_s = self._container.duration / 1_000_000
        self.info = AudioInfo(
            path=path,
            format=(self._container.format.name or "").split(",")[0].upper(),
            subtype=(stream.codec_context.name or "").upper(),
            sample_rate=rate,
            channels=channels,
            frames=round(duration_s * rate),
        )
        self._restart()

    def _demuxed_seconds(self, time_base: Any) -> float:
        """The stream's length summed from its packets' durations: reads, decodes nothing."""
        total = 0
        with self._av.open(str(self._path)) as container:
            for packet in container.demux(audio=0):
                total += packet.duration or 0
        return float(total * time_base)

    def _restart(self) -> None:
        self._container.close()
        self._container = self._av.open(str(self._path))
        self._frames = self._container.decode(audio=0)
        self._pending = np.zeros((self.info.channels, 0), dtype=np.float32)
        self._decoded = 0

    def _decode_next(self) -> np.ndarray | None:
        try:
            frame = next(self._frames)
        except StopIteration:
            return None
        except self._av.error.FFmpegError as exc:
            raise AudioDecodeError(f"{self._path.name}: cannot decode audio ({exc})") from exc
        try:
            block: np.ndarray = _frame_samples(frame)
        except (ValueError, TypeError) as exc:  # a sample format PyAV cannot hand to numpy
            raise AudioDecodeError(
                f"{self._path.name}: the sample format {frame.format.name} is not supported;"
                " export it as 16-bit, 24-bit or float"
            ) from exc
        if block.dtype.kind in "iu":
            scale = float(np.iinfo(block.dtype.type).max) + 1.0
            block = block.astype(np.float32) / scale
        block = block.astype(np.float32, copy=False)
        if not frame.format.is_planar:
            block = block.reshape(-1, self.info.channels).T
        # AAC encoders pad the last packet; the container's duration is the true length.
        if self.info.frames > 0:
            block = block[:, : max(0, self.info.frames - self._decoded)]
        self._decoded += block.shape[1]
        return block

    def seek(self, frame: int) -> None:
        self._restart()
        remaining = frame
        while remaining > 0:
            block = self.read(min(remaining, 1 << 16))
            if block.shape[1] == 0:
                break
            remaining -= block.shape[1]

    def read(self, frames: int) -> np.ndarray:
        parts = [self._pending]
        have = self._pending.shape[1]
        while have < frames:
            block = self._decode_next()
            if block is None:
                break
            parts.append(block)
            have += block.shape[1]
        joined = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        self._pending = joined[:, frames:]
        return np.ascontiguousarray(joined[:, :frames])

    def close(self) -> None:
        self._container.close()


def _frame_samples(frame: Any) -> np.ndarray:
    """A decoded frame as PyAV's to_ndarray() shapes it, 64-bit integer PCM included.

    PyAV has no numpy type for FFmpeg's s64/s64p (64-bit PCM in W64, for one), so
    those are read from the frame's planes: packed (1, samples × channels), planar
    (channels, samples), native byte order as FFmpeg keeps them.
    """
    if frame.format.name not in ("s64", "s64p"):
        return frame.to_ndarray()
    if frame.format.is_planar:
        planes = [
            np.frombuffer(plane, dtype=np.int64, count=frame.samples) for plane in frame.planes
        ]
        return np.stack(planes)
    count = frame.samples * len(frame.layout.channels)
    return np.frombuffer(frame.planes[0], dtype=np.int64, count=count).reshape(1, count)


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise AudioMissingError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise AudioMissingError(f"{path}: is a folder, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioMissingError(f"{path}: permission denied; make the file readable")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"{path.name}: the file is empty (0 bytes)")


def check_wav_not_truncated(path: Path) -> None:
    """Refuse a RIFF/WAVE file whose data chunk promises more than the file holds.

    libsndfile quietly reads what is there; an engineer wants to know that the
    export or copy was cut short before processing half a take.
    """
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return
        size = path.stat().st_size
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                raise AudioDecodeError(
                    f"{path.name}: the WAV file has no audio data (it was cut short);"
                    " export or copy it again"
                )
            chunk_id, chunk_size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if chunk_id == b"data":
                # 0 and 0xFFFFFFFF mark a stream written without a known length.
                if chunk_size in (0, 0xFFFFFFFF):
                    return
                if handle.tell() + chunk_size > size:
                    missing = handle.tell() + chunk_size - size
                    raise AudioDecodeError(
                        f"{path.name}: the file is truncated ({missing} bytes of audio missing);"
                        " export or copy it again"
                    )
                return
            handle.seek(chunk_size + (chunk_size & 1), os.SEEK_CUR)


def _open_without_libsndfile(path: Path) -> AudioReader:
    wide = find_wide_pcm(path)
    if wide is not None:
        return WidePcmReader(path, wide)
    try:
        return _PyAVReader(path)
    except AudioDecodeError:
        raise
    except Exception as exc:  # FFmpeg raises many types for a bad file
        raise AudioDecodeError(
            f"{path.name}: not a readable audio file (corrupt or unsupported format)"
        ) from exc


def open_audio(path: str | os.PathLike[str]) -> AudioReader:
    """Open any supported audio file for reading; the caller closes it."""
    path = Path(path)
    _check_readable(path)
    check_wav_not_truncated(path)
    try:
        reader: AudioReader = _SoundFileReader(path)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        reader = _open_without_libsndfile(path)
    if reader.info.frames <= 0 and not isinstance(reader, _PyAVReader):
        reader.close()
        raise AudioDecodeError(f"{path.name}: the file holds no audio samples")
    return reader


@contextlib.contextmanager
def opened(path: str | os.PathLike[str]) -> Iterator[AudioReader]:
    """`open_audio` as a context manager."""
    reader = open_audio(path)
    try:
        yield reader
    finally:
        reader.close()


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read a file's format, rate, channels and length without decoding it all."""
    with opened(path) as reader:
        return reader.info


def _seconds_to_frame(seconds: float | None, rate: int, default: int) -> int:
    return default if seconds is None else max(0, round(seconds * rate))


def iter_blocks(
    reader: AudioReader, start: int, stop: int | None, block_frames: int
) -> Iterator[np.ndarray]:
    """Yield (channels, <=block_frames) blocks of [start, stop) from an open reader.

    With `stop` None the blocks run to the end of the stream. A file that ends
    before the frame count its header promised raises AudioDecodeError, since a
    decoder that stops early means a damaged file.
    """
    reader.seek(start)
    position = start
    promised = reader.info.frames
    while stop is None or position < stop:
        want = block_frames if stop is None else min(block_frames, stop - position)
        block = reader.read(want)
        if block.shape[1] == 0:
            break
        if not np.isfinite(block).all():
            name = reader.info.path.name
            raise AudioDecodeError(f"{name}: the audio holds NaN or infinite samples")
        position += block.shape[1]
        yield block
    if reader.frames_exact and position < min(stop if stop is not None else promised, promised):
        ended_s = position / reader.info.sample_rate
        raise AudioDecodeError(
            f"{reader.info.path.name}: the audio ends early at {ended_s:.2f} s;"
            " the file is damaged, export it again"
        )


def read_audio(
    path: str | os.PathLike[str], start_s: float | None = None, end_s: float | None = None
) -> tuple[np.ndarray, int]:
    """Read a whole file (or a time range of it) as (channels, samples) float32 and its rate."""
    with opened(path) as reader:
        rate = reader.info.sample_rate
        start = _seconds_to_frame(start_s, rate, 0)
        stop = None if end_s is None else _seconds_to_frame(end_s, rate, 0)
        blocks = list(iter_blocks(reader, start, stop, 1 << 18))
    if not blocks:
        raise AudioDecodeError(f"{Path(path).name}: no audio samples in the requested range")
    return (np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]), rate
