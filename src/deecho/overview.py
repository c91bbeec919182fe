"""A waveform overview: the min/max envelope of a file, fast enough for an hour of audio.

One streaming pass over the file keeps, for each bucket of `bucket_frames`
frames, the lowest and highest sample over all channels. The bucket size is
chosen so an overview never holds more than about `MAX_BUCKETS` pairs, whatever
the file's length, so a view of any width and zoom can be drawn from it by
folding buckets into columns, without touching the file again.

Pure numpy on top of `deecho.audio.io`: no UI here, so the workspace, the
benchmarks and the tests share it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deecho.audio.io import iter_blocks, opened

__all__ = [
    "MAX_BUCKETS",
    "Overview",
    "overview_of_array",
    "overview_of_blocks",
    "overview_of_file",
    "read_frames_for",
]

#: Upper bound on envelope buckets: 64 Ki pairs of float32, half a megabyte.
MAX_BUCKETS = 1 << 16
#: Frames read at a time; large blocks keep the per-block Python cost negligible.
_READ_FRAMES = 1 << 20


def _bucket_frames_for(frames: int) -> int:
    return max(1, math.ceil(max(frames, 1) / MAX_BUCKETS))


@dataclass(frozen=True, eq=False)  # arrays inside: identity, not element-wise equality
class Overview:
    """The min/max envelope of some audio, and the frame range it covers so far."""

    sample_rate: int
    channels: int
    frames: int
    """Frames of the whole source (what the header promised, or what was read)."""
    bucket_frames: int
    minimum: np.ndarray
    """Lowest sample over all channels, per bucket, float32."""
    maximum: np.ndarray
    """Highest sample over all channels, per bucket, float32."""
    frames_read: int
    """How far the envelope reaches; less than `frames` while still reading."""

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def complete(self) -> bool:
        return self.frames_read >= self.frames

    def columns(
        self, width: int, start_s: float = 0.0, end_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Min and max per column for `width` columns spanning [start_s, end_s).

        Columns past what has been read so far (or past the end) hold NaN, so a
        view can draw them blank rather than as silence.
        """
        width = max(1, int(width))
        end_s = self.duration_s if end_s is None else end_s
        first = start_s * self.sample_rate / self.bucket_frames
        last = max(end_s * self.sample_rate / self.bucket_frames, first + 1e-9)
        edges = np.linspace(first, last, width + 1)
        starts = np.floor(edges[:-1]).astype(np.int64)
        stops = np.maximum(np.ceil(edges[1:]).astype(np.int64), starts + 1)
        available = self.minimum.shape[0]
        lows = np.full(width, np.nan, dtype=np.float32)
        highs = np.full(width, np.nan, dtype=np.float32)
        inside = (starts >= 0) & (starts < available)
        if not inside.any():
            return lows, highs
        index = starts[inside]
        last_stop = int(min(stops[inside][-1], available))
        # reduceat folds each column's run of buckets (up to the next column's start) in
        # one vectorised call; a sentinel index ends the last column at its own stop.
        sentinel = last_stop < available
        if sentinel:
            index = np.append(index, last_stop)
        folded_lows = np.minimum.reduceat(self.minimum, index)
        folded_highs = np.maximum.reduceat(self.maximum, index)
        if sentinel:
            folded_lows, folded_highs = folded_lows[:-1], folded_highs[:-1]
        lows[inside] = folded_lows
        highs[inside] = folded_highs
        return lows, highs


class _EnvelopeBuilder:
    """Folds (channels, n) blocks into bucket minima and maxima as they stream by."""

    def __init__(self, sample_rate: int, channels: int, frames: int) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames = frames
        self.bucket_frames = _bucket_frames_for(frames)
        self.frames_read = 0
        self._minima: list[np.ndarray] = []
        self._maxima: list[np.ndarray] = []
        self._carry = np.zeros((channels, 0), dtype=np.float32)
        self._frame_carry: np.ndarray | None = None
        self._frame_scale = 1.0

    def add(self, block: np.ndarray) -> None:
        self.frames_read += block.shape[1]
        if self._carry.shape[1]:
            block = np.concatenate([self._carry, block], axis=1)
        whole = block.shape[1] // self.bucket_frames
        if whole:
            used = block[:, : whole * self.bucket_frames]
            shaped = used.reshape(block.shape[0], whole, self.bucket_frames)
            self._minima.append(shaped.min(axis=(0, 2)))
            self._maxima.append(shaped.max(axis=(0, 2)))
        self._carry = block[:, whole * self.bucket_frames :]

    def add_frames(self, frames: np.ndarray, scale: float) -> None:
        """Fold (n, channels) frames as the file stores them, in any sample type.

        Minimum and maximum over a bucket do not care how channels interleave, so
        the file's own layout (and its integers) are reduced without a transpose
        or a conversion of every sample; only the results are scaled to ±1.
        """
        self.frames_read += frames.shape[0]
        if self._frame_carry is not None and self._frame_carry.shape[0]:
            frames = np.concatenate([self._frame_carry, frames], axis=0)
        whole = frames.shape[0] // self.bucket_frames
        if whole:
            shaped = frames[: whole * self.bucket_frames].reshape(whole, -1)
            self._minima.append(shaped.min(axis=1).astype(np.float32) * np.float32(scale))
            self._maxima.append(shaped.max(axis=1).astype(np.float32) * np.float32(scale))
        self._frame_carry = frames[whole * self.bucket_frames :]
        self._frame_scale = scale

    def snapshot(self, final: bool = False) -> Overview:
        minima, maxima = list(self._minima), list(self._maxima)
        if final and self._carry.shape[1]:
            minima.append(self._carry.min().reshape(1))
            maxima.append(self._carry.max().reshape(1))
        if final and self._frame_carry is not None and self._frame_carry.shape[0]:
            scale = np.float32(self._frame_scale)
            minima.append(self._frame_carry.min().astype(np.float32).reshape(1) * scale)
            maxima.append(self._frame_carry.max().astype(np.float32).reshape(1) * scale)
        empty = np.zeros(0, dtype=np.float32)
        return Overview(
            sample_rate=self.sample_rate,
            channels=self.channels,
            frames=self.frames_read if final else max(self.frames, 1),
            bucket_frames=self.bucket_frames,
            minimum=np.concatenate(minima).astype(np.float32) if minima else empty,
            maximum=np.concatenate(maxima).astype(np.float32) if maxima else empty,
            frames_read=self.frames_read,
        )


