"""The direct-to-reverberant ratio the report gives, before and after, by one estimator.

Both figures read the same stretch of audio (the head the report's RT60 also reads)
the same way the reverb analysis reads its excerpts: the share of the energy that
delayed linear prediction takes out unconstrained (what 64 ms and more of the past
explains: the late reverb), or on held notes the late model's share (prediction would
take the notes too). The "after" figure used to be the analysis's share less the energy
taken out, floored at 1 % of it: whenever the late gain took more than the prediction's
estimate, that read +20 dB (speech in a 0.7 s room: "DRR 4.0 -> 24.0 dB" where the
output's SI-SDR had risen 2.3 dB). Measuring the output itself says what is left.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deecho.engine.late_level import band_of_bins
from deecho.engine.reverb import (
    ReverbPlan,
    analysis_audio,
    fit_channels,
    late_share_of,
    room_power_decay,
)
from deecho.engine.wpe import filtered_bins, stft, window

__all__ = ["direct_to_reverberant_db"]

#: Audio read for each figure, seconds: a summary figure, so a shorter stretch than the
#: analysis reads (two reads of 12 s of stereo cost about as much as the analysis).
_READ_S = 8.0


def _late_share(blocks: Sequence[np.ndarray], plan: ReverbPlan) -> float | None:
    audio = analysis_audio(blocks, plan.sample_rate)
    if audio is None:
        return None
    audio = audio[:, : round(_READ_S * plan.sample_rate)]
    bins = filtered_bins(plan.frame_size, plan.sample_rate)
    spectra = stft(audio, plan.frame_size, plan.hop, window(plan.frame_size))[:, :, :bins]
    energy = float(np.sum(spectra.real**2 + spectra.imag**2, dtype=np.float64))
    if energy <= 0.0:
        return None
    bands = band_of_bins(bins, plan.frame_size, plan.sample_rate)
    decay = room_power_decay(plan.hop / plan.sample_rate, plan.rt60_s)
    fits = fit_channels(spectra, bands, decay)  # as analyze_reverb reads its excerpts
    uncapped = float(np.mean([reduction for _, reduction, _, _ in fits]))
    late_energy = sum(float(np.sum(level * driven, dtype=np.float64)) for *_, level, driven in fits)
    return late_share_of(uncapped, late_energy / energy, plan.material)


def direct_to_reverberant_db(
    before: Sequence[np.ndarray], after: Sequence[np.ndarray], plan: ReverbPlan
) -> tuple[float | None, float | None]:
    """Estimated DRR (dB) of the same excerpts before and after the reverb stage."""
    # One read after the other: each already fits its channels side by side.
    return _db(_late_share(before, plan)), _db(_late_share(after, plan))


def _db(late_share: float | None) -> float | None:
    if late_share is None:
        return None
    return 10.0 * float(np.log10((1.0 - late_share) / late_share))
