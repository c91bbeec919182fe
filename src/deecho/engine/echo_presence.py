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

`heard_families` applies these measures to the families the cepstral search found, and
keeps the echoes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .comb_filter import EchoFamily, apply_families
from .wpe import stft, window

__all__ = ["heard_families", "looped_share", "pitched_share", "unheard_share"]

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

# A real echo lies inside the recording; a family predicting more than this share of its
# energy where the input is 10 dB quieter is the source repeating itself (unheard_share).
MAX_UNHEARD = 0.1
# No echo repeats a sound exactly at the same level twice over; a loop does, in 0.72-0.89
# of its energy (looped_share); real delays 0.00.
MAX_LOOPED = 0.25
LOOP_LAG_TOLERANCE_S = 0.005  # broad families read 2 ms either side of a loop's bar
LOOP_MAX_MULTIPLE = 4
# A lag that a held note's period divides is the note repeating itself: real delays of
# 30-120 ms put 0.00-0.01 of the energy in blocks whose period is a half to a twelfth of
# their lag, a tuba's low notes 0.22-0.42 (pitched_share; lags under 0.2 s).
MAX_PITCHED = 0.15


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


def heard_families(
    excerpts: Sequence[np.ndarray], families: list[EchoFamily], sample_rate: int
) -> list[EchoFamily]:
    """The families whose echo the recording holds and that are not a loop or a held note
    repeating itself.
    Families at overlapping lags are one echo (a sharp peak and broad ones around it) and
    are judged together; each echo is judged with the others cancelled (a real delay's
    repeats of the old note must not vouch for a loop's), and only with echoes still in
    the running: the one the recording least holds goes first, and the rest are judged
    again without it. Cancelled, a false echo damages the very cells a real one is read
    in (a music box's phrase read a 1.4 s "echo" at 0.4 whose cancelling put 0.14 of its
    real 300 ms delay's echo in cells 10 dB quieter, and the delay was refused)."""
    loop_lags = _loop_lags(excerpts, families, sample_rate)
    running = _same_echo_groups(families)
    # Loops and held notes are in the recording: they stay cancelled while the others are
    # judged, but are not echoes themselves.
    judged = [
        echo
        for echo in running
        if not any(_of_a_loop(family, loop_lags, sample_rate) for family in echo)
        and not any(
            pitched_share(excerpts, family.lag, sample_rate) > MAX_PITCHED for family in echo
        )
    ]
    while judged:
        unheard = [_unheard(excerpts, echo, running, sample_rate) for echo in judged]
        worst = int(np.argmax(unheard))
        if unheard[worst] <= MAX_UNHEARD:
            break
        refused = judged.pop(worst)
        running = [echo for echo in running if echo is not refused]
    heard = {id(family) for echo in judged for family in echo}
    return [family for family in families if id(family) in heard]


def _unheard(
    excerpts: Sequence[np.ndarray],
    echo: list[EchoFamily],
    echoes: list[list[EchoFamily]],
    sample_rate: int,
) -> float:
    """unheard_share of one echo, the other echoes cancelled."""
    others = [family for group in echoes if group is not echo for family in group]
    judged = [apply_families(excerpt, others) for excerpt in excerpts] if others else excerpts
    return unheard_share(judged, echo, sample_rate)


def _loop_lags(
    excerpts: Sequence[np.ndarray], families: list[EchoFamily], sample_rate: int
) -> list[int]:
    """The families' lags at which the recording repeats itself exactly (a loop)."""
    lags = sorted({family.lag for family in families})
    return [lag for lag in lags if looped_share(excerpts, lag, sample_rate) > MAX_LOOPED]


def _of_a_loop(family: EchoFamily, loops: list[int], sample_rate: int) -> bool:
    """The family sits at a loop's lag or at two to four times it (broad families read
    around it). Not further: a steady tone repeats itself at every multiple of its period,
    and near some multiple of a short one lies any lag."""
    reach = family.half_width + round(LOOP_LAG_TOLERANCE_S * sample_rate)
    return any(
        abs(family.lag - multiple * loop) <= reach
        for loop in loops
        for multiple in range(1, LOOP_MAX_MULTIPLE + 1)
    )


def _same_echo_groups(families: list[EchoFamily]) -> list[list[EchoFamily]]:
    """Families grouped where their kernels' lag spans overlap."""
    groups: list[list[EchoFamily]] = []
    reach = -1
    for family in sorted(families, key=lambda f: f.lag):
        start, end = family.lag - family.half_width, family.lag + family.half_width
        if groups and start <= reach:
            groups[-1].append(family)
            reach = max(reach, end)
        else:
            groups.append([family])
            reach = end
    return groups
