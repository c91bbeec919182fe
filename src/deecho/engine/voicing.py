"""How much of a recording is voiced: harmonic at a pitch a voice can sing or speak at.

The reverb stage's loose treatment (engine/reverb.py, Material.SPEECH: a loose cap on the
prediction and the spectral late gain) is right for a voice and wrong for drums: delayed
prediction reads a drum's own ring as the room's and takes it out with the hit (a dry drum
break came back 15 dB changed, a drum kit through a light Freeverb 2 dB worse than it went
in, a percussion loop 5.6 dB worse).

A voice is harmonic: its glottal pulses repeat at the pitch period below 1 kHz and, through
the formants, in the 1-3.8 kHz band too. A drum's body can ring at a pitch (a kick, a
tom, a tabla), but what it has above 1 kHz is noise and inharmonic modes. So a frame is
voiced when its normalised autocorrelation peaks at a 85-400 Hz pitch lag both below 1 kHz
(above `_LOW_PEAK`) and in the band above (above `_HIGH_PEAK`). Weighted by the energy
below 1 kHz, voices put 0.67-0.91 of it in voiced frames (recorded and synthesized, dry, in
0.7-1.5 s rooms, through algorithmic reverbs; espeak-ng in ten voices and languages
0.72-0.99), drum loops and kits 0-0.27, a tabla 0.32, instruments 0.34-0.38. Whispered
speech has no pitch (0.00-0.03): it gets the tight treatment, less gain and no harm.

The resampling to 8 kHz and the two bands are done in one FFT, with the 4th-order
Butterworth magnitudes the figures above were measured with, rather than by scipy.signal:
importing that costs 0.9 s, a tenth of a 3-minute file's whole run (see engine/fir.py).
A frame's autocorrelation depends only on its magnitude spectrum, so the zero-phase
filters read as the causal ones did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

__all__ = ["Voicing", "voiced_share", "voicing"]

_RATE = 8000  # the pitch and the band a voice's harmonics fill
_SPLIT_HZ = 1000.0
_TOP_HZ = 3800.0
_ORDER = 4  # Butterworth
_FRAME_S = 0.04
_PITCH_HZ = (85.0, 400.0)  # a kick's body rings below
_LOW_PEAK = 0.6
_HIGH_PEAK = 0.3
# A voice's harmonics above 1 kHz are 10-25 dB under those below; a pure low tone's are
# only the band filter's leakage, periodic but not there.
_HIGH_MIN_SHARE = 1e-3
# Articulation: a voice's formants move from phoneme to phoneme; an instrument's colour
# holds from note to note. Between voiced frames 60 ms apart, voices' cepstral envelopes
# move by a median 1.0-1.5 dry and 0.41-0.66 through Freeverb, SoX reverb and 0.7-1 s
# rooms (espeak-ng in eight voices, a recorded voice); 60 sampled instruments played as
# melodies, runs and chords 0.06-0.37 through the same (xylophone, kalimba: up to 0.46 in
# a room, 0.44 dry): a pitched instrument is as voiced as a voice (0.8-1.0), and given a
# voice's loose treatment its own ringing was taken for the room's (kalimba, steel drums,
# pizzicato strings, soprano sax through a Freeverb: 2.3-8.8 dB worse).
_MIN_ARTICULATION = 0.40
_ARTICULATION_GAP = 3  # frames (20 ms apart): 60 ms, about a phoneme
_ENVELOPE_COEFFICIENTS = 8  # quefrencies up to 1 ms: the envelope, below any pitch
_ENVELOPE_FFT = 512


@dataclass(frozen=True)
class Voicing:
    """How much of a recording is voiced, and how fast its voiced sound changes colour."""

    share: float  # of the energy below 1 kHz (channels mixed) in voiced frames, 0..1
    articulation: float  # median envelope change between voiced frames 60 ms apart

    def speaks(self, least_share: float) -> bool:
        """A voice: at least this share voiced, and articulated as speech is."""
        return self.share >= least_share and self.articulation >= _MIN_ARTICULATION


def voicing(audio: np.ndarray, sample_rate: int) -> Voicing:
    """The voiced share and the articulation of `audio` (channels mixed); 0, 0 for silence."""
    mono = np.atleast_2d(np.asarray(audio, dtype=np.float64)).mean(axis=0)
    size = round(_FRAME_S * _RATE)
    if mono.size * _RATE < size * sample_rate:
        return Voicing(0.0, 0.0)
    low, high = _bands(mono, sample_rate)
    low_peak, energy = _periodicity(low, size)
    high_peak, high_energy = _periodicity(high, size)
    voiced = (
        (energy > 0.0)
        & (high_energy > _HIGH_MIN_SHARE * energy)
        & (low_peak > _LOW_PEAK)
        & (high_peak > _HIGH_PEAK)
    )
    total = float(np.sum(energy))
    share = float(np.sum(energy[voiced]) / total) if total > 0.0 else 0.0
    return Voicing(share, _articulation(low + high, size, voiced))


def voiced_share(audio: np.ndarray, sample_rate: int) -> float:
    """The share of the energy below 1 kHz (channels mixed) in voiced frames, 0..1
    (0 for silence)."""
    return voicing(audio, sample_rate).share


def _articulation(signal: np.ndarray, size: int, voiced: np.ndarray) -> float:
    """Median distance between the cepstral envelopes (coefficients 1-8: the formants, not
    the harmonics) of voiced frames `_ARTICULATION_GAP` frames apart; 0 without such pairs."""
    frames = _frames(signal, size)[: voiced.size]
    spectrum = scipy.fft.rfft(frames * np.hanning(size), n=_ENVELOPE_FFT, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    # A floor 60 dB under each frame's peak: the envelope of what is heard, not of the zeros.
    floor = 1e-6 * power.max(axis=1, keepdims=True) + 1e-30
    envelope = scipy.fft.irfft(np.log(power + floor), axis=1)[:, 1 : _ENVELOPE_COEFFICIENTS + 1]
    gap = _ARTICULATION_GAP
    pairs = voiced[gap:] & voiced[:-gap]
    if not np.any(pairs):
        return 0.0
    change = np.sqrt(np.sum((envelope[gap:] - envelope[:-gap]) ** 2, axis=1))
    return float(np.median(change[pairs]))


def _frames(signal: np.ndarray, size: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(signal, size)[:: size // 2]


def _bands(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The recording at `_RATE`, below `_SPLIT_HZ` and in `_SPLIT_HZ`-`_TOP_HZ`."""
    # Zeros after the end keep the circular FFT from wrapping the end onto the start.
    padded = scipy.fft.next_fast_len(mono.size + sample_rate // 10, real=True)
    spectrum = scipy.fft.rfft(mono, padded)
    length = round(padded * _RATE / sample_rate)
    kept = min(length // 2 + 1, spectrum.size)
    hz = np.arange(kept) * (sample_rate / padded)
    # The bilinear transform's warped frequency, as scipy.signal.butter(fs=_RATE) uses.
    warped = np.tan(np.pi * np.minimum(hz, 0.4999 * _RATE) / _RATE)
    split, top = (np.tan(np.pi * edge / _RATE) for edge in (_SPLIT_HZ, _TOP_HZ))
    low_gain = 1.0 / np.sqrt(1.0 + (warped / split) ** (2 * _ORDER))
    with np.errstate(divide="ignore"):
        band = (warped**2 - split * top) / (warped * (top - split))
    high_gain = 1.0 / np.sqrt(1.0 + band ** (2 * _ORDER))
    scale = length / padded
    end = round(mono.size * _RATE / sample_rate)
    low = scipy.fft.irfft(spectrum[:kept] * low_gain, length)[:end] * scale
    high = scipy.fft.irfft(spectrum[:kept] * high_gain, length)[:end] * scale
    return low, high


def _periodicity(signal: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per half-overlapping frame: the normalised autocorrelation's highest peak at a pitch
    lag, and the frame's energy."""
    frames = _frames(signal, size)
    frames = frames - frames.mean(axis=1, keepdims=True)
    spectrum = scipy.fft.rfft(frames, n=2 * size, axis=1)
    correlation = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, axis=1)
    shortest, longest = (round(_RATE / hz) for hz in reversed(_PITCH_HZ))
    lags = np.arange(shortest, longest + 1)
    # Unbiased: each lag's sum over the samples that overlap at it.
    normalised = correlation[:, lags] * (size / (size - lags))
    peak = normalised.max(axis=1) / np.maximum(correlation[:, 0], 1e-30)
    return peak, correlation[:, 0]
