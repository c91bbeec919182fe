"""Level measurements that run over a file block by block: peak, RMS, BS.1770 loudness.

The loudness meter follows ITU-R BS.1770-4 (K-weighting, 400 ms blocks with
75 % overlap, absolute gate at -70 LUFS and relative gate at -10 LU), the same
as pyloudnorm, but keeps only 100 ms mean squares in memory so an hour of
audio costs a few hundred kilobytes, not gigabytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LevelMeter", "Levels", "to_db"]

#: BS.1770 channel weights: left, right, centre 1.0; surrounds 1.41 (≈ +1.5 dB).
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0


def to_db(value: float, floor_db: float = -150.0) -> float:
    """Amplitude ratio to dB, with a floor instead of -inf for silence."""
    return 20.0 * math.log10(value) if value > 10 ** (floor_db / 20.0) else floor_db


def _k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The two K-weighting stages (high shelf, then high pass) as (b, a, gain)."""
    import pyloudnorm  # lazily: it imports scipy.signal, 1.4 s most runs never need

    stages = (
        pyloudnorm.IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, rate, "high_shelf"),
        pyloudnorm.IIRfilter(0.0, 0.5, 38.0, rate, "high_pass"),
    )
    return [(np.asarray(s.b), np.asarray(s.a), float(s.passband_gain)) for s in stages]


@dataclass
class Levels:
    """What LevelMeter measured."""

    peak_dbfs: float
    rms_dbfs: float
    loudness_lufs: float | None
    frames: int


@dataclass
class LevelMeter:
    """Feed (channels, n) blocks with `add`; read `levels()` at the end."""

    sample_rate: int
    channels: int
    _peak: float = 0.0
    _sum_squares: float = 0.0
    _frames: int = 0
    _filters: list[tuple[np.ndarray, np.ndarray, float]] = field(default_factory=list)
    _states: list[np.ndarray] = field(default_factory=list)
    _pending: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    _step_means: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._filters = _k_weighting(self.sample_rate)
        self._states = [
            np.zeros((self.channels, max(len(a), len(b)) - 1)) for b, a, _ in self._filters
        ]
        self._step = max(1, round(0.1 * self.sample_rate))  # 100 ms: a quarter of a gating block
        self._pending = np.zeros((self.channels, 0))

    def add(self, block: np.ndarray) -> None:
        """Measure one (channels, n) block."""
        if block.shape[1] == 0:
            return
        self._peak = max(self._peak, float(np.max(np.abs(block))))
        self._sum_squares += float(np.sum(np.square(block, dtype=np.float64)))
        self._frames += block.shape[1]
        from scipy.signal import lfilter  # imported once by _k_weighting already

        weighted = block.astype(np.float64)
        for index, (b, a, gain) in enumerate(self._filters):
            weighted, self._states[index] = lfilter(b, a, weighted, axis=1, zi=self._states[index])
            weighted = weighted * gain
        joined = np.concatenate([self._pending, weighted], axis=1)
        whole_steps = joined.shape[1] // self._step
        if whole_steps:
            used = joined[:, : whole_steps * self._step]
            means = np.mean(np.square(used).reshape(self.channels, whole_steps, self._step), axis=2)
            self._step_means.append(means)
        self._pending = joined[:, whole_steps * self._step :]

    def loudness_lufs(self) -> float | None:
        """Integrated loudness, or None when under 400 ms or gated to silence."""
        if not self._step_means:
            return None
        steps = np.concatenate(self._step_means, axis=1)
        if steps.shape[1] < 4:
            return None
        # A 400 ms block is four consecutive 100 ms steps.
        windows = np.lib.stride_tricks.sliding_window_view(steps, 4, axis=1).mean(axis=2)
        weights = np.array([_CHANNEL_WEIGHTS[min(ch, 4)] for ch in range(self.channels)])
        block_power = np.einsum("c,cb->b", weights, windows)
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10.0 * np.log10(block_power)
        gated = block_power[block_lufs >= _ABSOLUTE_GATE_LUFS]
        if gated.size == 0:
            return None
        relative_gate = -0.691 + 10.0 * math.log10(float(gated.mean())) + _RELATIVE_GATE_LU
        gated = block_power[(block_lufs >= _ABSOLUTE_GATE_LUFS) & (block_lufs >= relative_gate)]
        if gated.size == 0:
            return None
        return -0.691 + 10.0 * math.log10(float(gated.mean()))

    def levels(self) -> Levels:
        rms = math.sqrt(self._sum_squares / max(1, self._frames * self.channels))
        return Levels(
            peak_dbfs=to_db(self._peak),
            rms_dbfs=to_db(rms),
            loudness_lufs=self.loudness_lufs(),
            frames=self._frames,
        )
