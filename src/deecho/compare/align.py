"""Find and undo the offset and clock drift between an original and a processed take.

The model: the processed take, once at the original's sample rate, holds the
original's sample ``t`` at position ``offset + (1 + drift) * t``, times a gain
that may be negative (inverted polarity). Estimation goes coarse to fine:

1. GCC-PHAT over the whole of both files (decimated to ~16 kHz, so an offset as
   long as the files costs one FFT of a few million points) gives the lag to a
   few samples;
2. around that lag, up to 48 windows spread over the overlap each give a local
   lag to a small fraction of a sample (the weighted cross-correlation is
   evaluated between samples by exact DFT interpolation and maximised);
3. a robust line through those local lags gives the offset (intercept) and the
   drift (slope); after the drift is resampled away (mono, for measuring) the
   same windows give the final fractional offset. The take is then read once
   more on the original's timeline: an FFT phase shift when there is no drift,
   else one polyphase pass that undoes drift and offset together (compare/resample.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

#: Exponent of the partial PHAT whitening: 1 is full PHAT (sharpest peak, but it
#: lifts bins that hold only codec noise), 0 is plain cross-correlation.
PHAT_BETA = 0.75
#: Sample rate the whole-file coarse search runs at, roughly.
COARSE_RATE_HZ = 16_000
#: Most local windows measured across the overlap.
MAX_WINDOWS = 48
#: Shortest local window, as a power of two (256 samples).
MIN_WINDOW_LOG2 = 8
#: Windows whose correlation (after alignment) falls below this are ignored.
MIN_WINDOW_QUALITY = 0.2
#: Below this lag change across the whole overlap, drift is not worth resampling.
MIN_DRIFT_EFFECT_SAMPLES = 0.01


@dataclass(frozen=True)
class LocalLags:
    """Lags measured in windows across the overlap (all in original samples)."""

    centers: np.ndarray  # window centres, original samples
    lags: np.ndarray  # processed position minus original position, samples
    quality: np.ndarray  # 0..1, how well each window matched
    polarity: int  # sign of the correlation peaks (majority, weighted)

    @property
    def usable(self) -> np.ndarray:
        return np.asarray(self.quality >= MIN_WINDOW_QUALITY)


@dataclass(frozen=True)
class LagLine:
    """lag(t) = offset + slope * t, fitted through the usable local lags."""

    offset: float
    slope: float
    windows_used: int
    spread: float  # robust spread of the local lags about the line, samples


def _weighted_cross_spectrum(a_spec: np.ndarray, b_spec: np.ndarray) -> np.ndarray:
    """conj(A)·B partially whitened; its inverse FFT peaks at the lag of b behind a."""
    cross = np.conj(a_spec) * b_spec
    magnitude = np.abs(cross)
    floor = 1e-12 * float(magnitude.max(initial=0.0)) + 1e-30
    return np.asarray(cross / (magnitude + floor) ** PHAT_BETA)


def _block_mean(audio: np.ndarray, factor: int) -> np.ndarray:
    usable = len(audio) // factor * factor
    return np.asarray(audio[:usable].reshape(-1, factor).mean(axis=1), dtype=np.float32)


def _coarse_correlation(
    original: np.ndarray, processed: np.ndarray, rate: int
) -> tuple[np.ndarray, int]:
    """|GCC-PHAT| of mono `processed` behind mono `original` at every lag, decimated.

    Returns (values, factor): values[i] belongs to the lag i * factor for the first
    len(processed) decimated samples (lags 0 up), then to (i - len(values)) * factor
    (the negative lags, down to -(len(original) - 1)), as a circular correlation lays them.
    """
    factor = max(1, rate // COARSE_RATE_HZ)
    if factor > 1:
        # Block means, not a proper low-pass: whatever aliases, aliases alike in both.
        original = _block_mean(original, factor)
        processed = _block_mean(processed, factor)
    n = sfft.next_fast_len(len(original) + len(processed), real=True)
    cross = _weighted_cross_spectrum(
        sfft.rfft(original.astype(np.float32), n, workers=-1),
        sfft.rfft(processed.astype(np.float32), n, workers=-1),
    )
    corr = np.abs(sfft.irfft(cross, n, workers=-1))
    # corr[k] for k < len(processed) are positive lags; the tail holds negative lags.
    return np.concatenate([corr[: len(processed)], corr[n - len(original) + 1 :]]), factor


def coarse_lag(original: np.ndarray, processed: np.ndarray, rate: int) -> int:
    """Whole-file GCC-PHAT lag of mono `processed` behind mono `original`, in samples.

    Every lag from -(len(original) - 1) to len(processed) - 1 is searched.
    """
    return coarse_lags(original, processed, rate, count=1)[0]


def coarse_lags(
    original: np.ndarray,
    processed: np.ndarray,
    rate: int,
    count: int,
    min_separation_s: float = 0.05,
    min_height: float = 0.0,
) -> list[int]:
    """Up to `count` lags at the highest GCC-PHAT peaks, strongest first, in samples.

    Peaks closer than `min_separation_s` to a higher one are its own flanks (clock
    drift smears one lag over many samples) and are skipped; so are peaks below
    `min_height` times the highest. Repeated material has one peak per repeat.
    """
    values, factor = _coarse_correlation(original, processed, rate)
    positive = len(processed) // factor  # values past this index are negative lags
    separation = max(1, round(min_separation_s * rate / factor))
    left = values.copy()
    chosen: list[int] = []
    while len(chosen) < count:
        peak = int(np.argmax(left))
        if (chosen and left[peak] < min_height * values[chosen[0]]) or left[peak] < 0:
            break
        chosen.append(peak)
        # Lags -1 and 0 sit at the two ends: blank around the peak circularly.
        left[np.arange(peak - separation, peak + separation + 1) % len(left)] = -1.0
    return [(p if p < positive else p - len(values)) * factor for p in chosen]


def _read(audio: np.ndarray, start: int, length: int) -> np.ndarray:
    """audio[start : start + length] of a 1-D array, silence where it runs off either end."""
    out = np.zeros(length, dtype=np.float64)
    lo, hi = max(start, 0), min(start + length, len(audio))
    if hi > lo:
        out[lo - start : hi - start] = audio[lo:hi]
    return out


def _read_fractional(audio: np.ndarray, position: float, length: int) -> np.ndarray:
    """`length` samples of 1-D audio from a non-integer position (FFT phase shift)."""
    whole = math.floor(position)
    fraction = position - whole
    if not fraction:
        return _read(audio, whole, length)
    piece = _read(audio, whole - _PAD, length + 2 * _PAD)
    spectrum = sfft.rfft(piece)
    spectrum *= np.exp(2j * np.pi * np.arange(len(spectrum)) * fraction / len(piece))
    return np.asarray(sfft.irfft(spectrum, len(piece))[_PAD : _PAD + length])


#: Context read around a window before shifting it by a fraction of a sample, so
#: the FFT's wrap-around ringing stays outside the window.
_PAD = 1024


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product without BLAS: on a busy machine OpenBLAS's spinning threads
    make np.dot of a few thousand samples a thousand times slower."""
    return float(np.einsum("i,i->", a, b))


