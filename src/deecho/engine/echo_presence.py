"""Is a found echo really in the recording? An echo is part of what was recorded.

The cepstral search (engine/echo_search.py) finds any delay at which the sound repeats
itself. A real echo adds a delayed copy to the recording, so the copy the model predicts
is always inside the input: in each time-frequency cell the input holds at least the
echo, unless the sound it lands on happens to cancel it. A source's own periodicity is
not: a sampler's looped sustain, a steady vibrato or a riff repeats within each note,
but when the note changes, the "echo" it implies is the old note, where the recording
holds only the new one. Measured as the share of the predicted echo's energy (below 2 kHz)
that lies more than 10 dB above the input in its cell, each echo (the families the search
read at one lag) judged with the others cancelled: real delays, lowpassed reflections,
ping-pong and delay-into-reverb chains 0.001-0.07 per family; sampled oboe, flute and pan
flute phrases 0.16-0.24, looped sustains 0.15-0.27.

A loop repeated bar after bar (a drum or synth loop, copy-pasted bars) passes that test:
every "echo" it implies is there. But no echo repeats a sound exactly and at the same
level twice over: a delay's repeats fall by its feedback (the search refuses feedback
above 0.9), and what it adds to new sound makes the sum differ. `looped_share` is the share
of the energy heard again one lag later and again after that, each time within 1 % and at
the same level (+-0.45 dB): 0.72-0.89 on a loop repeated dry, through a delay or through
Freeverb and SoX reverbs (LTI effects keep it periodic), 0.00 on every real delay,
reflection and ping-pong of the echo bench and on clicks through delays with feedback
0.5-0.9. Cancelled as an echo, a loop kept its first bar and lost the rest (an
industrial loop through a long reverb came out 9-10 dB worse).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .comb_filter import EchoFamily, apply_families
from .wpe import stft, window

__all__ = ["looped_share", "pitched_share", "unheard_share"]

_FRAME_S = 0.046
# Cells up to 2 kHz: where voices' and instruments' fundamentals and first partials lie
# (so where a note change shows), and where a lowpassed reflection still repeats the sound
# whole; above, a broad kernel's approximate shape predicts highs a dark echo never had
# (a reflection lowpassed at 1.5 kHz read 0.17 over the whole band, 0.01 below 2 kHz).
_TOP_HZ = 2000.0
_ABOVE = 10.0  # the echo's power over the input's, in a cell, beyond any chance cancelling
_BLOCK_S = 0.1  # a loop is judged a tenth of a second at a time
_EXACT = 0.01  # what is left of a block after the best scaled copy of it one lag before
_SAME_LEVEL = 0.95  # scale between blocks a lag apart, and its inverse (+-0.45 dB)
_DIVISORS = tuple(range(2, 13))  # a low note (30-100 Hz) a few periods back
_PERIODIC = 0.9  # normalised correlation of a block with itself a period later
_SHORTEST_PERIOD_S = 0.001
_PERIOD_TOLERANCE = 1.5  # samples per period: the period is read to the sample


def unheard_share(
    excerpts: Sequence[np.ndarray], families: Sequence[EchoFamily], sample_rate: int
) -> float:
    """The share of the families' predicted echo energy below 2 kHz (1-D excerpts of one
    channel) that lies more than 10 dB above the input in its time-frequency cell; 0 when
    they predict none."""
    size = 1 << max(6, round(np.log2(_FRAME_S * sample_rate)))
    hann = window(size)
    top = int(_TOP_HZ * size / sample_rate) + 1
    unheard = total = 0.0
    for excerpt in excerpts:
        signal = np.asarray(excerpt, dtype=np.float64)
        if signal.size < size:
            continue
        echo = signal - apply_families(signal, list(families))
        input_power, echo_power = (_power(part, hann)[:, :top] for part in (signal, echo))
        total += float(np.sum(echo_power, dtype=np.float64))
        unheard += float(np.sum(echo_power[echo_power > _ABOVE * input_power], dtype=np.float64))
    return unheard / total if total > 0.0 else 0.0


def _power(signal: np.ndarray, hann: np.ndarray) -> np.ndarray:
    """(frames, bins) power of the engine's analysis STFT (wpe.stft, quarter-frame hop)."""
    spectrum = stft(signal[None, :], hann.size, hann.size // 4, hann)[0]
    return spectrum.real**2 + spectrum.imag**2


def looped_share(excerpts: Sequence[np.ndarray], lag: int, sample_rate: int) -> float:
    """The share of the energy (1-D excerpts of one channel) heard again `lag` samples
    later and again `lag` after that, exactly and at the same level each time."""
    size = max(1, round(_BLOCK_S * sample_rate))
    looped = total = 0.0
    for excerpt in excerpts:
        signal = np.asarray(excerpt, dtype=np.float64)
        span = (signal.size - 2 * lag) // size * size
        if lag <= 0 or span <= 0:
            continue
        heard, again, after = (signal[k * lag : k * lag + span].reshape(-1, size) for k in range(3))
        energy = np.einsum("ij,ij->i", again, again)
        repeated = _repeats(again, heard) & _repeats(after, again)
        total += float(np.sum(energy))
        looped += float(np.sum(energy[repeated]))
    return looped / total if total > 0.0 else 0.0


def pitched_share(excerpts: Sequence[np.ndarray], lag: int, sample_rate: int) -> float:
    """The share of the energy (1-D excerpts of one channel) in blocks whose own period,
    times two to twelve, is `lag`: held low notes repeating themselves.

    A held note repeats itself at every multiple of its period, so the cepstrum reads a
    train at a few periods of a low note (a tuba's phrase through reverbs: two periods of
    its C2, 30.6 ms, feedback 0.8; ten of its D2, 136.3 ms, feedback 0.67; 0.22-0.42 of its
    energy in such blocks) and the presence check cannot refuse it: the old note still
    sounds where the new one starts. An echo makes the sound repeat at its own lag, not
    at a fraction of it: real delays of 30-120 ms on speech and music 0.00-0.01. A block's
    period is its first strong repeat: a 550 Hz sine repeats at 60 ms too, but its
    period is 1.8 ms, and an echo of it is still found.

    Periods are read within one 0.1 s block, up to half the lag: a lag of two blocks or
    more (0.2 s) reads 0 here (the 300 ms delay of bench.generality on all its recordings,
    and delays of 300-450 ms on speech and music, are judged by the other checks alone).
    """
    size = max(1, round(_BLOCK_S * sample_rate))
    shortest = max(1, round(_SHORTEST_PERIOD_S * sample_rate))
    longest = round(lag / min(_DIVISORS)) + 2
    if longest >= size or longest <= shortest:
        return 0.0
    pitched = total = 0.0
    for excerpt in excerpts:
        signal = np.asarray(excerpt, dtype=np.float64)
        count = signal.size // size
        if count == 0:
            continue
        blocks = signal[: count * size].reshape(count, size)
        spectrum = np.fft.rfft(blocks, n=2 * size, axis=1)
        correlation = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, axis=1)[:, : longest + 1]
        energy = correlation[:, 0]
        lags = np.arange(shortest, longest + 1)
        # Unbiased: each lag's sum over the samples that overlap at it.
        normalised = (
            correlation[:, lags] * (size / (size - lags)) / np.maximum(energy, 1e-300)[:, None]
        )
        # The period: the first peak of the autocorrelation that is a strong repeat.
        strong = np.zeros_like(normalised, dtype=bool)
        strong[:, 1:-1] = (
            (normalised[:, 1:-1] > _PERIODIC)
            & (normalised[:, 1:-1] >= normalised[:, :-2])
            & (normalised[:, 1:-1] >= normalised[:, 2:])
        )
        period = lags[np.argmax(strong, axis=1)]
        multiple = np.round(lag / period)
        divides = (
            np.any(strong, axis=1)
            & np.isin(multiple, _DIVISORS)
            & (np.abs(lag - multiple * period) <= multiple * _PERIOD_TOLERANCE)
        )
        total += float(np.sum(energy))
        pitched += float(np.sum(energy[divides]))
    return pitched / total if total > 0.0 else 0.0


def _repeats(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """Per block: `later` is `earlier` scaled by 0.95-1.05, within 1 % of its energy."""
    energy = np.einsum("ij,ij->i", later, later)
    cross = np.einsum("ij,ij->i", later, earlier)
    scale = cross / np.maximum(np.einsum("ij,ij->i", earlier, earlier), 1e-300)
    left = energy - cross * scale
    level = np.abs(scale)
    return (
        (energy > 0.0)
        & (left <= _EXACT * energy)
        & (level >= _SAME_LEVEL)
        & (level <= 1.0 / _SAME_LEVEL)
    )