def overview_of_blocks(
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    channels: int,
    frames: int,
    on_partial: Callable[[Overview], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    partial_interval_s: float = 0.3,
) -> Overview | None:
    """Fold a stream of (channels, n) blocks, `frames` long in all, into an envelope.

    `on_partial` gets the growing overview every `partial_interval_s` seconds of
    wall time, so a view can draw a long or slow file progressively; a file read
    faster than that gets no partials at all (each costs the view a redraw).
    Returns None when `cancelled()` turns true between blocks.
    """
    builder = _EnvelopeBuilder(sample_rate, channels, frames)
    next_partial = time.monotonic() + partial_interval_s
    for block in blocks:
        if cancelled is not None and cancelled():
            return None
        builder.add(block)
        if on_partial is not None and time.monotonic() >= next_partial:
            next_partial = time.monotonic() + partial_interval_s
            on_partial(builder.snapshot())
    return builder.snapshot(final=True)


def read_frames_for(frames: int) -> int:
    """A read size of whole buckets, about a megaframe, for a source of `frames` frames."""
    bucket = _bucket_frames_for(frames)
    return max(_READ_FRAMES // bucket, 1) * bucket


def overview_of_file(
    path: str | Path,
    on_partial: Callable[[Overview], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    partial_interval_s: float = 0.3,
) -> Overview | None:
    """Read a file once, block by block, and return its envelope (see `overview_of_blocks`)."""
    with opened(path) as reader:  # all of audio.io's checks (missing, empty, truncated…)
        info = reader.info
        native = _NATIVE_SAMPLES.get(info.subtype)
        if native is not None and info.format in ("WAV", "WAVEX", "AIFF", "FLAC", "W64", "RF64"):
            return _overview_of_stored_samples(
                Path(path),
                info.sample_rate,
                info.channels,
                info.frames,
                native,
                on_partial,
                cancelled,
                partial_interval_s,
            )
        blocks = iter_blocks(reader, 0, None, read_frames_for(info.frames))
        return overview_of_blocks(
            blocks,
            info.sample_rate,
            info.channels,
            info.frames,
            on_partial=on_partial,
            cancelled=cancelled,
            partial_interval_s=partial_interval_s,
        )


#: PCM subtypes read as stored, and the factor that brings them to ±1 (libsndfile's own).
_NATIVE_SAMPLES: dict[str, tuple[str, float]] = {
    "PCM_16": ("int16", 1.0 / 32768.0),
    "PCM_24": ("int32", 1.0 / 2147483648.0),  # libsndfile left-justifies 24 bits in 32
    "PCM_32": ("int32", 1.0 / 2147483648.0),
    "FLOAT": ("float32", 1.0),
}


def _overview_of_stored_samples(
    path: Path,
    sample_rate: int,
    channels: int,
    frames: int,
    native: tuple[str, float],
    on_partial: Callable[[Overview], None] | None,
    cancelled: Callable[[], bool] | None,
    partial_interval_s: float,
) -> Overview | None:
    """The fast path for PCM and float files: interleaved frames, in their stored type."""
    import soundfile as sf

    dtype, scale = native
    builder = _EnvelopeBuilder(sample_rate, channels, frames)
    read_frames = read_frames_for(frames)
    next_partial = time.monotonic() + partial_interval_s
    with sf.SoundFile(str(path)) as stream:
        while True:
            if cancelled is not None and cancelled():
                return None
            block = stream.read(read_frames, dtype=dtype, always_2d=True)
            if block.shape[0] == 0:
                break
            builder.add_frames(block, scale)
            if on_partial is not None and time.monotonic() >= next_partial:
                next_partial = time.monotonic() + partial_interval_s
                on_partial(builder.snapshot())
    return builder.snapshot(final=True)


def overview_of_array(audio: np.ndarray, sample_rate: int) -> Overview:
    """The envelope of (channels, samples) audio already in memory."""
    audio = np.atleast_2d(audio)
    builder = _EnvelopeBuilder(sample_rate, audio.shape[0], audio.shape[1])
    builder.add(np.asarray(audio, dtype=np.float32))
    return builder.snapshot(final=True)