@functools.lru_cache(maxsize=4)
def _hann(width: int) -> np.ndarray:
    return np.hanning(width)


def _integer_lag(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Lag of window b behind window a (|lag| < len/4) to ~0.5 sample, and its sign."""
    width = len(a)
    n = 2 * width
    corr = sfft.irfft(_weighted_cross_spectrum(sfft.rfft(a, n), sfft.rfft(b, n)), n)
    reach = width // 4
    lags = np.concatenate([np.arange(0, reach + 1), np.arange(-reach, 0)])
    values = np.concatenate([corr[: reach + 1], corr[n - reach :]])
    peak = int(np.argmax(np.abs(values)))
    sign = 1 if values[peak] >= 0 else -1
    # Parabola through the peak and its neighbours (both within the circular buffer).
    left, mid, right = (sign * corr[(lags[peak] + d) % n] for d in (-1, 0, 1))
    curvature = left - 2 * mid + right
    vertex = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return float(lags[peak]) + float(np.clip(vertex, -0.5, 0.5)), sign


def _refine_lag(
    segment: np.ndarray, processed: np.ndarray, start: int, lag: float, sign: int
) -> tuple[float, float]:
    """Sub-sample lag of a Hann-windowed `segment` (original from `start`) in `processed`.

    Iterates: read the processed take at the current lag (shifted by the
    fraction), and correct the lag by the slope of the cross-spectrum's phase.
    At the fixed point both windows hold the same stretch of sound, so the
    window itself biases nothing. Returns the lag and the windows' correlation.
    """
    width = len(segment)
    taper = _hann(width)
    a = taper * segment
    a_spec = sfft.rfft(a)
    omega = 2 * np.pi * np.arange(len(a_spec)) / width
    b = np.zeros(width)
    for iteration in range(6):
        b = sign * taper * _read_fractional(processed, start + lag, width)
        cross = np.conj(a_spec) * sfft.rfft(b)
        weight = np.abs(cross)
        if iteration == 0:
            # The first guess may be a sample off: use only bins where the phase cannot wrap.
            weight = np.where(omega <= np.pi / 2, weight, 0.0)
        denominator = float(np.sum(weight * omega**2))
        if denominator <= 0:
            break
        step = float(np.sum(weight * omega * np.angle(cross)) / denominator)
        lag -= step
        if abs(step) < 1e-5:
            break
    scale = math.sqrt(_dot(a, a) * _dot(b, b))
    return lag, _dot(a, b) / scale if scale > 0 else 0.0


def local_lags(
    original: np.ndarray,
    processed: np.ndarray,
    rate: int,
    guess: float,
    slope: float = 0.0,
    max_windows: int = MAX_WINDOWS,
) -> LocalLags:
    """Measure the lag in up to MAX_WINDOWS windows spread over the overlap.

    `guess` and `slope` predict each window's lag (lag = guess + slope * t); each
    window searches a quarter of its width (~85 ms) either side of that.
    """
    start = max(0, math.ceil(-guess))
    overlap = min(len(original), int((len(processed) - guess) / (1.0 + slope))) - start
    # ~0.34 s windows; shorter takes get the longest power of two that fits.
    longest = min(round(math.log2(rate * 0.34)), math.floor(math.log2(max(overlap, 1))))
    if longest < MIN_WINDOW_LOG2:
        empty = np.zeros(0)
        return LocalLags(empty, empty, empty, 1)
    width = 1 << longest
    stop = start + overlap - width
    count = max(1, min(max_windows, (stop - start) // width + 1))
    starts = np.linspace(start, stop, count).round().astype(np.int64)
    segments = [original[s : s + width].astype(np.float64) for s in starts]
    energy = np.array([_dot(seg, seg) for seg in segments])
    loud = energy > 1e-6 * max(float(energy.max(initial=0.0)), 1e-30)
    taper = _hann(width)
    lags, quality, signs = [], [], []
    for begin, segment, is_loud in zip(starts, segments, loud, strict=True):
        predicted = round(guess + slope * (begin + width / 2))
        if not is_loud:
            lags.append(float(predicted))
            quality.append(0.0)
            signs.append(1)
            continue
        b = taper * _read(processed, int(begin) + predicted, width)
        rough, sign = _integer_lag(taper * segment, b)
        lag, q = _refine_lag(segment, processed, int(begin), predicted + rough, sign)
        lags.append(lag)
        quality.append(q)
        signs.append(sign)
    quality_arr = np.array(quality)
    polarity = 1 if _dot(quality_arr, np.array(signs, dtype=np.float64)) >= 0 else -1
    # A window whose peak has the other sign than the majority is a false match.
    quality_arr[np.array(signs) != polarity] = 0.0
    centers = starts.astype(np.float64) + width / 2
    return LocalLags(centers, np.array(lags), quality_arr, polarity)


def _theil_sen(t: np.ndarray, lag: np.ndarray) -> tuple[float, float]:
    """Median of pairwise slopes and the matching intercept: half the points may be wrong.

    Written out because importing scipy.stats costs a second at start-up.
    """
    i, j = np.triu_indices(len(t), k=1)
    keep = t[j] != t[i]
    slope = float(np.median((lag[j] - lag[i])[keep] / (t[j] - t[i])[keep])) if keep.any() else 0.0
    return slope, float(np.median(lag - slope * t))


def fit_lag_line(found: LocalLags, fallback_offset: float) -> LagLine:
    """Robust straight line through the usable local lags (Theil-Sen, then weighted LS)."""
    usable = found.usable
    t, lag, w = found.centers[usable], found.lags[usable], found.quality[usable] ** 2
    if len(t) == 0:
        return LagLine(fallback_offset, 0.0, 0, math.inf)
    if len(t) == 1:
        return LagLine(float(lag[0]), 0.0, 1, math.inf)
    if len(t) < 4:
        slope, offset = 0.0, float(np.median(lag))
    else:
        slope, offset = _theil_sen(t, lag)
    residual = lag - (offset + slope * t)
    spread = float(1.4826 * np.median(np.abs(residual - np.median(residual))))
    inliers = np.abs(residual) <= max(0.25, 4.0 * spread)
    t, lag, w = t[inliers], lag[inliers], w[inliers]
    if len(t) >= 4 and np.ptp(t) > 0:
        design = np.stack([np.ones_like(t), t], axis=1) * np.sqrt(w)[:, None]
        (offset, slope), *_ = np.linalg.lstsq(design, lag * np.sqrt(w), rcond=None)
    else:
        offset, slope = float(np.average(lag, weights=w)), 0.0
    return LagLine(float(offset), float(slope), len(t), spread)
