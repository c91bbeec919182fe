"""Long-window averaged real cepstrum: where an echo system shows up as sparse peaks.

An LTI echo system H multiplies every window's spectrum by the same |H|^2, so log|Y|^2 =
log|X|^2 + log|H|^2 and the cepstrum of y is the source's plus the echo system's. A direct
sound plus a delayed copy (or a feedback comb) gives a few sharp peaks at the delay and its
multiples, while the source's own cepstrum (spectral envelope, pitch) lives at short lags and,
averaged over several long windows, is only a low noise floor at long lags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft

# Bins that stand this far (in nats, ~35 dB) above their neighbourhood's median are clipped:
# sharp spectral lines of a sustained tone would otherwise add rahmonics at long lags, while an
# echo's spectral ripple (and a noise-like spectrum's spread) never reaches that high.
_PEAK_CLIP_NATS = 4.0
_MEDIAN_BLOCK_BINS = 256
LOW_CUT_HZ = 300.0
# A bin whose long-term power is this far under the band's median holds no signal (-50 dB).
DEAD_BAND_RELATIVE = 1e-5
MASK_TAPER_BINS = 64
# Floor under the power spectrum relative to its mean, so digital silence does not dominate.
_FLOOR_RELATIVE = 1e-7


@dataclass(frozen=True)
class Cepstrum:
    """Averaged real cepstrum of log|Y|^2 at lags 0..window//2, with its noise level."""

    values: np.ndarray  # float64, index = lag in samples
    window: int  # analysis window length (a power of two)
    frames: int  # how many windows were averaged
    noise: float  # robust standard deviation of the long-lag cepstrum (MAD based)


def window_length(sample_rate: int, longest: int) -> int:
    """About 8 s of audio (so lags up to 3 s keep most of their weight), capped by the input."""
    target = 1 << int(np.ceil(np.log2(max(8.0 * sample_rate, 2.0))))
    cap = 1 << int(np.floor(np.log2(max(longest, 2))))
    return int(max(min(target, cap), 1 << 10))


def averaged_cepstrum(
    excerpts: Sequence[np.ndarray], window: int, lag_min: int, sample_rate: int
) -> Cepstrum | None:
    """Cepstrum of one channel averaged over hann windows of the excerpts (1-D arrays).

    Only the "live" band counts: bins below LOW_CUT_HZ (where a steady kick drum or hum repeats
    like an echo) and bins with no signal (above a band limit, e.g. upsampled 22 kHz speech) are
    set to the mean, and the cepstrum is scaled back by the live fraction so that an echo's
    peak keeps its height. Returns None when no window holds any signal.
    """
    hann = np.hanning(window).astype(np.float32)
    log_sum = np.zeros(window // 2 + 1, dtype=np.float64)
    power_sum = np.zeros(window // 2 + 1, dtype=np.float64)
    frames = 0
    for excerpt in excerpts:
        for start in _frame_starts(len(excerpt), window):
            frame = np.asarray(excerpt[start : start + window], dtype=np.float32)
            spectra = _clipped_log_spectrum(frame * hann)
            if spectra is not None:
                log_sum += spectra[0]
                power_sum += spectra[1]
                frames += 1
    if frames == 0:
        return None
    mask = _live_mask(power_sum, window, sample_rate)
    fraction = float(np.mean(mask))
    if fraction < 0.05:
        return None
    detail = _without_envelope(log_sum / frames, window, lag_min)
    detail = (detail - np.sum(detail * mask) / np.sum(mask)) * mask
    values = scipy.fft.irfft(detail, n=window)[: window // 2 + 1] / fraction
    values = values / _window_overlap(hann)[: window // 2 + 1]
    long_lags = values[lag_min : window // 4]
    noise = 1.4826 * float(np.median(np.abs(long_lags - np.median(long_lags))))
    return Cepstrum(values=values, window=window, frames=frames, noise=noise)


def _frame_starts(length: int, window: int) -> list[int]:
    if length < window:
        return []
    hop = window // 2
    starts = list(range(0, length - window + 1, hop))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def _without_envelope(log_spectrum: np.ndarray, window: int, lag_min: int) -> np.ndarray:
    """The log spectrum minus its smooth envelope (cepstral lags below lag_min / 8)."""
    cepstrum = scipy.fft.irfft(log_spectrum, n=window)
    keep = max(lag_min // 8, 1)
    cepstrum[keep : window - keep + 1] = 0.0
    return log_spectrum - scipy.fft.rfft(cepstrum).real


def _live_mask(power_sum: np.ndarray, window: int, sample_rate: int) -> np.ndarray:
    """1 where the channel has signal above LOW_CUT_HZ, 0 elsewhere, with tapered edges."""
    bins = len(power_sum)
    low = int(np.ceil(LOW_CUT_HZ * window / sample_rate))
    live = np.zeros(bins, dtype=bool)
    reference = float(np.median(power_sum[low:])) if low < bins else 0.0
    live[low:] = power_sum[low:] > DEAD_BAND_RELATIVE * reference
    # smooth the decision so isolated dips inside the band stay live and the edges are tapered
    taper = np.hanning(2 * MASK_TAPER_BINS + 1)
    taper /= taper.sum()
    smoothed = np.convolve(live.astype(np.float64), taper, mode="same")
    mask = np.clip((smoothed - 0.25) / 0.5, 0.0, 1.0)
    mask[:low] = 0.0
    return mask


def _clipped_log_spectrum(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    power = np.abs(scipy.fft.rfft(frame)) ** 2
    mean_power = float(np.mean(power))
    if not np.isfinite(mean_power) or mean_power <= 1e-20:
        return None
    log_power = np.log(power + _FLOOR_RELATIVE * mean_power).astype(np.float64)
    blocks = len(log_power) // _MEDIAN_BLOCK_BINS
    medians = np.median(log_power[: blocks * _MEDIAN_BLOCK_BINS].reshape(blocks, -1), axis=1)
    ceiling = np.repeat(medians, _MEDIAN_BLOCK_BINS)
    ceiling = np.concatenate([ceiling, np.full(len(log_power) - len(ceiling), medians[-1])])
    return np.minimum(log_power, ceiling + _PEAK_CLIP_NATS), power.astype(np.float64)


_overlap_cache: dict[int, np.ndarray] = {}


def _window_overlap(hann: np.ndarray) -> np.ndarray:
    """Normalized autocorrelation of the window: how much of an echo at each lag a window sees.

    A window only holds the part of a delayed copy whose original is inside it too, so a
    cepstral peak at lag L is scaled by about this factor; dividing undoes that bias.
    """
    size = len(hann)
    cached = _overlap_cache.get(size)
    if cached is None:
        spectrum = scipy.fft.rfft(hann.astype(np.float64), n=2 * size)
        overlap = scipy.fft.irfft(np.abs(spectrum) ** 2)[:size]
        cached = np.maximum(overlap / overlap[0], 0.2)
        _overlap_cache[size] = cached
    return cached
