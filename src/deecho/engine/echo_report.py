"""Turn fitted echo taps back into what a user reads: delays, gains, feedback per channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .echo_filter import ChannelModel
from .report import Echo

# A repeat quieter than this (about -26 dB) is not reported.
REPORT_MIN_GAIN = 0.05
SAME_DELAY_MS = 0.1
SAME_GAIN = 0.05


@dataclass
class _Train:
    lag: float
    gains: dict[int, float]  # repeat number -> gain


def describe_echoes(models: Sequence[ChannelModel], sample_rate: int) -> list[Echo]:
    """Echoes per channel; ones every channel has alike are reported once (channel None)."""
    per_channel = [_channel_echoes(model, sample_rate) for model in models]
    if len(per_channel) == 1:
        return per_channel[0]
    echoes: list[Echo] = []
    for echo in per_channel[0]:
        twins = [_twin(echo, others) for others in per_channel[1:]]
        if all(twin is not None for twin in twins):
            for others, twin in zip(per_channel[1:], twins, strict=True):
                others.remove(twin)  # type: ignore[arg-type]
            echoes.append(Echo(echo.delay_ms, echo.gain, echo.feedback, None))
        else:
            echoes.append(Echo(echo.delay_ms, echo.gain, echo.feedback, 0))
    for channel, others in enumerate(per_channel[1:], start=1):
        echoes.extend(Echo(e.delay_ms, e.gain, e.feedback, channel) for e in others)
    return sorted(echoes, key=lambda echo: (echo.delay_ms, echo.channel or 0))


def _channel_echoes(model: ChannelModel, sample_rate: int) -> list[Echo]:
    repeats = _repeats(model)
    trains: list[_Train] = []
    for lag, gain in repeats:
        train = next((t for t in trains if _multiple(lag, t.lag) is not None), None)
        if train is None:
            trains.append(_Train(lag, {1: gain}))
        else:
            number = _multiple(lag, train.lag)
            assert number is not None
            train.gains[number] = train.gains.get(number, 0.0) + gain
    echoes = []
    for train in trains:
        first = train.gains[1]
        feedback = _feedback(train.gains)
        echoes.append(Echo(1000.0 * train.lag / sample_rate, first, feedback, None))
    return echoes


def _feedback(gains: dict[int, float]) -> float:
    """Least-squares ratio between consecutive repeats (0 for a single reflection)."""
    pairs = [(gains[n], gains[n + 1]) for n in gains if n + 1 in gains]
    if pairs:
        return float(sum(a * b for a, b in pairs) / sum(a * a for a, _ in pairs))
    later = sorted(number for number in gains if number > 1)
    if not later:
        return 0.0
    ratio = gains[later[0]] / gains[1]
    return float(np.sign(ratio) * abs(ratio) ** (1.0 / (later[0] - 1)))


def _repeats(model: ChannelModel) -> list[tuple[float, float]]:
    """(lag, gain) of every run (all sources summed by lag) loud enough to report."""
    by_lag: dict[int, list[np.ndarray]] = {}
    for run in model:
        by_lag.setdefault(run.lag, []).append(np.asarray(run.kernel))
    found: list[tuple[float, float]] = []
    for lag, kernels in sorted(by_lag.items()):
        kernel = np.sum(kernels, axis=0)
        for offset, gain in _peaks(kernel):
            found.append((float(lag + offset), gain))
    return found


def _peaks(kernel: np.ndarray) -> list[tuple[int, float]]:
    """A run is one repeat, at its largest tap.

    Its gain is what the taps around that peak add up to when the peak dominates (a plain
    delay: the other taps are fitting noise), else what the whole run adds up to (a lowpassed
    reflection spreads over many taps).
    """
    total = float(np.sum(kernel))
    centre = int(np.argmax(np.abs(kernel)))
    near = float(np.sum(kernel[max(centre - 2, 0) : centre + 3]))
    gain = near if abs(kernel[centre]) >= 0.5 * abs(total) else total
    if abs(gain) < REPORT_MIN_GAIN:
        return []
    return [(centre, gain)]


def _multiple(lag: float, base: float) -> int | None:
    number = round(lag / base)
    if number >= 1 and abs(lag - number * base) <= 3 * number:
        return number
    return None


def _twin(echo: Echo, others: list[Echo]) -> Echo | None:
    for other in others:
        if (
            abs(other.delay_ms - echo.delay_ms) <= SAME_DELAY_MS
            and abs(other.gain - echo.gain) <= SAME_GAIN
        ):
            return other
    return None
