"""WAV files of integer PCM wider than 32 bits, which libsndfile and FFmpeg do not decode.

They are rare but real: measurement rigs export 64-bit integer PCM and scipy writes
36- to 64-bit test files. The WAVE format stores any PCM width the same way,
little-endian and left-justified in whole bytes, so widening every sample to 64
bits and scaling by 2**63 reads them all, exactly to float32's precision.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from deecho.errors import AudioDecodeError

__all__ = ["WideLayout", "WidePcmReader", "find_wide_pcm"]

_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
#: The first two bytes of KSDATAFORMAT_SUBTYPE_PCM, the GUID an extensible PCM file names.
_PCM_SUBFORMAT_PREFIX = b"\x01\x00"
#: More chunks than any real file carries: a header that loops or lies is not read forever.
_MAX_CHUNKS = 4096


@dataclass(frozen=True)
class WideLayout:
    """Where the samples of a wide-PCM WAV lie and how they are packed."""

    channels: int
    sample_rate: int
    bits: int
    bytes_per_sample: int
    data_offset: int
    frames: int


def _format_chunk(body: bytes) -> tuple[int, int, int, int, int] | None:
    """(format tag, channels, rate, block align, bits) of a fmt chunk, tags resolved."""
    if len(body) < 16:
        return None
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 26 or body[24:26] != _PCM_SUBFORMAT_PREFIX:
            return None
        tag = _WAVE_FORMAT_PCM
    return tag, channels, rate, block_align, bits


def _chunks(handle: BinaryIO, size: int) -> list[tuple[bytes, int, int]]:
    """(id, offset of the body, declared size) of each chunk of a RIFF/WAVE file."""
    found: list[tuple[bytes, int, int]] = []
    position = 12
    while position + 8 <= size and len(found) < _MAX_CHUNKS:
        handle.seek(position)
        head = handle.read(8)
        chunk_id, chunk_size = head[:4], int.from_bytes(head[4:8], "little")
        found.append((chunk_id, position + 8, chunk_size))
        position += 8 + chunk_size + (chunk_size & 1)
    return found


def find_wide_pcm(path: Path) -> WideLayout | None:
    """The layout of a RIFF/WAVE file of 33- to 64-bit integer PCM; None for any other file."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None
        chunks = _chunks(handle, size)
        fmt = next(((offset, length) for cid, offset, length in chunks if cid == b"fmt "), None)
        data = next(((offset, length) for cid, offset, length in chunks if cid == b"data"), None)
        if fmt is None or data is None:
            return None
        handle.seek(fmt[0])
        parsed = _format_chunk(handle.read(min(fmt[1], 64)))
    if parsed is None:
        return None
    tag, channels, rate, block_align, bits = parsed
    if tag != _WAVE_FORMAT_PCM or not 32 < bits <= 64:
        return None
    width = (bits + 7) // 8
    if channels <= 0 or rate <= 0 or block_align != channels * width:
        raise AudioDecodeError(
            f"{path.name}: the header of this {bits}-bit PCM file is inconsistent"
            f" ({channels} channels, {block_align} bytes a frame); export it again"
        )
    data_offset, data_size = data
    frames = min(data_size, size - data_offset) // block_align
    return WideLayout(channels, rate, bits, width, data_offset, frames)


class WidePcmReader:
    """An AudioReader (see readers.py) over a wide-PCM WAV, read block by block."""

    frames_exact = True

    def __init__(self, path: Path, layout: WideLayout) -> None:
        from deecho.audio.readers import AudioInfo  # readers imports this module

        self._layout = layout
        self._file = path.open("rb")
        self._frame = 0
        self.info = AudioInfo(
            path=path,
            format="WAV",
            subtype=f"PCM_{layout.bits}",
            sample_rate=layout.sample_rate,
            channels=layout.channels,
            frames=layout.frames,
        )

    def seek(self, frame: int) -> None:
        self._frame = min(max(0, frame), self._layout.frames)

    def read(self, frames: int) -> np.ndarray:
        layout = self._layout
        count = max(0, min(frames, layout.frames - self._frame))
        frame_bytes = layout.channels * layout.bytes_per_sample
        self._file.seek(layout.data_offset + self._frame * frame_bytes)
        raw = self._file.read(count * frame_bytes)
        count = len(raw) // frame_bytes  # the file may have shrunk since it was opened
        self._frame += count
        samples = np.frombuffer(raw, dtype=np.uint8, count=count * frame_bytes)
        samples = samples.reshape(count * layout.channels, layout.bytes_per_sample)
        widened = np.zeros((count * layout.channels, 8), dtype=np.uint8)
        widened[:, 8 - layout.bytes_per_sample :] = samples
        values = widened.view("<i8").reshape(count, layout.channels)
        return np.ascontiguousarray((values / 2.0**63).astype(np.float32).T)

    def close(self) -> None:
        self._file.close()
