"""Scale-invariant signal-to-distortion ratio (SI-SDR), the benchmark's one quality measure.

SI-SDR (Le Roux et al., 2019) projects the estimate onto the reference, so a
global gain change costs nothing, and counts everything else (echo left in,
artefacts added) as distortion. A stereo signal gets one figure: each channel
keeps its own scale, and the energies are summed over channels, so a silent
channel neither dominates nor breaks the measure.
"""

from __future__ import annotations

import numpy as np

# Keeps the ratio finite for a perfect estimate (a known answer: > 100 dB) and for silence.
_TINY = 1e-20


def as_channels(audio: np.ndarray) -> np.ndarray:
    """(samples,) or (channels, samples) -> (channels, samples) float64."""
    array = np.asarray(audio, dtype=np.float64)
    if array.ndim == 1:
        return array[None, :]
    if array.ndim != 2:
        raise ValueError(f"audio must be (samples,) or (channels, samples), got {array.shape}")
    return array


def match_length(estimate: np.ndarray, length: int) -> np.ndarray:
    """The estimate on the reference's time axis: cut when longer, zero-padded when shorter.

    Both are assumed to start at the same instant (every engine compared here
    keeps its output aligned with its input). Padding rather than cutting the
    reference means a short output is charged for what it dropped.
    """
    frames = estimate.shape[-1]
    if frames >= length:
        return estimate[..., :length]
    pad = np.zeros((*estimate.shape[:-1], length - frames), dtype=estimate.dtype)
    return np.concatenate([estimate, pad], axis=-1)


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """SI-SDR of `estimate` against `reference` in dB (higher is better)."""
    target_audio = as_channels(reference)
    estimate_audio = match_length(as_channels(estimate), target_audio.shape[-1])
    if estimate_audio.shape[0] != target_audio.shape[0]:
        raise ValueError(
            f"channel count differs: estimate {estimate_audio.shape[0]}, "
            f"reference {target_audio.shape[0]}"
        )
    # Remove DC per channel so an offset is not counted as signal.
    target_audio = target_audio - target_audio.mean(axis=-1, keepdims=True)
    estimate_audio = estimate_audio - estimate_audio.mean(axis=-1, keepdims=True)
    dot = np.sum(estimate_audio * target_audio, axis=-1, keepdims=True)
    energy = np.sum(target_audio**2, axis=-1, keepdims=True)
    target = dot / (energy + _TINY) * target_audio
    distortion = estimate_audio - target
    ratio = (np.sum(target**2) + _TINY) / (np.sum(distortion**2) + _TINY)
    return float(10.0 * np.log10(ratio))


def si_sdr_gain(output: np.ndarray, input_audio: np.ndarray, reference: np.ndarray) -> float:
    """How many dB closer to the reference the output is than the input was."""
    return si_sdr(output, reference) - si_sdr(input_audio, reference)
