"""`--same-room`: one echo model for every file of the batch, fitted on excerpts pooled
from all of them (or from `--room-from FILE`).

Short clips of one session each hold too little audio to show a long echo clearly; the
model is fitted once, here in the batch's process, and each worker applies it
(`engine.analyze(..., room=)`). Files at another sample rate than the first are left out
of the pool (and fail with a reason: a room's lags are in samples).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deecho import engine
from deecho.audio.io import iter_blocks, opened
from deecho.errors import DeechoError, UsageError

__all__ = ["POOL_S", "fit_room_from", "room_digest"]

#: Seconds of audio pooled in all, and at most from one file: spread over many files.
POOL_S = 60.0
PER_FILE_S = 10.0


def _excerpt(path: Path, seconds: float) -> tuple[int, np.ndarray] | None:
    """Up to `seconds` from the file's start; None when it is not audio."""
    try:
        with opened(path) as reader:
            rate = reader.info.sample_rate
            frames = round(seconds * rate)
            blocks = list(iter_blocks(reader, 0, frames, frames))
    except (DeechoError, OSError):
        return None  # its own job says why
    if not blocks:
        return None
    return rate, np.concatenate(blocks, axis=1)


def _spread(paths: Sequence[Path]) -> list[Path]:
    """Every file once, in an order that visits the whole list early (0, n/2, n/4, ...)."""
    order = sorted(range(len(paths)), key=lambda index: (_bit_reverse(index), index))
    return [paths[index] for index in order]


def _bit_reverse(index: int) -> float:
    value, place = 0.0, 0.5
    while index:
        value += place * (index & 1)
        index >>= 1
        place /= 2
    return value


def fit_room_from(paths: Sequence[Path]) -> engine.Room:
    """The room of `paths`: excerpts of as many files as POOL_S seconds allow."""
    excerpts: list[np.ndarray] = []
    rate = 0
    left = POOL_S
    for path in _spread(paths):
        if left <= 0:
            break
        found = _excerpt(path, min(PER_FILE_S, left))
        if found is None or (rate and found[0] != rate):
            continue
        rate, audio = found
        excerpts.append(audio)
        left -= audio.shape[-1] / rate
    if not excerpts:
        raise UsageError("--same-room: no input decodes as audio; nothing to fit the room on")
    return engine.fit_room(excerpts, rate)


def room_digest(room: engine.Room) -> str:
    """What makes two rooms the same, for the state file: a new room redoes every file."""
    digest = hashlib.sha256(str(room.sample_rate).encode())
    for channel in room.models:
        for run in channel:
            digest.update(f"{run.source}:{run.lag}:".encode())
            digest.update(np.asarray(run.kernel, dtype=np.float64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:16]
