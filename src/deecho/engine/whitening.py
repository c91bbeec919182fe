"""Pre-whitening, local power, and the cost that tells two echo models apart.

Every fit and comparison of echo models runs on LPC-whitened signals: a fixed LPC filter is
LTI, so it commutes with the echo model, and it keeps a source's own spectral colour out of
the echo taps. Speech and music are far from stationary, so the fit also weighs each sample
by the inverse of the dry signal's local power (the weighting of WPE, Nakatani et al. 2010):
the quiet moments just after a note, where an echo stands out, count as much as loud
sustained chords, whose own long correlations would otherwise pull the taps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg

from deecho.engine.fir import fir_filter

from .echo_filter import ChannelModel, EchoInverse

LPC_ORDER = 24
# Local power is averaged over this long (about 93 ms: a syllable, a note's attack)...
POWER_SPAN_S = 0.093
# ... and floored at this fraction of the mean, so digital silence cannot dominate.
POWER_FLOOR = 1e-3


class Whitener:
    """LPC prediction-error filter of the mono mix of some excerpts."""

    def __init__(self, signals: Sequence[np.ndarray]) -> None:
        self.prediction_error = _lpc_whitener(signals)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        return fir_filter(self.prediction_error, signal, axis=-1)


def power_span(sample_rate: int) -> int:
    return max(round(POWER_SPAN_S * sample_rate), 1)


def local_power(signal: np.ndarray, span: int) -> np.ndarray:
    """Centred moving average of signal**2 over `span` samples (running sums: O(n))."""
    sums = np.concatenate([[0.0], np.cumsum(signal * signal)])
    centre = np.arange(len(signal))
    low = np.clip(centre - span // 2, 0, len(signal))
    high = np.clip(centre + span // 2 + 1, 0, len(signal))
    return (sums[high] - sums[low]) / (high - low)


def inverse_power_weights(dry: np.ndarray, span: int) -> np.ndarray:
    """Per-sample weights 1 / (local power of the dry estimate), floored."""
    return 1.0 / _floored(local_power(dry, span))


def likeliest(
    candidates: Sequence[Sequence[ChannelModel]],
    excerpts: Sequence[np.ndarray],
    sample_rate: int,
) -> Sequence[ChannelModel]:
    """The candidate echo model with the lowest dry_cost (the first one on a tie)."""
    signals = [np.asarray(excerpt, dtype=np.float64) for excerpt in excerpts]
    whitener = Whitener(signals)
    costs = [dry_cost(models, signals, sample_rate, whitener) for models in candidates]
    return candidates[int(np.argmin(costs))]


def dry_cost(
    models: Sequence[ChannelModel],
    excerpts: Sequence[np.ndarray],
    sample_rate: int,
    whitener: Whitener | None = None,
) -> float:
    """Mean log local power of the whitened dry estimate that `models` leave (lower: better).

    This is the negative log-likelihood of a source whose variance changes from moment to
    moment (the model behind the weights above), so two echo models fitted on the same
    excerpts can be compared by it: the one that leaves the more plausible dry signal wins.
    `whitener`: the excerpts' own (built here when not given).
    """
    signals = [np.asarray(excerpt, dtype=np.float64) for excerpt in excerpts]
    whitener = whitener or Whitener(signals)
    span = power_span(sample_rate)
    total = 0.0
    count = 0
    for signal in signals:
        dry = whitener(EchoInverse(models, signal.shape[0]).process(signal))
        for channel in dry:
            sums = np.concatenate([[0.0], np.cumsum(channel * channel)])
            frames = (sums[span::span] - sums[:-span:span]) / span  # one power per span
            if len(frames):
                total += float(np.sum(np.log(_floored(frames))))
                count += len(frames)
    return total / count if count else 0.0


def _floored(power: np.ndarray) -> np.ndarray:
    return np.maximum(power, POWER_FLOOR * float(np.mean(power)) + 1e-20)


def _lpc_whitener(signals: Sequence[np.ndarray]) -> np.ndarray:
    """Prediction-error filter A(z) of the mono mix (Levinson on its autocorrelation)."""
    correlation = np.zeros(LPC_ORDER + 1)
    for signal in signals:
        mono = signal.mean(axis=0)
        spectrum = np.fft.rfft(mono, n=2 * len(mono))
        correlation += np.fft.irfft(np.abs(spectrum) ** 2)[: LPC_ORDER + 1]
    if correlation[0] <= 0:
        return np.array([1.0])
    correlation[0] *= 1.0 + 1e-6  # white-noise correction keeps the filter well-conditioned
    coefficients = scipy.linalg.solve_toeplitz(correlation[:-1], correlation[1:])
    return np.concatenate([[1.0], -coefficients])
