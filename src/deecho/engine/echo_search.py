"""Blind search for one channel's echo families, by cepstral peaks and deflation.

Each round measures the averaged cepstrum of the excerpts with the echoes found so far
cancelled; what is left at a family's lags (D and 2D) corrects that family, and a new peak
above the noise floor starts a new family. The model of a family,
H = (1 + beta(z) z^-D) / (1 - alpha z^-D), has the cepstrum alpha + beta at lag D and
(alpha^2 - beta*beta) / 2 at lag 2D, which is linear in alpha once beta = c1 - alpha: so
two cepstral regions give the family in closed form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .cepstrum import Cepstrum, averaged_cepstrum, window_length
from .comb_filter import EchoFamily, apply_families

MIN_DELAY_S = 0.020
MAX_DELAY_S = 1.5
MAX_FAMILIES = 8
MAX_ROUNDS = 5
# A new family needs a cepstral peak this many noise deviations up, and at least this high
# (a first repeat ~30 dB down is not worth touching the signal for).
PEAK_SIGMAS = 7.0
PEAK_MIN = 0.03
KERNEL_MAX_HALF_WIDTH = 48
KERNEL_TAP_SIGMAS = 4.0
# Stability and plausibility limits: an inverse needs sum|beta| < 1; a feedback close to 1 is a
# steady rhythm or tone (rahmonics that do not decay), not an echo.
MAX_KERNEL_L1 = 0.98
MAX_FEEDBACK = 0.9
CONVERGED = 0.002


@dataclass
class _FamilyFit:
    lag: int
    half: int
    first: np.ndarray  # cepstrum around lag D (2K+1)
    second: np.ndarray  # cepstrum around lag 2D (4K+1)
    family: EchoFamily | None = None

    def implied(self) -> tuple[np.ndarray, np.ndarray]:
        """Cepstrum the current (clamped) family model really has at D and 2D."""
        assert self.family is not None
        beta = np.asarray(self.family.kernel)
        alpha = self.family.feedback
        first = beta.copy()
        first[self.half] += alpha
        second = -np.convolve(beta, beta) / 2.0
        second[2 * self.half] += alpha * alpha / 2.0
        return first, second


def find_echo_families(excerpts: Sequence[np.ndarray], sample_rate: int) -> list[EchoFamily]:
    """Echo families of one channel, from its excerpts (1-D arrays)."""
    longest = max((len(excerpt) for excerpt in excerpts), default=0)
    lag_min = round(MIN_DELAY_S * sample_rate)
    if longest < 4 * lag_min:
        return []
    window = window_length(sample_rate, longest)
    lag_max = min(round(MAX_DELAY_S * sample_rate), window // 2 - 2 * KERNEL_MAX_HALF_WIDTH)
    fits: list[_FamilyFit] = []
    current = list(excerpts)
    for _ in range(MAX_ROUNDS):
        cepstrum = averaged_cepstrum(current, window, lag_min)
        if cepstrum is None:
            return []
        change = _update_fits(fits, cepstrum)
        added = _new_fits(fits, cepstrum, lag_min, lag_max)
        if not added and change < CONVERGED:
            break
        fits.extend(added)
        for fit in added:
            _refit(fit, fit.first, fit.second)
        families = _families(fits)
        current = [apply_families(excerpt, families) for excerpt in excerpts]
    return _families(fits)


def _families(fits: list[_FamilyFit]) -> list[EchoFamily]:
    return [fit.family for fit in fits if fit.family is not None]


def _update_fits(fits: list[_FamilyFit], cepstrum: Cepstrum) -> float:
    """Add what the residual cepstrum still shows at each family's lags; return the change."""
    change = 0.0
    for fit in fits:
        first = _region(cepstrum.values, fit.lag, fit.half)
        second = _region(cepstrum.values, 2 * fit.lag, 2 * fit.half)
        change = max(change, float(np.max(np.abs(first))))
        implied_first, implied_second = fit.implied()
        _refit(fit, implied_first + first, implied_second + second)
    return change


def _new_fits(
    fits: list[_FamilyFit], cepstrum: Cepstrum, lag_min: int, lag_max: int
) -> list[_FamilyFit]:
    values = cepstrum.values
    threshold = max(PEAK_SIGMAS * cepstrum.noise, PEAK_MIN)
    claimed = np.zeros(len(values), dtype=bool)
    for fit in fits:
        _claim(claimed, fit.lag, fit.half + 2)
        _claim(claimed, 2 * fit.lag, 2 * fit.half + 2)
    added: list[_FamilyFit] = []
    search = np.abs(values[: lag_max + 1]).copy()
    search[:lag_min] = 0.0
    search[claimed[: lag_max + 1]] = 0.0
    while len(fits) + len(added) < MAX_FAMILIES:
        peak = int(np.argmax(search))
        if search[peak] < threshold:
            break
        half = _kernel_half_width(values, peak, cepstrum.noise, lag_min)
        fit = _FamilyFit(
            lag=peak,
            half=half,
            first=_region(values, peak, half),
            second=_region(values, 2 * peak, 2 * half),
        )
        added.append(fit)
        # The family's own higher-order peaks (2D, 3D, ...) are not new echoes this round.
        for multiple in range(1, 9):
            _claim_search(search, multiple * peak, half + 2)
    return added


def _kernel_half_width(values: np.ndarray, peak: int, noise: float, lag_min: int) -> int:
    """How far around the peak the cepstrum stays clearly above noise (a filtered echo)."""
    limit = min(KERNEL_MAX_HALF_WIDTH, peak - lag_min // 2)
    around = np.abs(values[peak - limit : peak + limit + 1])
    significant = np.nonzero(around > KERNEL_TAP_SIGMAS * max(noise, 1e-6))[0]
    if len(significant) == 0:
        return 0
    return int(np.max(np.abs(significant - limit)))


def _refit(fit: _FamilyFit, first: np.ndarray, second: np.ndarray) -> None:
    """Closed-form family from its cepstrum at D (first) and 2D (second)."""
    fit.first, fit.second = first, second
    centre = fit.half
    padded = np.zeros(len(second))
    padded[centre : centre + len(first)] = first
    target = 2.0 * second + np.convolve(first, first)
    energy = float(np.dot(padded, padded))
    alpha = float(np.dot(target, padded) / (2.0 * energy)) if energy > 0 else 0.0
    alpha = float(np.clip(alpha, -MAX_FEEDBACK, MAX_FEEDBACK))
    beta = first.copy()
    beta[centre] -= alpha
    l1 = float(np.sum(np.abs(beta)))
    if l1 > MAX_KERNEL_L1:
        beta *= MAX_KERNEL_L1 / l1
    fit.family = EchoFamily(lag=fit.lag, feedback=alpha, kernel=tuple(float(b) for b in beta))


def _region(values: np.ndarray, centre: int, half: int) -> np.ndarray:
    out = np.zeros(2 * half + 1)
    start, stop = centre - half, centre + half + 1
    lo, hi = max(start, 0), min(stop, len(values))
    if lo < hi:
        out[lo - start : hi - start] = values[lo:hi]
    return out


def _claim(mask: np.ndarray, centre: int, half: int) -> None:
    mask[max(centre - half, 0) : max(centre + half + 1, 0)] = True


def _claim_search(search: np.ndarray, centre: int, half: int) -> None:
    search[max(centre - half, 0) : max(centre + half + 1, 0)] = 0.0
