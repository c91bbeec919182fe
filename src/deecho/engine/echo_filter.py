"""The echo model every channel is cleaned with, and its streaming inverse.

Model: each channel c hears its dry signal plus sparse, delayed, filtered copies of the dry
signals of any channel s:

    y_c[n] = x_c[n] + sum over tap runs (s, lag, kernel) of sum_i kernel[i] * x_s[n - lag - i]

A feedback echo train is a run of taps at D, 2D, 3D, ...; a lowpassed reflection is a short
kernel at D; ping-pong echoes are runs whose source is the other channel. Because every lag is
at least 20 ms, the inverse x = y - echo(x) is computed exactly in steps of the shortest lag,
each step only reading dry samples already computed (a sparse MIMO IIR with carried state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deecho.engine.fir import convolve_valid

_DIRECT_KERNEL_MAX = 48


@dataclass(frozen=True)
class TapRun:
    """Contiguous taps: the echo of channel `source` at lags lag .. lag+len(kernel)-1.

    `source` MIX (-1) is the mean of all channels: ping-pong units echo the mono sum.
    """

    source: int
    lag: int
    kernel: tuple[float, ...]

    @property
    def last_lag(self) -> int:
        return self.lag + len(self.kernel) - 1


ChannelModel = tuple[TapRun, ...]  # the echo heard in one channel
MIX = -1


def shortest_lag(models: Sequence[ChannelModel]) -> int:
    lags = [run.lag for model in models for run in model]
    return min(lags) if lags else 0


def longest_lag(models: Sequence[ChannelModel]) -> int:
    lags = [run.last_lag for model in models for run in model]
    return max(lags) if lags else 0


class EchoInverse:
    """Streams (channels, n) float64 blocks of y and returns the dry estimate x, block for block."""

    def __init__(self, models: Sequence[ChannelModel], channels: int) -> None:
        self.models = [
            tuple(models[channel]) if channel < len(models) else () for channel in range(channels)
        ]
        self.channels = channels
        self.step = max(shortest_lag(self.models), 1)
        self.memory = longest_lag(self.models)
        self.kernels = [
            [(run.source, run.lag, np.asarray(run.kernel, dtype=np.float64)) for run in model]
            for model in self.models
        ]
        self.history = np.zeros((channels, self.memory))

    def process(self, block: np.ndarray) -> np.ndarray:
        count = block.shape[-1]
        if self.memory == 0 or count == 0:
            return np.asarray(block, dtype=np.float64).copy()
        memory = self.memory
        dry = np.concatenate([self.history, np.zeros((self.channels, count))], axis=1)
        for start in range(0, count, self.step):
            stop = min(start + self.step, count)
            at = memory + start
            for channel, runs in enumerate(self.kernels):
                echo = np.zeros(stop - start)
                for source, lag, kernel in runs:
                    span = slice(at - lag - len(kernel) + 1, at + (stop - start) - lag)
                    past = dry[:, span].mean(axis=0) if source == MIX else dry[source, span]
                    echo += _convolve_valid(past, kernel)
                dry[channel, at : memory + stop] = block[channel, start:stop] - echo
        self.history = dry[:, -memory:].copy()
        return dry[:, memory:]


def _convolve_valid(past: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    if len(kernel) == 1:
        return kernel[0] * past
    if len(kernel) <= _DIRECT_KERNEL_MAX:
        return np.convolve(past, kernel, mode="valid")
    return convolve_valid(past, kernel)
