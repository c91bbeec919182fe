"""Yardsticks computed from the known answer: the ideal-ratio-mask gain and the RIR's RT60.

The ideal ratio mask (IRM) says how much reverb a time-frequency mask could take
off if it knew the dry signal: per channel, the reference is first scaled by
least squares to how it sits in the wet input (S), the rest of the input is the
reverb (R = W - S), and the mask |S|^2 / (|S|^2 + |R|^2) (the "power" mask) or
its square root (the "magnitude" mask) is applied to the wet STFT (Hann 2048/512).
Both are tried and the better SI-SDR is kept, with which one won: neither is a
true ceiling (a linear, phase-correct method can pass it), only a scale for how
much reverb there is to take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from bench.metrics import as_channels, si_sdr

STFT_SIZE = 2048
STFT_HOP = 512
_TINY = 1e-12


@dataclass(frozen=True)
class MaskGain:
    """The ideal mask's SI-SDR gain over the input and which form of the mask gave it."""

    gain_db: float
    form: str  # "power" or "magnitude"


def _stft(audio: np.ndarray) -> np.ndarray:
    _, _, spectrum = signal.stft(
        audio, window="hann", nperseg=STFT_SIZE, noverlap=STFT_SIZE - STFT_HOP, axis=-1
    )
    return spectrum


def _istft(spectrum: np.ndarray, frames: int) -> np.ndarray:
    _, audio = signal.istft(
        spectrum, window="hann", nperseg=STFT_SIZE, noverlap=STFT_SIZE - STFT_HOP
    )
    audio = np.atleast_2d(audio)[:, :frames]
    return np.pad(audio, ((0, 0), (0, frames - audio.shape[1])))


def placed_reference(wet: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The reference scaled per channel by least squares onto the wet input."""
    scale = np.sum(wet * reference, axis=-1, keepdims=True) / (
        np.sum(reference**2, axis=-1, keepdims=True) + _TINY
    )
    return scale * reference


def masked(wet: np.ndarray, reference: np.ndarray, form: str) -> np.ndarray:
    """The wet input through the ideal ratio mask of the given form ("power" or "magnitude")."""
    wet, reference = as_channels(wet), as_channels(reference)
    spectrum_wet = _stft(wet)
    spectrum_dry = _stft(placed_reference(wet, reference))
    dry_power = np.abs(spectrum_dry) ** 2
    reverb_power = np.abs(spectrum_wet - spectrum_dry) ** 2
    mask = dry_power / (dry_power + reverb_power + _TINY)
    if form == "magnitude":
        mask = np.sqrt(mask)
    elif form != "power":
        raise ValueError(f"unknown mask form {form!r}")
    return _istft(mask * spectrum_wet, wet.shape[-1])


def ideal_mask_gain(wet: np.ndarray, reference: np.ndarray) -> MaskGain:
    """The better of the two ideal masks: its SI-SDR gain over the wet input, in dB."""
    before = si_sdr(wet, reference)
    best = max(
        (si_sdr(masked(wet, reference, form), reference) - before, form)
        for form in ("power", "magnitude")
    )
    return MaskGain(gain_db=best[0], form=best[1])


def schroeder_rt60(impulse_response: np.ndarray, sample_rate: int) -> float:
    """RT60 from the T30 fit of the Schroeder backward-integrated decay (-5 to -35 dB).

    The energy decay curve is the impulse response's energy summed from each
    instant to the end; a least-squares line through its -5..-35 dB span,
    extrapolated to -60 dB, is the RT60 (ISO 3382's T30).
    """
    energy = np.asarray(impulse_response, dtype=np.float64) ** 2
    decay = np.cumsum(energy[::-1])[::-1]
    decay_db = 10.0 * np.log10(decay / decay[0] + _TINY)
    span = np.flatnonzero((decay_db <= -5.0) & (decay_db >= -35.0))
    if span.size < 2 or decay_db[-1] > -35.0:
        raise ValueError("the impulse response does not decay by 35 dB")
    times = span / sample_rate
    slope, _ = np.polyfit(times, decay_db[span], 1)
    return float(-60.0 / slope)


__all__ = ["MaskGain", "ideal_mask_gain", "masked", "placed_reference", "schroeder_rt60"]
