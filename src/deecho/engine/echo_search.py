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
from .echo_presence import heard_families

MIN_DELAY_S = 0.020
MAX_DELAY_S = 1.5
MAX_FAMILIES = 8
MAX_ROUNDS = 3
# A new family needs a cepstral peak this many noise deviations up, and at least this high
# (a first repeat ~25 dB down is not worth the risk of taking a source's own repetition
# for an echo).
PEAK_SIGMAS = 7.0
PEAK_MIN = 0.06
BROAD_MIN_GAIN = 0.1
KERNEL_MAX_HALF_WIDTH = 48
SCORE_WIDTHS = (9, 33)
SHARP_WIDTH = 9
BROAD_LAG_FACTOR = 3
LEVEL_BLOCK = 4096
SHAPE_HALF_WIDTH = 24
LOW_BAND_HZ = (300.0, 1000.0)
LOW_BAND_SHARE = 0.5
RAHMONIC_SHARE = 0.5
# A note 2-12 periods back, as echo_presence.pitched_share reads it (an oboe's A4 eleven
# periods back, 24.9 ms, read as an echo and made the fit of its real delay unstable).
RAHMONIC_DIVISORS = tuple(range(2, 13))
RAHMONIC_SHORT_LAG = 5  # times the shortest delay: where a pitch's high rahmonics can reach
RAHMONIC_MIN_LAG = 40  # samples: below ~1-2 ms the cepstrum is the spectral envelope
SCORE_SIGMAS = 9.0
KERNEL_TAP_SIGMAS = 4.0
# Taps under this fraction of the peak are the band mask's sidelobes, not the echo's shape.
KERNEL_TAP_RELATIVE = 0.25
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
        cepstrum = averaged_cepstrum(current, window, lag_min, sample_rate)
        if cepstrum is None:
            return []
        change = _update_fits(fits, cepstrum)
        added = _new_fits(fits, cepstrum, lag_min, lag_max, sample_rate)
        if not added and change < CONVERGED:
            break
        for fit in added:
            _refit(fit, fit.first, fit.second)
        fits.extend(fit for fit in added if fit.family and fit.family.first_repeat_gain > 0)
        families = _families(fits)
        current = [apply_families(excerpt, families) for excerpt in excerpts]
    return heard_families(excerpts, _plausible_families(fits), sample_rate)


def _plausible(fit: _FamilyFit) -> bool:
    """A new family must repeat the sound with clear positive gain; a broad (lowpassed) one
    needs more, as slow bumps of the source's own cepstrum are broad too."""
    if fit.family is None:
        return False
    needed = PEAK_MIN if fit.half <= SHARP_WIDTH else BROAD_MIN_GAIN
    return fit.family.first_repeat_gain >= needed


def _families(fits: list[_FamilyFit]) -> list[EchoFamily]:
    return [fit.family for fit in fits if fit.family is not None]


def _plausible_families(fits: list[_FamilyFit]) -> list[EchoFamily]:
    return [fit.family for fit in fits if fit.family is not None and _plausible(fit)]


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
    fits: list[_FamilyFit], cepstrum: Cepstrum, lag_min: int, lag_max: int, sample_rate: int
) -> list[_FamilyFit]:
    values = cepstrum.values
    threshold = max(PEAK_SIGMAS * cepstrum.noise, PEAK_MIN)
    claimed = np.zeros(len(values), dtype=bool)
    reach = max(SCORE_WIDTHS)
    for fit in fits:
        _claim(claimed, fit.lag, fit.half + reach)
        _claim(claimed, 2 * fit.lag, 2 * fit.half + reach)
    added: list[_FamilyFit] = []
    search, widths = _detection_score(values, lag_min, lag_max)
    search_mass = np.convolve(values, np.ones(SHARP_WIDTH), mode="same")
    search[claimed[: lag_max + 1]] = 0.0
    while len(fits) + len(added) < MAX_FAMILIES:
        centre = int(np.argmax(search))
        if search[centre] < threshold:
            break
        reach = int(widths[centre]) // 2
        peak = centre - reach + int(np.argmax(values[centre - reach : centre + reach + 1]))
        sharp = _kernel_half_width(values, peak, cepstrum.noise, lag_min)
        half = max(sharp, reach)
        if half > sharp and np.sum(_region(values, peak, half)) <= 0.0:
            # At low rates the low-cut mask sinks a sharp peak into a negative pedestal as
            # wide as the broad window (8 kHz: +-13 samples, 7 % of the peak): summed whole,
            # a clear delay's gain read below zero and the echo was dropped.
            half = sharp
        if (
            not _reaches_low_band(values, peak, sample_rate)
            or _is_rahmonic(search_mass, peak, lag_min, reach)
            or _spans_a_family(peak, half, [*fits, *added])
        ):
            _claim_search(search, peak, half + max(SCORE_WIDTHS))
            continue
        fit = _FamilyFit(
            lag=peak,
            half=half,
            first=_region(values, peak, half),
            second=_region(values, 2 * peak, 2 * half),
        )
        added.append(fit)
        # The family's own higher-order peaks (2D, 3D, ...) are not new echoes this round.
        for multiple in range(1, 9):
            _claim_search(search, multiple * peak, half + max(SCORE_WIDTHS))
    return added


def _spans_a_family(peak: int, half: int, fits: list[_FamilyFit]) -> bool:
    """A broad bump whose kernel would reach over a family's peak is that echo's own side
    lobe (at 16 kHz two appear 2.2 ms either side of a sharp echo, and read with it the
    echo over-predicted and was refused as unheard), not a new echo."""
    return any(abs(peak - fit.lag) <= half for fit in fits)


