"""Broadband test takes (noise-burst drums to 20 kHz) with exactly known delay and drift.

`SyntheticMusic`'s partials stop at a few kHz, where a resampler's flaws and a
hundredth of a sample of offset error hardly show. Drums and sibilants reach
20 kHz, and there a 0.03-sample error alone limits the null to about -24 dB.
This take is a sequence of decaying noise bursts over a quiet noise bed,
band-limited to `top_hz`; the continuous signal through those samples (a long
windowed-sinc sum, flat to past `top_hz`) can be read at any instant, so a take
that is late by a fraction of a sample and runs some ppm long is rendered from
the formula, not by a resampler whose errors a test would then measure.
Used by the tests and the benchmark.
"""

from __future__ import annotations

import functools

import numpy as np

#: Kernel half-length in samples; with beta 8 and cutoff 0.92 Nyquist it is flat
#: (error < 1e-4) to past 0.84 Nyquist, i.e. 20 kHz at 48 kHz.
_HALF = 32
_CUTOFF = 0.92
_BETA = 8.0
#: Kernel table steps per sample (linear interpolation between them: error < 1e-7).
_STEPS = 4096
#: Output instants evaluated per chunk, to bound memory.
_CHUNK = 1 << 14


@functools.lru_cache(maxsize=1)
def _kernel_table() -> np.ndarray:
    x = np.arange(-_HALF * _STEPS, _HALF * _STEPS + 2) / _STEPS
    window = np.kaiser(len(x), _BETA)
    return np.asarray(_CUTOFF * np.sinc(_CUTOFF * x) * window)


def noise_bursts(
    seed: int, channels: int, frames: int, rate: int, top_hz: float = 20_000.0
) -> np.ndarray:
    """(channels, frames) drum-like noise bursts (about 4 a second, 20-250 ms decays)
    over a noise bed 30 dB down, band-limited to `top_hz` in the frequency domain."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((channels, frames))
    envelope = np.full(frames, 10 ** (-30 / 20))
    onsets = np.sort(rng.integers(0, frames, max(1, round(4 * frames / rate))))
    for onset in onsets:
        decay = rng.uniform(0.02, 0.25) * rate
        length = min(frames - onset, round(6 * decay))
        envelope[onset : onset + length] += rng.uniform(0.3, 1.0) * np.exp(
            -np.arange(length) / decay
        )
    spectrum = np.fft.rfft(noise * envelope, axis=-1)
    spectrum[:, np.fft.rfftfreq(frames, 1 / rate) > top_hz] = 0
    out = np.fft.irfft(spectrum, frames, axis=-1)
    return np.asarray(0.25 * out / np.sqrt(np.mean(out**2)))


class BandLimited:
    """The continuous signal through (channels, n) `samples` at `rate`, read at any instant."""

    def __init__(self, samples: np.ndarray, rate: int) -> None:
        self.samples = np.atleast_2d(np.asarray(samples, dtype=np.float64))
        self.rate = rate

    def at(self, times_s: np.ndarray) -> np.ndarray:
        """The signal at the given instants (silence outside), (channels, len) float64."""
        table = _kernel_table()
        channels, length = self.samples.shape
        # Positions beyond the kernel's reach are clipped to where it reads only padding.
        pad = 2 * _HALF + 2
        padded = np.pad(self.samples, ((0, 0), (pad, pad)))
        taps = np.arange(-_HALF + 1, _HALF + 1)
        out = np.empty((channels, len(times_s)))
        for begin in range(0, len(times_s), _CHUNK):
            position = times_s[begin : begin + _CHUNK] * self.rate
            whole = np.floor(position)
            fraction = position - whole
            index = np.clip(whole.astype(np.int64), -_HALF - 1, length + _HALF)
            # Kernel argument (position - k) for k = whole + taps, in table steps.
            where = (fraction[:, None] - taps[None, :] + _HALF) * _STEPS
            step = np.floor(where).astype(np.int64)
            weight = table[step] + (where - step) * (table[step + 1] - table[step])
            gathered = padded[:, index[:, None] + taps[None, :] + pad]
            out[:, begin : begin + _CHUNK] = np.einsum("ctk,tk->ct", gathered, weight)
        return out

    def render(
        self,
        rate: int,
        frames: int,
        delay_s: float = 0.0,
        drift_ppm: float = 0.0,
        gain: float = 1.0,
    ) -> np.ndarray:
        """A take of `frames` samples at `rate` that is `delay_s` late and runs
        `drift_ppm` long (as `SyntheticMusic.render`), (channels, frames) float32."""
        times = (np.arange(frames) / rate - delay_s) / (1.0 + drift_ppm * 1e-6)
        return np.asarray(gain * self.at(times), dtype=np.float32)
