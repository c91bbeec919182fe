"""Writing audio files atomically: soundfile for WAV/FLAC/AIFF/OGG, pedalboard (LAME) for MP3.

Every write goes to a temporary file beside the target and is renamed into
place only when complete, so a failed or interrupted run never leaves a half
file, and an existing file is replaced only when asked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import soundfile as sf

from deecho.errors import OutputError, UsageError

__all__ = ["BIT_DEPTHS", "WRITABLE_EXTENSIONS", "AudioWriter", "write_audio"]

#: Output containers deecho writes, by file extension.
WRITABLE_EXTENSIONS = (".wav", ".flac", ".aiff", ".aif", ".ogg", ".mp3")
#: Sample formats for WAV/AIFF/FLAC outputs, by the name the CLI takes.
BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
#: Free space under which a failed write is put down to a full disk: libsndfile keeps
#: the errno to itself, and a write that failed leaves at most a few buffers unused.
_NEARLY_FULL_BYTES = 1 << 20


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
        try:
            self._check_target()
            self._temp_path = self._make_temp_path()
        except OSError as exc:  # a name too long, a full disk, a read-only mount…
            raise self._write_failed(exc) from exc
        self._rng = np.random.default_rng(0x0DEC)
        try:
            self._file = self._open_file()
        except Exception as exc:
            error = self._write_failed(exc)
            self._temp_path.unlink(missing_ok=True)
            raise error from exc

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
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder}: is a file, not a folder; choose another output path")
        if not folder.is_dir():
            raise OutputError(f"{folder}: no such folder; create it first")
        if not os.access(folder, os.W_OK):
            if _read_only(folder):
                raise OutputError(f"{folder}: is on a read-only disk; choose a writable folder")
            raise OutputError(f"{folder}: permission denied; choose a writable folder")

    def _make_temp_path(self) -> Path:
        # Not tempfile.mkstemp: its 0600 mode would survive the rename, and a result the
        # user's other tools (a DAW, a share) cannot read is a lost result. os.open with
        # 0666 honours the umask, as any file the user saves does.
        for _ in range(100):
            token = secrets.token_hex(4)
            candidate = self.path.with_name(f".{self.path.stem}.{token}.partial{self._extension}")
            try:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            return candidate
        raise OutputError(f"{self.path.parent}: cannot create a temporary file there")

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
        try:
            if self._extension == ".mp3":
                self._file.write(block)
            else:
                self._file.write(block.T)
        except Exception as exc:  # libsndfile says only "System error." for a full disk
            error = self._write_failed(exc)  # before abort() frees the space it would measure
            self.abort()
            raise error from exc
        self.frames_written += block.shape[1]

    def _write_failed(self, exc: Exception) -> OutputError:
        """The one-line reason a write failed; a full disk is named, whatever the library said."""
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or _disk_full(folder):
            return OutputError(
                f"{self.path}: the disk is full; free some space or choose another place"
                " (nothing was written)"
            )
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return OutputError(f"{self.path}: cannot write this file ({reason}); nothing was written")

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
        try:
            self._file.close()  # flushes the last block and the header: the disk may fill here
        except Exception as exc:
            error = self._write_failed(exc)  # before abort() frees the space it would measure
            self.abort()
            raise error from exc
        if self.path.exists() and not self.overwrite:
            self._temp_path.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: appeared while writing; pass --force to replace it")
        try:
            os.replace(self._temp_path, self.path)
        except OSError as exc:  # the folder vanished, or went read-only, while we wrote
            self._temp_path.unlink(missing_ok=True)
            raise self._write_failed(exc) from exc

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


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _disk_full(folder: Path) -> bool:
    """Whether the file system holding `folder` has (next to) no room left for a user."""
    try:
        usage = os.statvfs(folder)
    except (OSError, AttributeError):  # the folder is gone; Windows has no statvfs
        return False
    return usage.f_bavail * usage.f_frsize < _NEARLY_FULL_BYTES


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
