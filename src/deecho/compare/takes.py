"""The two takes a comparison reads, in blocks: from a file on disk, or an array in memory.

A comparison never holds a whole take: it asks a `Take` for blocks from some position
on, as often as it needs (once to measure, once to compare), and a `SlidingWindow`
serves arbitrary spans of such a stream with a bounded buffer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from deecho.errors import AudioDecodeError

if TYPE_CHECKING:
    from deecho.audio.io import AudioReader

#: Frames per block read from a take: 2 MB of stereo float32.
BLOCK_FRAMES = 1 << 18
#: More channels than this means the array was passed as (samples, channels).
MAX_CHANNELS = 64


@dataclass(frozen=True)
class TakeInfo:
    sample_rate: int
    channels: int
    frames: int


class Take(Protocol):
    """A take read in (channels, n) float32 blocks, as many times as asked."""

    info: TakeInfo

    def blocks(self, start: int = 0, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        """Blocks from frame `start` to the end."""
        ...


class ArrayTake:
    """A take already in memory: (channels, n) or (n,)."""

    def __init__(self, audio: np.ndarray, rate: int, what: str) -> None:
        self.audio = _as_channels(audio, what)
        self.info = TakeInfo(int(rate), self.audio.shape[0], self.audio.shape[1])

    def blocks(self, start: int = 0, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        for first in range(start, self.info.frames, block_frames):
            yield self.audio[:, first : first + block_frames]


class FileTake:
    """A take on disk, decoded from the top each time it is read (seeking into an MP3
    can land a few samples off, which would spoil a sub-sample measurement)."""

    def __init__(self, path: Path) -> None:
        from deecho.audio.io import opened

        self.path = path
        with opened(path) as reader:
            info = reader.info
            frames = info.frames if reader.frames_exact else _count_frames(reader)
        self.info = TakeInfo(info.sample_rate, info.channels, frames)
        if frames <= 0:
            raise AudioDecodeError(f"{path.name}: no audio to compare")

    def blocks(self, start: int = 0, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        from deecho.audio.io import iter_blocks, opened

        with opened(self.path) as reader:
            skip = start
            for block in iter_blocks(reader, 0, None, block_frames):
                if skip >= block.shape[1]:
                    skip -= block.shape[1]
                    continue
                yield block[:, skip:] if skip else block
                skip = 0


def _count_frames(reader: AudioReader) -> int:
    """Frames of a container whose header gives only a duration: decoded and counted."""
    from deecho.audio.io import iter_blocks

    return sum(block.shape[1] for block in iter_blocks(reader, 0, None, 1 << 16))


def _as_channels(audio: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise AudioDecodeError(f"{what}: no audio to compare (shape {np.shape(audio)})")
    if array.shape[0] > MAX_CHANNELS:
        raise AudioDecodeError(
            f"{what}: {array.shape[0]} channels; audio must be (channels, samples)"
        )
    if not np.isfinite(array).all():
        raise AudioDecodeError(f"{what}: holds NaN or infinite samples")
    return array


class SlidingWindow:
    """Arbitrary spans [lo, hi) of a block stream, read once from the top.

    Spans must move forward (each `lo` at or after the previous one less `keep`); what
    lies more than `keep` before the last `lo` is forgotten, so the buffer holds one span,
    one block and `keep`. Positions before the stream's start and past its end read as
    silence.
    """

    def __init__(
        self, blocks: Iterator[np.ndarray], channels: int, base: int = 0, keep: int = 0
    ) -> None:
        self._blocks = blocks
        self._keep = keep
        self._buffer = np.zeros((channels, 0), dtype=np.float32)
        self._base = base  # stream position of self._buffer[:, 0]
        self._ended = False
        self._start = base

    def read(self, lo: int, hi: int) -> np.ndarray:
        if lo < self._base and self._base > self._start:
            raise RuntimeError(f"read from {lo}, but samples before {self._base} were dropped")
        parts = [self._buffer]
        have = self._base + self._buffer.shape[1]
        while not self._ended and have < hi:
            block = next(self._blocks, None)
            if block is None:
                self._ended = True
            else:
                parts.append(np.asarray(block, dtype=np.float32))
                have += block.shape[1]
        if len(parts) > 1:
            self._buffer = np.concatenate(parts, axis=1)
        keep_from = min(max(0, lo - self._keep - self._base), self._buffer.shape[1])
        self._buffer = self._buffer[:, keep_from:]
        self._base += keep_from
        out = np.zeros((self._buffer.shape[0], hi - lo), dtype=np.float32)
        first, last = max(lo, self._base), min(hi, self._base + self._buffer.shape[1])
        if last > first:
            out[:, first - lo : last - lo] = self._buffer[:, first - self._base : last - self._base]
        return out


Item = TypeVar("Item")
_DONE = object()


def prefetched(items: Iterator[Item], depth: int = 2) -> Iterator[Item]:
    """`items`, produced `depth` ahead in a thread: reading, resampling and the FFTs
    (which release the GIL) run beside whatever consumes them, on a second core.
    An exception in the producer is raised in the consumer; leaving early stops it."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)

    worker = threading.Thread(target=produce, name="deecho-compare-read", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5)


def block_lengths(length: int, window: int) -> list[int]:
    """Blocks of whole residual windows (so no window straddles two), the rest last."""
    block = window * max(1, BLOCK_FRAMES // window)
    lengths = [block] * (length // block)
    if length % block:
        lengths.append(length % block)
    return lengths


def compared_channels(block: np.ndarray, mono: bool) -> np.ndarray:
    """The block as compared: its channels, or their mean when the takes' channels differ."""
    return block.mean(axis=0, keepdims=True) if mono else block
