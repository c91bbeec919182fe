"""Null-test metrics between an original and an aligned processed take.

All functions take (channels, n) arrays already cut to the overlap, and treat
the channels as one signal (sums over channels), which is what a listener hears
as "how different".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deecho.compare.figures import OctaveBand

#: Floor for every dB figure, so silence gives a finite, JSON-safe number.
FLOOR_DB = -200.0
#: Length of the windows of the residual-over-time series.
WINDOW_S = 0.4
#: Windows where the original is quieter than this (dBFS) get no residual figure.
QUIET_DBFS = -90.0
#: Octave bands, by their nominal (ISO 266) label; exact centres are 1000 * 2**k.
OCTAVE_LABELS_HZ = (31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)


def db(ratio: float) -> float:
    """10 log10 of a power ratio, floored at FLOOR_DB."""
    if not math.isfinite(ratio) or ratio <= 0:
        return FLOOR_DB
    return max(FLOOR_DB, 10.0 * math.log10(ratio))


def inner(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of a * b over all samples, accumulated in float64 blocks (no big temporaries)."""
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    block = 1 << 16
    return float(
        sum(
            # einsum, not np.dot: OpenBLAS threads crawl on a busy machine.
            float(np.einsum("i,i->", flat_a[i : i + block], flat_b[i : i + block]))
            for i in range(0, len(flat_a), block)
        )
    )


def energy(audio: np.ndarray) -> float:
    return inner(audio, audio)


def ls_gain(original: np.ndarray, aligned: np.ndarray) -> float:
    """Signed least-squares gain g of processed ≈ g · original."""
    reference = energy(original)
    if reference == 0:
        return 1.0
    return float(inner(original, aligned) / reference)


def residual(original: np.ndarray, aligned: np.ndarray, gain: float) -> np.ndarray:
    """What is left of the original once the gain-matched processed take is subtracted."""
    if gain == 0:
        return original.astype(np.float32)
    return np.asarray(original - aligned / gain, dtype=np.float32)


def correlation(original: np.ndarray, aligned: np.ndarray) -> float:
    scale = math.sqrt(energy(original) * energy(aligned))
    if scale == 0:
        return 0.0
    return float(inner(original, aligned) / scale)


def si_sdr_db(original: np.ndarray, aligned: np.ndarray) -> float:
    """Scale-invariant SDR of the processed take against the original as reference.

    With the least-squares gain this is exactly minus the null depth; both are
    reported because engineers know one and researchers the other.
    """
    alpha = ls_gain(original, aligned)
    if alpha == 0:
        return FLOOR_DB
    # |alpha·o - a|² = alpha²·|o - a/alpha|², so the ratio needs only the null's residual.
    left = energy(residual(original, aligned, alpha))
    return -FLOOR_DB if left == 0 else db(energy(original) / left)


@dataclass(frozen=True)
class OverTime:
    """Residual and levels over consecutive windows of WINDOW_S seconds."""

    times_s: np.ndarray  # window centres, seconds from the overlap's start
    residual_db: np.ndarray  # NaN where the original is quiet
    original_dbfs: np.ndarray
    processed_dbfs: np.ndarray


def over_time(
    original: np.ndarray, aligned: np.ndarray, difference: np.ndarray, rate: int
) -> OverTime:
    window = max(1, min(round(WINDOW_S * rate), original.shape[-1]))
    count = max(1, original.shape[-1] // window)
    usable = count * window

    def window_power(audio: np.ndarray) -> np.ndarray:
        blocks = audio[:, :usable].reshape(audio.shape[0], count, window)
        squared = np.einsum("cwn,cwn->w", blocks, blocks, dtype=np.float64)
        return np.asarray(squared / (window * audio.shape[0]))

    tiny = 1e-30
    p_orig, p_proc, p_diff = (window_power(a) for a in (original, aligned, difference))
    original_dbfs = 10 * np.log10(p_orig + tiny)
    residual_db = np.maximum(10 * np.log10((p_diff + tiny) / (p_orig + tiny)), FLOOR_DB)
    residual_db[original_dbfs < QUIET_DBFS] = np.nan
    return OverTime(
        times_s=(np.arange(count) + 0.5) * window / rate,
        residual_db=residual_db,
        original_dbfs=np.maximum(original_dbfs, FLOOR_DB),
        processed_dbfs=np.maximum(10 * np.log10(p_proc + tiny), FLOOR_DB),
    )


def octave_bands(
    freqs: np.ndarray, p_orig: np.ndarray, p_proc: np.ndarray, p_diff: np.ndarray, rate: int
) -> list[OctaveBand]:
    """Level of each take, their difference, and the null depth, per octave band.

    The power spectra are one-sided and scaled so a band's sum is its mean square
    times 2: 0 dB is a full-scale sine (AES17 dBFS).
    """
    bands = []
    for k, label in enumerate(OCTAVE_LABELS_HZ):
        center = 1000.0 * 2.0 ** (k - 5)
        low, high = center / math.sqrt(2), min(center * math.sqrt(2), rate / 2)
        inside = (freqs >= low) & (freqs < high)
        if low >= rate / 2 or not inside.any():
            continue
        e_orig, e_proc = float(p_orig[inside].sum()), float(p_proc[inside].sum())
        e_diff = float(p_diff[inside].sum())
        bands.append(
            OctaveBand(
                center_hz=float(label),
                original_db=db(e_orig),
                processed_db=db(e_proc),
                difference_db=db(e_proc) - db(e_orig),
                residual_db=db(e_diff / e_orig) if e_orig > 0 else FLOOR_DB,
            )
        )
    return bands


def band_limit(audio: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    """Zero-phase low-pass, so both takes lose the same band without moving in time."""
    import scipy.signal as ss  # here, not at the top: it costs a second or two (scipy.stats)

    sos = ss.butter(10, cutoff_hz, fs=rate, output="sos")
    return np.asarray(ss.sosfiltfilt(sos, audio, axis=-1), dtype=np.float32)
