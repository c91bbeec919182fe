"""Files <-> (channels, samples) float32 arrays, whole or in chunks.

Readers, in the order tried:
- soundfile (libsndfile): WAV, FLAC, OGG/Vorbis/Opus, AIFF, MP3 and friends;
- PyAV (FFmpeg): what libsndfile cannot open on Linux, e.g. M4A/AAC and video
  containers such as MP4 and MOV.

Writers: soundfile for WAV/FLAC/AIFF/OGG, pedalboard (LAME) for MP3. Every
write goes to a temporary file beside the target and is renamed into place
only when complete, so a failed or interrupted run never leaves a half file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import numpy as np
import soundfile as sf

from deecho.errors import AudioDecodeError, AudioMissingError, OutputError, UsageError

__all__ = [
    "AudioInfo",
    "AudioReader",
    "AudioWriter",
    "open_audio",
    "probe",
    "read_audio",
    "write_audio",
]

#: Output containers deecho writes, by file extension.
WRITABLE_EXTENSIONS = (".wav", ".flac", ".aiff", ".aif", ".ogg", ".mp3")
#: Sample formats for WAV/AIFF/FLAC outputs, by the name the CLI takes.
BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


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
        self._file.seek(frame)

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
        if stream.duration is not None and stream.time_base is not None:
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
        block: np.ndarray = frame.to_ndarray()
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


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise AudioMissingError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise AudioMissingError(f"{path}: is a folder, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioMissingError(f"{path}: permission denied; make the file readable")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"{path.name}: the file is empty (0 bytes)")


def _check_wav_not_truncated(path: Path) -> None:
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
                return
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


def open_audio(path: str | os.PathLike[str]) -> AudioReader:
    """Open any supported audio file for reading; the caller closes it."""
    path = Path(path)
    _check_readable(path)
    _check_wav_not_truncated(path)
    try:
        reader: AudioReader = _SoundFileReader(path)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        try:
            reader = _PyAVReader(path)
        except AudioDecodeError:
            raise
        except Exception as exc:  # FFmpeg raises many types for a bad file
            raise AudioDecodeError(
                f"{path.name}: not a readable audio file (corrupt or unsupported format)"
            ) from exc
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


class AudioWriter:
    """Write (channels, n) float32 blocks to a file, atomically.

    The data goes to a hidden temporary file in the target's folder and is
    renamed over the target only when `close()` (or a clean `with` exit)
    succeeds; on an exception the temporary file is removed and the target is
    untouched. With `overwrite=False` an existing target is refused up front.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int,
        channels: int,
        *,
        bit_depth: str = "float",
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.overwrite = overwrite
        self.frames_written = 0
        self.clipped_samples = 0
        extension = self.path.suffix.lower()
        if extension not in WRITABLE_EXTENSIONS:
            raise UsageError(
                f"{self.path.name}: cannot write {extension or 'files without an extension'};"
                f" use one of {', '.join(WRITABLE_EXTENSIONS)}"
            )
        if bit_depth not in BIT_DEPTHS:
            raise UsageError(f"bit depth {bit_depth!r}: use one of {', '.join(BIT_DEPTHS)}")
        self._extension = extension
        self._subtype = self._choose_subtype(extension, bit_depth)
        self._check_target()
        self._temp_path = self._make_temp_path()
        self._rng = np.random.default_rng(0x0DEC)
        try:
            self._file = self._open_file()
        except Exception as exc:
            self._temp_path.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: cannot write this file ({exc})") from exc

    @staticmethod
    def _choose_subtype(extension: str, bit_depth: str) -> str | None:
        if extension in (".ogg", ".mp3"):
            return None
        if extension == ".flac":
            return "PCM_16" if bit_depth == "16" else "PCM_24"
        return BIT_DEPTHS[bit_depth]

    def _check_target(self) -> None:
        if self.path.exists() and not self.overwrite:
            raise OutputError(f"{self.path}: already exists; pass --force to replace it")
        if self.path.is_dir():
            raise OutputError(f"{self.path}: is a folder; give a file name")
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"{folder}: no such folder; create it first")
        if not os.access(folder, os.W_OK):
            raise OutputError(f"{folder}: permission denied; choose a writable folder")

    def _make_temp_path(self) -> Path:
        handle, name = tempfile.mkstemp(
            prefix=f".{self.path.stem}.", suffix=f".partial{self._extension}", dir=self.path.parent
        )
        os.close(handle)
        return Path(name)

    def _open_file(self) -> Any:
        if self._extension == ".mp3":
            from pedalboard.io import AudioFile  # LAME encoder; soundfile's MP3 writer is poorer

            self._temp_path.unlink(missing_ok=True)
            return AudioFile(
                str(self._temp_path), "w", self.sample_rate, self.channels, quality="V0"
            )
        return sf.SoundFile(
            str(self._temp_path),
            "w",
            samplerate=self.sample_rate,
            channels=self.channels,
            subtype=self._subtype,
        )

    def write(self, block: np.ndarray) -> None:
        """Append a (channels, n) block."""
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected ({self.channels}, n) samples, got {block.shape}")
        block = np.asarray(block, dtype=np.float32)
        if self._subtype != "FLOAT":
            block = self._to_fixed_range(block)
        if self._extension == ".mp3":
            self._file.write(block)
        else:
            self._file.write(block.T)
        self.frames_written += block.shape[1]

    def _to_fixed_range(self, block: np.ndarray) -> np.ndarray:
        if self._subtype == "PCM_16":
            # TPDF dither of one LSB: truncation distortion on quiet tails is audible at 16 bit.
            lsb = 1.0 / 32768.0
            noise = self._rng.random(block.shape, dtype=np.float32)
            noise -= self._rng.random(block.shape, dtype=np.float32)
            block = block + noise * lsb
        over = np.abs(block) > 1.0
        if over.any():
            self.clipped_samples += int(over.sum())
            block = np.clip(block, -1.0, 1.0)
        return block

    def close(self) -> None:
        """Finish the file and move it into place."""
        self._file.close()
        if self.path.exists() and not self.overwrite:
            self._temp_path.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: appeared while writing; pass --force to replace it")
        os.replace(self._temp_path, self.path)

    def abort(self) -> None:
        """Drop everything written so far; the target is left as it was."""
        with contextlib.suppress(Exception):
            self._file.close()
        self._temp_path.unlink(missing_ok=True)

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_audio(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    *,
    bit_depth: str = "float",
    overwrite: bool = False,
) -> Path:
    """Write a whole (channels, samples) array atomically; return the path."""
    audio = np.atleast_2d(audio)
    with AudioWriter(
        path, sample_rate, audio.shape[0], bit_depth=bit_depth, overwrite=overwrite
    ) as writer:
        for start in range(0, audio.shape[1], 1 << 18):
            writer.write(audio[:, start : start + (1 << 18)])
    return Path(path)
