"""Streaming inverse of one echo family: a sparse pole-zero comb with carried state.

An echo family is the system H(z) = (1 + beta(z) z^-D) / (1 - alpha z^-D): a first repeat at
lag D shaped by the short kernel beta (a plain gain, or a lowpass for a filtered reflection)
and a feedback train of gain alpha. Its inverse (1 - alpha z^-D) / (1 + beta(z) z^-D) is stable
whenever sum|beta| < 1, and is sparse, so it runs in blocks of D - K samples at a time instead
of a dense IIR of order D (scipy's lfilter would cost O(D) per sample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deecho.engine.fir import convolve_valid

# Kernels longer than this are convolved by FFT; short ones directly (same result within
# float tolerance, much faster for long lowpass kernels).
_DIRECT_KERNEL_MAX = 48


@dataclass(frozen=True)
class EchoFamily:
    """One echo family of one channel (picklable; what EchoPlan carries)."""

    lag: int  # delay D of the first repeat, in samples
    feedback: float  # alpha: gain of each further repeat relative to the previous
    kernel: tuple[float, ...]  # beta: taps at lags D-K .. D+K (length 2K+1)

    @property
    def half_width(self) -> int:
        return len(self.kernel) // 2

    @property
    def first_repeat_gain(self) -> float:
        """DC gain of the first repeat: feedback plus the kernel's sum."""
        return float(self.feedback + sum(self.kernel))


class FamilyInverse:
    """Applies the inverse of one EchoFamily to a stream of 1-D float64 blocks."""

    def __init__(self, family: EchoFamily) -> None:
        self.lag = family.lag
        self.alpha = family.feedback
        self.kernel = np.asarray(family.kernel, dtype=np.float64)
        self.half = family.half_width
        if self.lag - self.half < 1:
            raise ValueError("echo kernel reaches lag 0")
        self.step = self.lag - self.half  # outputs computable from history alone
        self.input_history = np.zeros(self.lag)
        self.output_history = np.zeros(self.lag + self.half)

    def process(self, block: np.ndarray) -> np.ndarray:
        count = len(block)
        if count == 0:
            return block.astype(np.float64)
        feed = self._feedforward(block)
        history = len(self.output_history)
        buffer = np.concatenate([self.output_history, np.empty(count)])
        width = 2 * self.half
        for start in range(0, count, self.step):
            stop = min(start + self.step, count)
            past = buffer[start : stop + width]
            buffer[history + start : history + stop] = feed[start:stop] - self._convolve(past)
        self.output_history = buffer[-history:].copy()
        return buffer[history:]

    def _feedforward(self, block: np.ndarray) -> np.ndarray:
        extended = np.concatenate([self.input_history, block])
        self.input_history = extended[-self.lag :].copy()
        if self.alpha == 0.0:
            return block.astype(np.float64)
        return block - self.alpha * extended[: len(block)]

    def _convolve(self, past: np.ndarray) -> np.ndarray:
        if len(self.kernel) == 1:
            return self.kernel[0] * past
        if len(self.kernel) <= _DIRECT_KERNEL_MAX:
            return np.convolve(past, self.kernel, mode="valid")
        return convolve_valid(past, self.kernel)


class ChannelInverse:
    """All echo families of one channel, applied one after the other (they commute)."""

    def __init__(self, families: list[EchoFamily]) -> None:
        self.stages = [FamilyInverse(family) for family in families]

    def process(self, block: np.ndarray) -> np.ndarray:
        signal = np.asarray(block, dtype=np.float64)
        for stage in self.stages:
            signal = stage.process(signal)
        return signal


def apply_families(signal: np.ndarray, families: list[EchoFamily]) -> np.ndarray:
    """Whole-array inverse of a channel's families (fresh state), as float64."""
    return ChannelInverse(families).process(signal)
