"""Streaming late-reverb suppression: a ReverbPlan (engine/reverb.py) run over audio blocks.

One STFT frame at a time in batches: the plan's per-bin prediction filters run across
frames, capped by the room's late level as the analysis capped them, then the spectral
late gain on a voice, and overlap-add back to samples. Memory is bounded for any block
size, and the output is time-aligned with the input, sample for sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import scipy.fft

from deecho.engine.late_gain import LateGain, late_scale
from deecho.engine.late_level import LateTracker, smoothed_power
from deecho.engine.reverb import (
    Material,
    ReverbPlan,
    cap_prediction,
    dying_bins,
    room_power_decay,
)
from deecho.engine.wpe import HOPS_PER_FRAME, window

__all__ = ["ReverbSuppressor"]

_BATCH_FRAMES = 256  # frames processed at once: bounds memory for any block size


class ReverbSuppressor:
    """Streams audio through the plan's prediction filters (STFT, per-bin FIR, overlap-add)."""

    def __init__(self, plan: ReverbPlan, sample_rate: int, channels: int) -> None:
        if sample_rate != plan.sample_rate:
            raise ValueError(f"plan made for {plan.sample_rate} Hz, audio is {sample_rate} Hz")
        if plan.channels not in (1, channels):
            raise ValueError(f"plan made for {plan.channels} channels, audio has {channels}")
        self._plan = plan
        self._channels = channels
        self._filters = np.broadcast_to(
            plan.filters, (channels, *plan.filters.shape[1:])
        ) * np.complex64(plan.strength)
        self.window = window(plan.frame_size)
        self._synthesis = (self.window / np.float32(1.5)).astype(np.float32)
        self._history_frames = plan.delay + plan.taps - 1
        self._bins = plan.filters.shape[2]
        self._late_level = np.broadcast_to(plan.late_level, (channels, self._bins))[:, None, :]
        self.room_power_decay = room_power_decay(plan.hop / plan.sample_rate, plan.rt60_s)
        self._tracker = self._new_tracker()
        self._late_gain = LateGain(late_scale(plan.late_share, self.room_power_decay))

    def _new_tracker(self) -> LateTracker:
        return LateTracker(self._late_level[:, 0, :], self.room_power_decay, self._plan.delay)

    def run(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        size, hop = self._plan.frame_size, self._plan.hop
        lead = size - hop  # zeros before the first sample, as in the whole-array STFT
        pending = np.zeros((self._channels, lead), dtype=np.float32)
        history = np.zeros((self._channels, self._history_frames, self._bins), dtype=np.complex64)
        tail = np.zeros((self._channels, size - hop), dtype=np.float32)
        to_skip = lead  # output samples that only cover the leading zeros
        self._tracker = self._new_tracker()
        self._late_gain = LateGain(self._late_gain.scale)
        total = 0
        emitted = 0
        for block in blocks:
            block = np.atleast_2d(np.asarray(block, dtype=np.float32))
            total += block.shape[1]
            pending = np.concatenate([pending, block], axis=1)
            ready, pending, history, tail = self._process(pending, history, tail)
            ready, to_skip = ready[:, to_skip:], max(0, to_skip - ready.shape[1])
            if ready.shape[1]:
                emitted += ready.shape[1]
                yield ready
        # Flush: zeros until every input sample has been covered by all its frames.
        pending = np.concatenate(
            [pending, np.zeros((self._channels, size), dtype=np.float32)], axis=1
        )
        ready, _, _, _ = self._process(pending, history, tail)
        ready = ready[:, to_skip:]
        rest = total - emitted
        if rest > 0:
            yield ready[:, :rest]

    def _process(
        self, pending: np.ndarray, history: np.ndarray, tail: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Run the complete frames in `pending`: (finished output, new pending, history, tail)."""
        size, hop = self._plan.frame_size, self._plan.hop
        count = (pending.shape[1] - size) // hop + 1 if pending.shape[1] >= size else 0
        outputs = []
        for first in range(0, count, _BATCH_FRAMES):
            n = min(_BATCH_FRAMES, count - first)
            framed = np.lib.stride_tricks.sliding_window_view(pending, size, axis=1)
            framed = framed[:, first * hop :: hop][:, :n]
            spectra = scipy.fft.rfft(framed * self.window, axis=-1)
            low = spectra[:, :, : self._bins]
            known = np.concatenate([history, low], axis=1)
            prediction = np.zeros_like(low)
            term = np.empty_like(low)
            base = self._history_frames
            for k in range(self._plan.taps):
                lag = self._plan.delay + k
                past = known[:, base - lag : base - lag + n]
                np.multiply(self._filters[:, k][:, None, :], past, out=term)
                prediction += term
            power = smoothed_power(low)
            driven = self._tracker.run(power)
            if self._plan.material.tails_only:
                delay = self._plan.delay
                earlier = smoothed_power(known[:, base - delay : base - delay + n])
                prediction *= dying_bins(power, earlier, self.room_power_decay**delay)
            late = self._late_level * driven
            dry = low - cap_prediction(prediction, late, self._plan.material.cap)
            history = known[:, -self._history_frames :]
            if self._plan.material is Material.SPEECH:
                # strength 1 applies the gain, 0 leaves the bin as it is
                dry *= self._late_gain.run(dry) ** np.float32(self._plan.strength)
            spectra[:, :, : self._bins] = dry
            frames = scipy.fft.irfft(spectra, n=size, axis=-1)
            frames *= self._synthesis
            out = np.zeros((self._channels, (n - 1) * hop + size), dtype=np.float32)
            out[:, : size - hop] += tail
            for part in range(HOPS_PER_FRAME):  # overlap-add, one quarter-frame at a time
                piece = frames[:, :, part * hop : (part + 1) * hop].reshape(self._channels, n * hop)
                out[:, part * hop : part * hop + n * hop] += piece
            outputs.append(out[:, : n * hop])
            tail = out[:, n * hop :]
        ready = (
            np.concatenate(outputs, axis=1)
            if outputs
            else np.zeros((self._channels, 0), dtype=np.float32)
        )
        return ready, pending[:, count * hop :], history, tail