def _detection_score(
    values: np.ndarray, lag_min: int, lag_max: int
) -> tuple[np.ndarray, np.ndarray]:
    """Echo evidence per lag: the cepstral mass in a window, where it stands out of the noise.

    A plain echo is one sharp peak; a lowpassed reflection is a broad, low bump (its kernel's
    impulse response) whose peak alone may hide in the noise, but whose mass does not. So each
    lag scores the largest positive windowed sum, over a few window widths, among those that
    stand SCORE_SIGMAS robust deviations above that width's noise. Echoes of negative gain do
    not occur in rooms or delay units, and a negative peak is more often the source's own
    structure, so only positive mass counts. Returns (score, winning width) per lag.
    """
    score = np.zeros(lag_max + 1)
    widths = np.ones(lag_max + 1, dtype=int)
    span = values[: lag_max + 1]
    for width in SCORE_WIDTHS:
        mass = np.convolve(span, np.ones(width), mode="same")
        baseline, deviation = _local_level(mass, lag_min)
        mass = mass - baseline
        evident = (mass > SCORE_SIGMAS * deviation) & (mass > score)
        # broad bumps at short lags are a low note's smeared rahmonics, not a reflection
        evident[: lag_min if width <= SHARP_WIDTH else BROAD_LAG_FACTOR * lag_min] = False
        score[evident] = mass[evident]
        widths[evident] = width
    return score, widths


def _reaches_low_band(values: np.ndarray, peak: int, sample_rate: int) -> bool:
    """Does the peak's kernel act on the low-mid band, as a real reflection or delay does?

    Rooms and delay units pass low frequencies at least as well as high ones (reflections
    lose treble, not bass). A peak whose kernel only rings in the upper band, a zero-sum shape
    with deep side lobes, is a repeated noise burst of the source (a synthesizer reusing one
    fricative), so it is not treated as an echo.
    """
    half = SHAPE_HALF_WIDTH
    kernel = values[peak - half : peak + half + 1]
    if len(kernel) != 2 * half + 1:
        return False
    frequencies = np.linspace(LOW_BAND_HZ[0], 8000.0, 48)
    taps = np.arange(-half, half + 1)
    response = np.abs(np.exp(-2j * np.pi * np.outer(frequencies, taps) / sample_rate) @ kernel)
    low = response[frequencies <= LOW_BAND_HZ[1]]
    return bool(np.mean(low) >= LOW_BAND_SHARE * np.max(response))


def _is_rahmonic(mass: np.ndarray, peak: int, lag_min: int, reach: int) -> bool:
    """A peak at L = kT with comparable ones at T, 2T, ... (k-1)T is a sustained note's
    rahmonic (k up to 12 for short lags, else 2 or 3).

    A harmonic tone (or a voiced syllable) of period T puts cepstral peaks at T, 2T, 3T...; a
    real echo at L has repeats at 2L, 3L but nothing at L/2. One peak near L/k is not enough
    at short lags: a melody's notes put rahmonics every few milliseconds, and a 60 ms
    slapback on a trumpet had one of them within k + 16 samples of 60/8 ms (it was dropped,
    and with it the slapback on trumpet, strings, harp and a voice).
    """
    level = mass[peak]
    divisors = RAHMONIC_DIVISORS if peak < RAHMONIC_SHORT_LAG * lag_min else (2, 3)
    for divisor in divisors:
        if peak // divisor < RAHMONIC_MIN_LAG:
            break
        if all(
            _holds_a_peak(mass, multiple * peak // divisor, divisor + reach, level)
            for multiple in range(1, divisor)
        ):
            return True
    return False


def _holds_a_peak(mass: np.ndarray, centre: int, reach: int, level: float) -> bool:
    around = mass[max(centre - reach, 0) : centre + reach + 1]
    return bool(len(around)) and float(np.max(around)) >= RAHMONIC_SHARE * level


def _local_level(series: np.ndarray, lag_min: int) -> tuple[np.ndarray, np.ndarray]:
    """Running median and robust deviation of the cepstrum, in blocks of LEVEL_BLOCK lags.

    Near the shortest lags the source's own cepstrum (pitch, envelope) is busier than far
    out, so one global noise level would let it pass for echoes there.
    """
    baseline = np.zeros(len(series))
    deviation = np.full(len(series), np.inf)
    for start in range(lag_min, len(series), LEVEL_BLOCK):
        block = series[start : start + LEVEL_BLOCK]
        if len(block) < LEVEL_BLOCK // 4 and start > lag_min:
            block = series[max(start - LEVEL_BLOCK, lag_min) :]
        centre = float(np.median(block))
        baseline[start : start + LEVEL_BLOCK] = centre
        deviation[start : start + LEVEL_BLOCK] = (
            1.4826 * float(np.median(np.abs(block - centre))) + 1e-9
        )
    return baseline, deviation


def _kernel_half_width(values: np.ndarray, peak: int, noise: float, lag_min: int) -> int:
    """How far around the peak the cepstrum stays clearly above noise (a filtered echo)."""
    limit = min(KERNEL_MAX_HALF_WIDTH, peak - lag_min // 2)
    around = np.abs(values[peak - limit : peak + limit + 1])
    floor = max(KERNEL_TAP_SIGMAS * max(noise, 1e-6), KERNEL_TAP_RELATIVE * float(np.max(around)))
    significant = np.nonzero(around > floor)[0]
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
