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
import scipy.fft

from deecho.engine.fir import convolve_valid

_DIRECT_KERNEL_MAX = 48
# A channel model with this many taps is convolved by FFT pieces (see _Partitions), unless its
# shortest lag is so short that the per-step overhead of the FFTs outweighs it (measured).
PARTITIONED_MIN_TAPS = 64
PARTITIONED_MIN_STEP = 2048


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
        taps = max(sum(len(run.kernel) for run in model) for model in self.models)
        self.partitions = (
            _Partitions(self.models, self.step, self.memory)
            if taps >= PARTITIONED_MIN_TAPS and self.step >= PARTITIONED_MIN_STEP
            else None
        )

    def process(self, block: np.ndarray) -> np.ndarray:
        count = block.shape[-1]
        if self.memory == 0 or count == 0:
            return np.asarray(block, dtype=np.float64).copy()
        if self.partitions is not None:
            return self._process_partitioned(block, self.partitions)
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

    def _process_partitioned(self, block: np.ndarray, partitions: _Partitions) -> np.ndarray:
        """The same recursion, with each channel's echo summed in the frequency domain."""
        count = block.shape[-1]
        size = partitions.size
        origin = size + self.memory  # zeros in front: every segment starts inside the array
        dry = np.zeros((self.channels, origin + count))
        dry[:, size:origin] = self.history
        spectra: dict[tuple[int, int], np.ndarray] = {}

        def spectrum(source: int, end: int) -> np.ndarray:
            """Spectrum of the `size` dry samples before `end` (all final by then)."""
            key = (source, end)
            if key not in spectra:
                span = slice(end - size, end)
                past = dry[:, span].mean(axis=0) if source == MIX else dry[source, span]
                spectra[key] = scipy.fft.rfft(past, size)
            return spectra[key]

        step = self.step
        for start in range(0, count, step):
            stop = min(start + step, count)
            at = origin + start
            for old in [key for key in spectra if key[1] <= at - partitions.reach]:
                del spectra[old]  # no later step reads this far back
            for channel, parts in enumerate(partitions.responses):
                echo = np.zeros(size // 2 + 1, dtype=complex)
                for source, index, response in parts:
                    echo += spectrum(source, at + step - index * step) * response
                # overlap-save: the last `step` samples of the circular convolution are exact
                late = scipy.fft.irfft(echo, size)[size - step : size - step + stop - start]
                dry[channel, at : origin + stop] = block[channel, start:stop] - late
        self.history = dry[:, origin + count - self.memory :].copy()
        return dry[:, origin:]


class _Partitions:
    """Each channel's echo response cut into `step`-long pieces, as spectra (uniformly
    partitioned overlap-save convolution).

    A fitted model has hundreds of taps spread over seconds; convolving each run directly
    costs its length per sample, while the pieces' spectra cost about one multiply-add per
    sample each, and each past segment's spectrum is taken once and reused by every piece.
    """

    def __init__(self, models: Sequence[ChannelModel], step: int, memory: int) -> None:
        self.size = scipy.fft.next_fast_len(2 * step, real=True)
        count = memory // step + 1  # piece k holds lags k*step .. (k+1)*step - 1
        self.reach = (count + 1) * step  # how far back a segment's end can be
        self.responses: list[list[tuple[int, int, np.ndarray]]] = []
        for model in models:
            sources = sorted({run.source for run in model})
            parts = []
            for source in sources:
                response = np.zeros((count + 1) * step)
                for run in model:
                    if run.source == source:
                        response[run.lag : run.last_lag + 1] += run.kernel
                for index in range(1, count + 1):
                    piece = response[index * step : (index + 1) * step]
                    if np.any(piece):
                        parts.append((source, index, scipy.fft.rfft(piece, self.size)))
            self.responses.append(parts)


def _convolve_valid(past: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    if len(kernel) == 1:
        return kernel[0] * past
    if len(kernel) <= _DIRECT_KERNEL_MAX:
        return np.convolve(past, kernel, mode="valid")
    return convolve_valid(past, kernel)
