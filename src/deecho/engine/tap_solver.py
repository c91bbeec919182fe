"""Weighted least squares for the taps of an echo model at given lags.

targets[channel][n] ~ sum over sources s and tap runs (lag, length) of
taps * regressors[s][n - lag - i], each row n weighted by the inverse local power of the
dry estimate (see whitening.py). Rows come from evenly spread chunks of the excerpts, so the
cost stays bounded however long they are.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from numpy.lib.stride_tricks import sliding_window_view

from .echo_filter import MIX, ChannelModel, TapRun
from .whitening import inverse_power_weights

MAX_ROWS = 120_000
ROW_CHUNK = 8192
RIDGE = 1e-3

Layout = list[tuple[int, int]]  # (first lag, number of taps) per run


def solve_taps(
    channel: int,
    layout: Layout,
    targets: list[np.ndarray],
    regressors: list[np.ndarray],
    sources: list[int],
    dry: list[np.ndarray],
    span: int,
) -> np.ndarray:
    """Least-squares taps for one channel; `dry` (whitened) sets each row's weight."""
    taps = sum(length for _, length in layout) * len(sources)
    gram = np.zeros((taps, taps))
    moment = np.zeros(taps)
    first_row = layout[-1][0] + layout[-1][1]
    row_budget = MAX_ROWS // max(len(targets), 1)
    for target, estimate, dry_estimate in zip(targets, regressors, dry, strict=True):
        weights = inverse_power_weights(dry_estimate[channel], span)
        heard = [_source_signal(estimate, source) for source in sources]
        for rows in _row_chunks(first_row, target.shape[-1], row_budget):
            root = np.sqrt(weights[rows]).astype(np.float32)
            regressors_by_tap = _weighted_regressors(heard, layout, rows, root)
            aim = target[channel, rows].astype(np.float32) * root
            gram += regressors_by_tap @ regressors_by_tap.T
            moment += regressors_by_tap @ aim
    ridge = RIDGE * float(np.trace(gram)) / max(taps, 1) + 1e-12
    return np.asarray(scipy.linalg.solve(gram + ridge * np.eye(taps), moment, assume_a="pos"))


def runs_from_solution(solution: np.ndarray, layout: Layout, sources: list[int]) -> ChannelModel:
    runs: list[TapRun] = []
    offset = 0
    for source in sources:
        for lag, length in layout:
            kernel = solution[offset : offset + length]
            offset += length
            runs.append(TapRun(source=source, lag=lag, kernel=tuple(float(k) for k in kernel)))
    return tuple(runs)


def _row_chunks(first: int, stop: int, budget: int) -> list[slice]:
    """Row ranges to fit on: evenly spread chunks, at most `budget` rows in all."""
    available = stop - first
    if available <= 0:
        return []
    count = max(1, min(available // ROW_CHUNK, budget // ROW_CHUNK))
    if count * ROW_CHUNK >= available:
        return [slice(first, stop)]
    starts = np.linspace(first, stop - ROW_CHUNK, count).astype(int)
    return [slice(int(start), int(start) + ROW_CHUNK) for start in starts]


def _source_signal(estimate: np.ndarray, source: int) -> np.ndarray:
    """The signal a source's taps act on: one channel, or the mean of all (MIX)."""
    return estimate.mean(axis=0) if source == MIX else estimate[source]


def _weighted_regressors(
    heard: list[np.ndarray], layout: Layout, rows: slice, root: np.ndarray
) -> np.ndarray:
    """The weighted design matrix, transposed: row (source, lag) holds
    root[n] * heard[source][n - lag] for each fitted sample n.

    Transposed, each tap's row is a contiguous slice of its source times the weights, so the
    whole matrix is written in one float32 pass at memory speed (built as columns, it took as
    long as the Gram matrix itself). float32 halves the cost of the Gram matrix; the taps need
    ~1e-3 accuracy, not 1e-15.
    """
    assert rows.start is not None and rows.stop is not None
    count = rows.stop - rows.start
    taps = sum(length for _, length in layout) * len(heard)
    regressors = np.empty((taps, count), dtype=np.float32)
    row = 0
    for signal in heard:
        for lag, length in layout:
            segment = signal[rows.start - lag - length + 1 : rows.stop - lag].astype(np.float32)
            # window k starts k samples in: it is the tap at lag + length - 1 - k
            delayed = sliding_window_view(segment, count)[::-1]
            np.multiply(delayed, root, out=regressors[row : row + length])
            row += length
    return regressors
