"""The late reverb the prediction left behind, taken out by a real gain per bin.

After delayed prediction (engine/wpe.py) some late reverb is left in every bin. Its power
is modelled as in Lebart et al. (2001): the cleaned power `LAG_FRAMES` ago, decayed at the
room's RT60. Unlike Lebart's model, which assumes everything heard earlier was reverberant
sound, the model is scaled by how reverberant the room is, the estimated reverb-to-direct
energy ratio (as Habets' generalised model does with its DRR term). Without that, a light
reverb on a voice lost 2-5 dB SI-SDR to the gain (the voice's own syllables counted as
reverb), while a heavy room wanted more than a fixed gain gave.

The gain is a Wiener gain on a decision-directed a-priori ratio (Ephraim and Malah, 1984):
the previous frame's cleaned power steadies it, so it leaves no musical noise, and it
never cuts deeper than `_FLOOR` (-15 dB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LAG_FRAMES", "LateGain", "late_scale"]

LAG_FRAMES = 2  # the cleaned frame the residual late reverb is read from (64 ms back)
_SCALE = 2.0
_SMOOTHING = 0.9  # decision-directed: the previous frame's share of the a-priori ratio
_FLOOR = 0.17  # amplitude (-15 dB)
_MAX_LATE_SHARE = 0.8  # a reverb-to-direct ratio of 4 is as reverberant as the model goes


def late_scale(late_share: float, power_decay: float) -> float:
    """Residual late power now over the cleaned power `LAG_FRAMES` ago.

    The room's decay over the lag, times its reverb-to-direct energy ratio, times an
    overestimate `_SCALE` (late reverb flickers around its mean; measured on voices and
    speech in simulated rooms and algorithmic reverbs, 0.45-1.2 s: 1.5-2.5 all gain on
    the old fixed gain, stronger costs synthetic speech-like signals up to 0.6 dB).
    """
    share = min(max(late_share, 0.0), _MAX_LATE_SHARE)
    return float(_SCALE * share / (1.0 - share) * power_decay**LAG_FRAMES)


@dataclass
class LateGain:
    """Streams the gain frame by frame, carrying the last frames across calls."""

    scale: float  # from late_scale
    recent: np.ndarray | None = None  # (channels, LAG_FRAMES, bins): the last cleaned powers
    previous: np.ndarray | None = None  # (channels, bins): the last frame's power after the gain

    def run(self, dry: np.ndarray) -> np.ndarray:
        """Amplitude gains for `dry` (channels, frames, bins), the prediction's output."""
        power = dry.real**2 + dry.imag**2
        if self.recent is None or self.previous is None:
            # Before the first frames there is no reverb to take: a late level of ~0.
            channels, _, bins = power.shape
            self.recent = np.zeros((channels, LAG_FRAMES, bins), dtype=power.dtype)
            self.previous = np.zeros_like(power[:, 0, :])
        known = np.concatenate([self.recent, power], axis=1)
        late = np.maximum(self.scale * known[:, : power.shape[1], :], 1e-30)
        self.recent = known[:, power.shape[1] :, :]
        posterior = (1.0 - _SMOOTHING) * np.maximum(power / late - 1.0, 0.0)
        gains = np.empty(power.shape, dtype=np.float32)
        previous = self.previous
        for t in range(power.shape[1]):  # only the decision-directed recursion is serial
            prior = _SMOOTHING * previous / late[:, t, :] + posterior[:, t, :]
            gain = np.maximum(prior / (1.0 + prior), _FLOOR)
            gains[:, t, :] = gain
            previous = gain * gain * power[:, t, :]
        self.previous = previous
        return gains
