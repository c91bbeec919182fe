"""Music-like test takes with exactly known delay, drift and sample rate.

A sum of partials with slow random envelopes is a formula of time, so it can be
evaluated at any instant: a take that is 1234.37 samples late, runs 40 ppm
long or was recorded at 48 kHz instead of 44.1 kHz is rendered exactly, with no
resampler or fractional-delay filter of its own whose errors a test would then
measure instead of the aligner's. Used by the tests and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Samples evaluated per chunk, to bound memory on long renders.
_CHUNK = 1 << 16


@dataclass(frozen=True)
class SyntheticMusic:
    """A reproducible mix of `partials` sinusoids between 50 Hz and `top_hz`."""

    seed: int = 0
    channels: int = 1
    partials: int = 96
    top_hz: float = 7000.0
    _freqs: np.ndarray = field(init=False, repr=False, compare=False)
    _phases: np.ndarray = field(init=False, repr=False, compare=False)
    _amps: np.ndarray = field(init=False, repr=False, compare=False)
    _env_rates: np.ndarray = field(init=False, repr=False, compare=False)
    _env_phases: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        freqs = np.exp(rng.uniform(np.log(50.0), np.log(self.top_hz), self.partials))
        # Pink-ish: amplitude falls as 1/sqrt(f), like most music's long-term spectrum.
        amps = rng.uniform(0.5, 1.0, (self.channels, self.partials)) / np.sqrt(freqs / 50.0)
        amps *= 0.25 / np.sqrt(np.sum(amps**2, axis=1, keepdims=True) / 2)
        object.__setattr__(self, "_freqs", freqs)
        object.__setattr__(self, "_phases", rng.uniform(0, 2 * np.pi, self.partials))
        object.__setattr__(self, "_amps", amps)
        object.__setattr__(self, "_env_rates", rng.uniform(0.2, 3.0, self.partials))
        object.__setattr__(self, "_env_phases", rng.uniform(0, 2 * np.pi, self.partials))

    def at(self, times_s: np.ndarray) -> np.ndarray:
        """The take at the given instants (seconds), as (channels, len(times_s)) float64."""
        out = np.empty((self.channels, len(times_s)))
        for begin in range(0, len(times_s), _CHUNK):
            t = times_s[begin : begin + _CHUNK, None]
            envelope = (0.5 + 0.5 * np.sin(2 * np.pi * self._env_rates * t + self._env_phases)) ** 2
            partial = envelope * np.sin(2 * np.pi * self._freqs * t + self._phases)
            out[:, begin : begin + _CHUNK] = np.einsum("tk,ck->ct", partial, self._amps)
        return out

    def render(
        self,
        rate: int,
        frames: int,
        delay_s: float = 0.0,
        drift_ppm: float = 0.0,
        gain: float = 1.0,
    ) -> np.ndarray:
        """A take of `frames` samples at `rate`, (channels, frames) float32.

        Sample n holds the original's instant (n / rate - delay_s) / (1 + drift):
        the take is `delay_s` late and its clock runs `drift_ppm` long.
        """
        times = (np.arange(frames) / rate - delay_s) / (1.0 + drift_ppm * 1e-6)
        return np.asarray(gain * self.at(times), dtype=np.float32)
