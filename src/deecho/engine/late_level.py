"""How loud the room's late reverberation is, per band, read from the recording itself.

Late reverberation at frame t is the room's decaying response to the dry sound heard
before: in power, `late(t) = c * sum_{j >= D} a**j * dry(t - j)`, with `a` the
per-frame power decay of the room (from its RT60) and `c` the room's late level
(how much of what it hears comes back late). RT60 alone does not say how much
reverb there is: a held note in a dry studio and the same note in a hall decay
alike while it sounds. `c` is what tells them apart, and the moments that show it
are the ones where the sound stops: there, all that is left is late reverb, so the
observed power over the model's drive is `c` itself, and nowhere else is it lower.
So `c` is a low percentile of that ratio, per band (band sums average out the
flicker of a reverberant tail). Dry material stops dead: its ratio falls to the
noise floor and `c` comes out about 0. Material that never stops (a drone) shows
no such moments: its low percentile sits near its median, and `c` is set to 0
rather than read from the notes.

The late level bounds what the prediction stage may take out of each time-frequency
bin (engine/reverb.py): a sustained note is predictable from its own past, but it
cannot be more reverb than the room makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import uniform_filter1d

__all__ = ["LateTracker", "band_of_bins", "calibrate", "late_levels", "smoothed_power"]

# Band edges (Hz): narrow where rooms change fastest with frequency.
_BAND_EDGES_HZ = (0.0, 150.0, 300.0, 500.0, 800.0, 1200.0, 1800.0, 2600.0, 3600.0, 5000.0)
_POWER_CONTEXT_BINS = 2  # smooth the drive over +/- this many bins
_LOW_PERCENTILE = 5.0
# A band whose low percentile is above this share of its median never stopped:
# there is no moment that shows the room, so no late level is read from it.
_MAX_LOW_TO_MEDIAN = 0.5
_MIN_FRAMES = 20
_ACTIVE_BELOW_PEAK = 1e-6
_DRY_FLOOR = 0.1  # the dry estimate keeps at least this share of the observed power
_CALIBRATION_ROUNDS = 3  # frames whose drive is this far under the band's peak are silence


def band_of_bins(bins: int, frame_size: int, sample_rate: int) -> np.ndarray:
    """Band index of each of the first `bins` STFT bins."""
    frequencies = np.arange(bins) * sample_rate / frame_size
    return np.clip(np.digitize(frequencies, _BAND_EDGES_HZ) - 1, 0, len(_BAND_EDGES_HZ) - 1)


def smoothed_power(spectra: np.ndarray) -> np.ndarray:
    """|X|^2 smoothed over neighbouring bins (last axis): the drive of the late model."""
    power = spectra.real**2 + spectra.imag**2
    return np.asarray(
        uniform_filter1d(power, 2 * _POWER_CONTEXT_BINS + 1, axis=-1, mode="nearest"),
        dtype=np.float32,
    )


@dataclass
class LateTracker:
    """Streams the late-reverb estimate frame by frame, carrying its state across calls.

    The late reverb is driven by the dry sound, not by what the microphone heard:
    driving it by the observed power would count the reverb's own tail as more
    sound to reverberate, and a long tail would look ever more reverberant. The dry
    power is what the model leaves once its late estimate is taken out (kept above
    `_DRY_FLOOR` of the observed power), as in Habets' late-reverb estimators.
    """

    level: np.ndarray  # (..., bins): the room's late level `c`, broadcast over frames
    decay: float  # the room's power decay per frame
    delay: int  # frames before the late reverb begins
    drive: np.ndarray | None = None  # (..., bins) the decayed sum of dry power so far
    recent_dry: list[np.ndarray] = field(default_factory=list)  # the last `delay` frames

    def run(self, power: np.ndarray) -> np.ndarray:
        """The drive for each frame of `power` (..., frames, bins): late = level * drive."""
        frames = power.shape[-2]
        driven = np.empty_like(power)
        if self.drive is None:
            self.drive = np.zeros_like(power[..., 0, :])
        gain = self.decay**self.delay
        for t in range(frames):
            self.drive = self.decay * self.drive
            if len(self.recent_dry) >= self.delay:
                self.drive += gain * self.recent_dry.pop(0)
            driven[..., t, :] = self.drive
            now = power[..., t, :]
            self.recent_dry.append(np.maximum(now - self.level * self.drive, _DRY_FLOOR * now))
        return driven


def calibrate(
    spectra: np.ndarray, band_index: np.ndarray, decay: float, delay: int
) -> tuple[np.ndarray, np.ndarray]:
    """The late level per bin of one channel's (frames, bins) spectra, and its drive.

    The first reading drives the model by the observed power (it under-reads a long
    room, whose tail drives itself); each further round drives it by the dry power
    the last reading leaves.
    """
    power = spectra.real**2 + spectra.imag**2
    smoothed = smoothed_power(spectra)
    level = np.zeros(spectra.shape[-1], dtype=np.float32)
    driven = LateTracker(level, decay, delay).run(smoothed)
    for _ in range(_CALIBRATION_ROUNDS):
        new = late_levels(power, driven, band_index)
        if not new.any():
            return new, driven
        level = new
        driven = LateTracker(level, decay, delay).run(smoothed)
    return level, driven


def late_levels(power: np.ndarray, driven: np.ndarray, band_index: np.ndarray) -> np.ndarray:
    """Per-bin late level `c` of one channel: power and drive are (frames, bins)."""
    levels = np.zeros(int(band_index.max()) + 1 if band_index.size else 0)
    for band in range(levels.size):
        members = band_index == band
        observed = power[:, members].sum(axis=1, dtype=np.float64)
        predicted = driven[:, members].sum(axis=1, dtype=np.float64)
        active = predicted > _ACTIVE_BELOW_PEAK * max(float(predicted.max(initial=0.0)), 1e-30)
        if int(active.sum()) < _MIN_FRAMES:
            continue
        ratio = observed[active] / predicted[active]
        low, middle = np.percentile(ratio, [_LOW_PERCENTILE, 50.0])
        if low <= _MAX_LOW_TO_MEDIAN * middle:
            levels[band] = low
    return levels[band_index].astype(np.float32)
