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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .comb_filter import EchoFamily, apply_families
from .wpe import stft, window

__all__ = ["unheard_share"]

_FRAME_S = 0.046
# Cells up to 2 kHz: where voices' and instruments' fundamentals and first partials lie
# (so where a note change shows), and where a lowpassed reflection still repeats the sound
# whole; above, a broad kernel's approximate shape predicts highs a dark echo never had
# (a reflection lowpassed at 1.5 kHz read 0.17 over the whole band, 0.01 below 2 kHz).
_TOP_HZ = 2000.0
_ABOVE = 10.0  # the echo's power over the input's, in a cell, beyond any chance cancelling


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
