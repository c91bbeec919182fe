"""A transparent look-ahead peak limiter, streaming and sample-exact.

Why not pedalboard.Limiter: it is JUCE's loudness limiter, measured here at
+3.75 dB of gain on every signal below its threshold and compressing from
10 dB under it, so "normalize to -23 LUFS" would come out louder and squashed.
This one leaves every sample under the ceiling untouched and guarantees none
above it: the gain at a peak is the mean of gains that already include that
peak, so it can never exceed what the peak needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from scipy.ndimage import minimum_filter1d

__all__ = ["PeakLimiter"]


class PeakLimiter:
    """Keep |sample| <= ceiling on all channels, with a shared (linked) gain.

    needed(u) = min(1, ceiling / max_ch |x(u)|)
    hold(s)   = min(needed(s - release .. s + lookahead))
    gain(t)   = mean(hold(t - lookahead .. t))
    """

    def __init__(
        self,
        ceiling_dbfs: float,
        sample_rate: int,
        channels: int,
        lookahead_ms: float = 5.0,
        release_ms: float = 60.0,
    ) -> None:
        self.ceiling = 10.0 ** (ceiling_dbfs / 20.0)
        self.channels = channels
        self.lookahead = max(1, round(lookahead_ms * sample_rate / 1000.0))
        self.release = max(0, round(release_ms * sample_rate / 1000.0))
        self.gain_reduction_db = 0.0  # deepest reduction applied so far, for reports
        # Before the start there is nothing to limit: a history of unity gains, long enough
        # that the first gain computed is the one for sample 0.
        self._needed_tail = np.ones(self.release + self.lookahead)
        self._pending = np.zeros((channels, 0), dtype=np.float32)

    def _gains(self, needed: np.ndarray) -> np.ndarray:
        size = self.release + self.lookahead + 1
        # minimum_filter1d centres its window; this origin makes it span [s-release, s+lookahead].
        origin = size // 2 - self.lookahead
        hold = minimum_filter1d(needed, size, mode="nearest", origin=origin)
        window = self.lookahead + 1
        cumulative = np.concatenate([[0.0], np.cumsum(hold)])
        means = (cumulative[window:] - cumulative[:-window]) / window
        # means[i] averages hold[i .. i+lookahead], i.e. gain at t = i + lookahead.
        start = self.release + self.lookahead  # first t whose hold window is complete
        return means[start - self.lookahead : len(needed) - 2 * self.lookahead]

    def _process(self, block: np.ndarray, final: bool) -> np.ndarray:
        magnitude = np.max(np.abs(block), axis=0) if block.shape[1] else np.zeros(0)
        needed = np.minimum(1.0, self.ceiling / np.maximum(magnitude, 1e-30))
        if final:
            needed = np.concatenate([needed, np.ones(self.lookahead)])
        context = np.concatenate([self._needed_tail, needed])
        gains = self._gains(context)
        # The next gain needs `release + lookahead` values before it, and it follows the last one.
        self._needed_tail = context[len(gains) :]
        samples = np.concatenate([self._pending, block], axis=1)
        count = len(gains) if final else min(len(gains), samples.shape[1])
        out = samples[:, :count] * gains[:count].astype(np.float32)
        self._pending = samples[:, count:]
        if count:
            self.gain_reduction_db = min(
                self.gain_reduction_db, 20.0 * float(np.log10(max(gains[:count].min(), 1e-12)))
            )
        return out

    def run(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield limited blocks, time-aligned with the input and of the same total length."""
        for block in blocks:
            out = self._process(np.asarray(block, dtype=np.float32), final=False)
            if out.shape[1]:
                yield out
        tail = self._process(np.zeros((self.channels, 0), dtype=np.float32), final=True)
        if tail.shape[1]:
            yield tail
