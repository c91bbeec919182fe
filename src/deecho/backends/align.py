"""Line a backend's result up with the prepped input it was made from.

A remote result may come back as an MP3 (the vendor often sends no WAV), which
starts later than its source by the encoder's and decoder's delay (about a
thousand samples, depending on the codec and on gapless metadata), at another
sample rate, or with another channel count. Everything here turns it back into
blocks of exactly the input's length, rate and channel count, so that
`echo = input - no_echo` holds sample for sample as with the local engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import scipy.fft as sfft
import scipy.signal as ss

from deecho.audio.io import AudioReader, iter_blocks

__all__ = ["aligned_blocks", "estimate_offset", "match_channels", "resample"]

#: Codec delays are milliseconds; a larger lag means the match failed, not a delay.
MAX_OFFSET_S = 0.5
#: How much audio from the start the offset is measured on.
OFFSET_EXCERPT_S = 20.0


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """(channels, n) audio at another rate; compare's filter when present, else scipy's."""
    if from_rate == to_rate:
        return audio
    try:
        from deecho.compare.align import to_rate as compare_to_rate
    except ImportError:  # compare is optional for this path
        g = math.gcd(from_rate, to_rate)
        out = ss.resample_poly(audio, to_rate // g, from_rate // g, axis=-1)
        return np.asarray(out, dtype=np.float32)
    return compare_to_rate(audio, from_rate, to_rate)


def match_channels(block: np.ndarray, channels: int) -> np.ndarray:
    """Mono to many by copying, many to mono by averaging, else drop or repeat the last."""
    have = block.shape[0]
    if have == channels:
        return block
    if have == 1:
        return np.repeat(block, channels, axis=0)
    if channels == 1:
        return block.mean(axis=0, keepdims=True)
    if have > channels:
        return block[:channels]
    return np.concatenate([block, np.repeat(block[-1:], channels - have, axis=0)], axis=0)


def _fft_lag(reference: np.ndarray, result: np.ndarray, max_lag: int) -> int:
    """Lag (in samples) of mono `result` behind mono `reference`, searched within ±max_lag."""
    n = sfft.next_fast_len(len(reference) + len(result), real=True)
    corr = sfft.irfft(
        np.conj(sfft.rfft(reference, n)) * sfft.rfft(result, n), n
    )  # corr[k]: result[t + k] against reference[t]
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([corr[: max_lag + 1], corr[n - max_lag :]])
    return int(lags[int(np.argmax(values))])


def _refine(reference: np.ndarray, result: np.ndarray, lag: int, reach: int) -> int:
    """Best lag within ±reach of `lag`, at full rate (compare's coarse search is decimated)."""
    best, best_score = lag, -math.inf
    for candidate in range(lag - reach, lag + reach + 1):
        if candidate >= 0:
            a, b = reference, result[candidate:]
        else:
            a, b = reference[-candidate:], result
        length = min(len(a), len(b))
        if length <= 0:
            continue
        score = float(np.dot(a[:length], b[:length]))
        if score > best_score:
            best, best_score = candidate, score
    return best


def estimate_offset(reference: np.ndarray, result: np.ndarray, rate: int) -> int:
    """Samples by which `result` starts later than `reference` (negative: earlier); 0 when
    the two do not match well enough to tell (an offset beyond MAX_OFFSET_S is no codec's)."""
    excerpt = int(OFFSET_EXCERPT_S * rate)
    ref = np.asarray(reference[:, :excerpt].mean(axis=0), dtype=np.float64)
    res = np.asarray(result[:, : excerpt + int(MAX_OFFSET_S * rate)].mean(axis=0), np.float64)
    if not ref.any() or not res.any():
        return 0
    max_lag = int(MAX_OFFSET_S * rate)
    try:
        from deecho.compare.align import coarse_lag
    except ImportError:
        lag = _fft_lag(ref, res, max_lag)
    else:
        lag = _refine(ref, res, coarse_lag(ref, res, rate), reach=8)
    return lag if abs(lag) <= max_lag else 0


def aligned_blocks(
    source: AudioReader | np.ndarray,
    offset: int,
    frames: int,
    channels: int,
    block_frames: int,
) -> Iterator[np.ndarray]:
    """`frames` samples of `source` from position `offset` on, in blocks, `channels` wide;
    silence where the source has none (before its start or past its end)."""
    produced = 0

    def pieces() -> Iterator[np.ndarray]:
        if offset < 0:
            yield np.zeros((channels, -offset), dtype=np.float32)
        start = max(offset, 0)
        if isinstance(source, np.ndarray):
            for first in range(start, source.shape[1], block_frames):
                yield match_channels(source[:, first : first + block_frames], channels)
        else:
            # Read from the top and drop what comes before `start`: seeking into an MP3
            # (libsndfile, PyAV) can land a few samples off, which would undo the alignment.
            skip = start
            for block in iter_blocks(source, 0, None, block_frames):
                if skip >= block.shape[1]:
                    skip -= block.shape[1]
                    continue
                yield match_channels(block[:, skip:], channels)
                skip = 0

    pending: list[np.ndarray] = []
    held = 0
    for piece in pieces():
        pending.append(piece.astype(np.float32, copy=False))
        held += piece.shape[1]
        while held >= block_frames and produced < frames:
            joined = np.concatenate(pending, axis=1)
            size = min(block_frames, frames - produced)
            yield joined[:, :size]
            produced += size
            pending, held = [joined[:, size:]], joined.shape[1] - size
        if produced >= frames:
            return
    tail = np.concatenate(pending, axis=1) if pending else np.zeros((channels, 0), np.float32)
    while produced < frames:
        size = min(block_frames, frames - produced)
        block = tail[:, :size]
        tail = tail[:, size:]
        if block.shape[1] < size:
            pad = np.zeros((channels, size - block.shape[1]), dtype=np.float32)
            block = np.concatenate([block, pad], axis=1)
        yield block
        produced += size
