"""Blind reverberation-time (RT60) estimation from free decays.

A room can only make sound die away as fast as its reverberation allows: when a
source stops, each frequency band decays at (at most) the room's rate, 60 dB per
RT60. Speech and music stop often, so we look for stretches where a band's level
falls steadily, fit the slope of each, and read the room's RT60 a little above the
middle of the distribution of those slopes (its 65th percentile): many falls start
while the source is still fading, so they read faster than the room, and the slowest
are notes ringing on their own. On the reverb bench's rooms this reads within 20 % of
Schroeder's T30 on the impulse response, where the median read up to 22 % short.

Dry material decays as fast as the source lets it (tens of milliseconds for
speech), stationary material (noise, a held tone) has no decays at all: the
first gives a short estimate, the second None. Music whose notes ring out on
their own (plucks, pads, sustained chords) gives decays of every length; when
they spread too widely to point at one room, the estimate is None rather than
a figure that describes the notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy.ndimage import uniform_filter1d

__all__ = ["RoomDecay", "decay_times", "estimate_rt60", "measure_decays"]

# Octave bands where speech and music have most of their energy.
_BAND_EDGES_HZ = (
    (177.0, 355.0),
    (355.0, 710.0),
    (710.0, 1420.0),
    (1420.0, 2840.0),
    (2840.0, 5680.0),
)
_HOP_S = 0.005  # envelope resolution
_FRAME_S = 0.02
_SMOOTH_S = 0.04
_MIN_DECAY_DB = 12.0  # a decay must fall at least this much to count
_MIN_DECAY_S = 0.06
_FIT_SKIP_DB = 2.0  # skip the rounded top of each decay
_FIT_SPAN_DB = 25.0  # fit at most this much of the decay (like T20/T30)
_FLOOR_MARGIN_DB = 6.0  # stay this far above each band's noise floor
_RISE_TOLERANCE_DB = 0.3
_MIN_DECAYS = 5  # a 1 s room with a few seconds of speech leaves only a handful
_PERCENTILE = 65.0  # above the median: syllables and hits that fade on their own pull it down
_FASTEST_PERCENTILE = 10.0
# Decays in a room cluster: the middle half of them spans at most 1.54x in the benchmark's
# speech rooms (0.4-1.0 s) and 1.4-1.8x in dry speech; notes fading on their own spread
# 1.9-4.4x. Beyond this ratio of the 75th to the 25th percentile, no room is read.
_MAX_SPREAD = 2.0


def _band_levels_db(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """(bands, frames) smoothed band levels in dB."""
    frame = round(_FRAME_S * sample_rate)
    hop = max(1, round(_HOP_S * sample_rate))
    if mono.size < frame + hop:
        return np.zeros((len(_BAND_EDGES_HZ), 0))
    n_frames = (mono.size - frame) // hop + 1
    window = np.hanning(frame + 2)[1:-1].astype(np.float32)
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    edges = [int(np.searchsorted(freqs, edge)) for band in _BAND_EDGES_HZ for edge in band]
    levels = np.empty((len(_BAND_EDGES_HZ), n_frames))
    frames_view = np.lib.stride_tricks.sliding_window_view(mono.astype(np.float32), frame)[::hop]
    chunk = 4096  # frames per FFT batch: bounded memory on long excerpts
    for first in range(0, n_frames, chunk):
        spectra = scipy.fft.rfft(frames_view[first : first + chunk] * window, axis=1)
        power = spectra.real**2 + spectra.imag**2
        for band, (lo, hi) in enumerate(zip(edges[::2], edges[1::2], strict=True)):
            levels[band, first : first + spectra.shape[0]] = power[:, lo:hi].sum(axis=1)
    smooth = max(1, round(_SMOOTH_S / _HOP_S))
    levels = uniform_filter1d(levels, smooth, axis=1, mode="nearest")
    peak = float(levels.max()) if levels.size else 0.0
    if peak <= 0.0:
        return np.full_like(levels, -np.inf)
    # Absolute floor far below the loudest band: digital silence is not "the room".
    return 10.0 * np.log10(np.maximum(levels, peak * 1e-12))


def _decays_in_band(level_db: np.ndarray) -> list[float]:
    """Decay times (s, extrapolated to 60 dB) of the steady falls in one band."""
    if level_db.size < 4 or not np.isfinite(level_db).any():
        return []
    floor = float(np.percentile(level_db, 5.0)) + _FLOOR_MARGIN_DB
    # Reverberant tails flicker (random phase of the reflections): small rises
    # inside a fall do not end it.
    falling = np.diff(level_db) < _RISE_TOLERANCE_DB
    marks = np.diff(np.concatenate([[0], falling.astype(np.int8), [0]]))
    starts = np.flatnonzero(marks == 1)
    stops = np.flatnonzero(marks == -1)  # level_db[start] .. level_db[stop] is one fall
    times: list[float] = []
    for start, stop in zip(starts, stops, strict=True):
        if stop - start >= 3:
            times.extend(_fit_decay(level_db[start : stop + 1], floor))
    return times


def _fit_decay(segment: np.ndarray, floor: float) -> list[float]:
    top = float(segment[0])
    lowest = max(top - _FIT_SKIP_DB - _FIT_SPAN_DB, floor)
    usable = (segment <= top - _FIT_SKIP_DB) & (segment >= lowest)
    idx = np.flatnonzero(usable)
    if idx.size < 3:
        return []
    span_db = float(segment[idx[0]] - segment[idx[-1]])
    duration = (idx[-1] - idx[0]) * _HOP_S
    if span_db < _MIN_DECAY_DB - _FIT_SKIP_DB or duration < _MIN_DECAY_S:
        return []
    t = idx * _HOP_S
    level = segment[idx]
    t_centered = t - t.mean()
    slope = float(np.dot(t_centered, level - level.mean()) / np.dot(t_centered, t_centered))
    if slope >= -1.0:  # dB per second
        return []
    return [-60.0 / slope]


def decay_times(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """All decay times (s) found in the audio, one per steady fall per band and channel."""
    # Channel by channel: a mix of two talkers hides each one's pauses.
    channels = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    found: list[float] = []
    for channel in channels:
        for band in _band_levels_db(channel, sample_rate):
            found.extend(_decays_in_band(band))
    return np.asarray(found, dtype=np.float64)


@dataclass(frozen=True)
class RoomDecay:
    """The decays found in some audio: the RT60 they point to, and how fast the fastest are."""

    rt60_s: float  # the 65th-percentile decay: the room's RT60 when there is a room
    fastest_s: float  # the 10th percentile: dry sources fall faster than any room lets them
    count: int
    spread: float  # 75th / 25th percentile: a room's decays cluster, notes' do not


def measure_decays(audio: np.ndarray, sample_rate: int) -> RoomDecay | None:
    """Decay statistics of (channels, n) or (n,) audio; None if too few decays to tell."""
    times = decay_times(audio, sample_rate)
    if times.size < _MIN_DECAYS:
        return None
    fastest, lower, middle, upper = np.percentile(
        times, [_FASTEST_PERCENTILE, 25.0, _PERCENTILE, 75.0]
    )
    return RoomDecay(
        rt60_s=float(middle),
        fastest_s=float(fastest),
        count=int(times.size),
        spread=float(upper / max(lower, 1e-9)),
    )


def estimate_rt60(audio: np.ndarray, sample_rate: int) -> float | None:
    """Blind RT60 (s) of (channels, n) or (n,) audio; None if the decays cannot tell."""
    decay = measure_decays(audio, sample_rate)
    if decay is None or decay.spread > _MAX_SPREAD:
        return None
    return decay.rt60_s
