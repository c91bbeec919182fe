"""Least-squares fit of the echo model, at the lags the cepstral search found.

Given a dry estimate x^ (first from the cepstral families, then from the previous fit), each
channel's echo is a linear function of delayed x^ samples, so its taps are a linear least-
squares problem: regress y_c on x^_s[n - lag] over the tap runs. Both sides are first whitened
by one fixed LPC filter (an LTI filter commutes with the echo model), so a source's own spectral
colour does not leak into the echo taps. Fitting only at lags where the cepstrum showed a peak
keeps a dry recording untouched, and a couple of rounds (refit on the refined x^) remove the
bias of the first dry estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.lib.stride_tricks import sliding_window_view

from deecho.engine.fir import fir_filter

from .cepstrum import averaged_cepstrum, window_length
from .comb_filter import EchoFamily
from .echo_filter import MIX, ChannelModel, EchoInverse, TapRun
from .echo_search import MIN_DELAY_S

FIT_ROUNDS = 3
MAX_MULTIPLES = 8
MAX_TRAIN_S = 4.0
LPC_ORDER = 24
MAX_ROWS = 120_000
ROW_CHUNK = 8192
RIDGE = 1e-3
LATER_HALF_WIDTH = 2  # taps either side of 2D, 3D, ...: integer delays barely spread
FIRST_MARGIN = 2
TRAIN_MIN_FEEDBACK = 0.05
# A fitted run is kept when its taps add up to this much, or one tap is this large.
KEEP_MIN_SUM = 0.08
KEEP_MIN_PEAK = 0.08
PRUNE_AFTER_ROUND = 0
SHARP_HALF_WIDTH = 8
# A fitted model that makes the dry estimate much louder than the input is unstable or wrong.
MAX_GROWTH = 2.0


@dataclass(frozen=True)
class BaseLag:
    lag: int
    half: int
    train: bool  # a feedback train: taps at the multiples of the lag too


def fit_echo_models(
    excerpts: Sequence[np.ndarray],
    sample_rate: int,
    families: Sequence[Sequence[EchoFamily]],
    other_families: Sequence[EchoFamily],
    cross_channel: bool,
) -> list[ChannelModel]:
    """Per-channel echo models fitted on (channels, n) excerpts; () for a channel: no echo.

    `families` are each channel's cepstral families (the first dry estimate); their lags and
    those of `other_families` (e.g. found in the mono mix) are where taps are fitted.
    """
    channels = excerpts[0].shape[0]
    shortest = min(excerpt.shape[-1] for excerpt in excerpts)
    max_lag = int(min(MAX_TRAIN_S * sample_rate, shortest // 3))
    bases = _base_lags([*families, other_families])
    layout = _tap_layout(bases, max_lag)
    if not layout:
        return [() for _ in range(channels)]
    initial = [
        _family_model(channel, channel_families, max_lag)
        for channel, channel_families in enumerate(families)
    ]
    signals = [np.asarray(excerpt, dtype=np.float64) for excerpt in excerpts]
    whitener = _Whitener(signals, sample_rate)
    observed = [whitener(signal) for signal in signals]
    # Channels whose echoes differ (ping-pong) hear echoes of the mix; regressing on the mix
    # rather than on each channel keeps the fit well-posed when the channels are alike.
    sources = [[MIX] if cross_channel else [channel] for channel in range(channels)]
    dry = _whitened_dry(initial, signals, whitener)
    if dry is None:  # the cepstral families alone were unstable: start from the input
        initial = [() for _ in range(channels)]
        dry = observed
    # First round: regress the input on the delayed first dry estimate (pseudo-linear).
    models = [
        _runs(_solve(channel, layout, observed, dry, sources[channel]), layout, sources[channel])
        for channel in range(channels)
    ]
    # Gauss-Newton steps on the whitened dry estimate: d(dry)/d(tap j) is the dry estimate
    # itself run through the inverse once more, delayed by j.
    for round_number in range(FIT_ROUNDS):
        pair = _gauss_newton_signals(models, signals, whitener)
        if pair is None:
            break
        dry, again = pair
        models = [
            _add(
                models[channel],
                _runs(
                    _solve(channel, layout, dry, again, sources[channel]), layout, sources[channel]
                ),
            )
            for channel in range(channels)
        ]
        if round_number == PRUNE_AFTER_ROUND:
            # Runs the fit leaves near zero were the source's own structure, not an echo:
            # drop them, so that a dry recording is left alone and the taps stay few.
            layout = _heard_runs(layout, models)
            if not layout:
                return [() for _ in range(channels)]
            models = [_runs_on(model, layout) for model in models]
    models = _refit_per_channel(models, layout, signals, whitener, sources)
    if not _is_sane(models, signals, channels):
        return [() for _ in range(channels)]
    sharp = all(base.half <= SHARP_HALF_WIDTH for base in bases)
    if not cross_channel and sharp and any(initial) and _is_sane(initial, signals, channels):
        # The least-squares fit can be pulled by a source's own long correlations (sustained
        # chords); the cepstrum is not. For plain delays (sharp peaks, each channel alike,
        # where the cepstral family is a complete model) keep whichever model leaves less
        # echo in the cepstrum.
        fitted_left = _cepstral_echo_left(models, signals, bases, sample_rate)
        initial_left = _cepstral_echo_left(initial, signals, bases, sample_rate)
        if initial_left < fitted_left:
            return initial
    return models


def _cepstral_echo_left(
    models: Sequence[ChannelModel], signals: list[np.ndarray], bases: list[BaseLag], rate: int
) -> float:
    """Cepstral mass still at the echo lags (and their first multiples) after cancelling."""
    dry = _dry(models, signals)
    lag_min = round(MIN_DELAY_S * rate)
    longest = max(signal.shape[-1] for signal in signals)
    window = window_length(rate, longest)
    left = 0.0
    views = [[d[channel] for d in dry] for channel in range(dry[0].shape[0])]
    if len(views) > 1:
        views.append([d.mean(axis=0) for d in dry])  # ping-pong echoes show in the mix too
    for view in views:
        cepstrum = averaged_cepstrum(view, window, lag_min, rate)
        if cepstrum is None:
            continue
        for base in bases:
            for multiple in range(1, 4):
                centre = multiple * base.lag
                reach = base.half + 2
                if centre + reach >= len(cepstrum.values):
                    break
                left += abs(float(np.sum(cepstrum.values[centre - reach : centre + reach + 1])))
    return left


def _refit_per_channel(
    models: list[ChannelModel],
    layout: list[tuple[int, int]],
    signals: list[np.ndarray],
    whitener: _Whitener,
    sources: list[list[int]],
) -> list[ChannelModel]:
    """Drop, per channel, the runs it does not hear as a positive echo, and refit once.

    In ping-pong each channel hears only every other repeat; taps fitted at the others pick
    up the music's own long correlations (sustained chords) instead.
    """
    pair = _gauss_newton_signals(models, signals, whitener)
    if pair is None:
        return models
    dry, again = pair
    refitted: list[ChannelModel] = []
    for channel, model in enumerate(models):
        own = [(lag, length) for lag, length in layout if _heard_runs([(lag, length)], [model])]
        kept = _runs_on(model, own)
        if not own:
            refitted.append(())
            continue
        step = _runs(_solve(channel, own, dry, again, sources[channel]), own, sources[channel])
        refitted.append(_add(kept, step))
    return refitted


def _gauss_newton_signals(
    models: Sequence[ChannelModel], signals: list[np.ndarray], whitener: _Whitener
) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """Whitened dry estimate, and the same run through the inverse once more."""
    raw = _dry(models, signals)
    if not all(_bounded(dry, signal) for dry, signal in zip(raw, signals, strict=True)):
        return None
    again = _dry(models, raw)
    if not all(np.all(np.isfinite(signal)) for signal in again):
        return None
    return [whitener(signal) for signal in raw], [whitener(signal) for signal in again]


def _dry(models: Sequence[ChannelModel], signals: list[np.ndarray]) -> list[np.ndarray]:
    return [EchoInverse(models, signal.shape[0]).process(signal) for signal in signals]


def _runs_on(model: ChannelModel, layout: list[tuple[int, int]]) -> ChannelModel:
    kept = set(layout)
    return tuple(run for run in model if (run.lag, len(run.kernel)) in kept)


def _add(model: ChannelModel, step: ChannelModel) -> ChannelModel:
    return tuple(
        TapRun(
            run.source,
            run.lag,
            tuple(float(a + b) for a, b in zip(run.kernel, delta.kernel, strict=True)),
        )
        for run, delta in zip(model, step, strict=True)
    )


def _heard_runs(layout: list[tuple[int, int]], models: list[ChannelModel]) -> list[tuple[int, int]]:
    """Runs some channel hears as a real echo: a clearly positive repeat.

    Delay units, reflections and ping-pong all repeat the sound with positive gain (the echo
    model is FIR in the dry signal, so no alternating inverse series appears); a run whose
    taps net out small or negative was fitting the source's own structure.
    """
    kept = []
    for lag, length in layout:
        heard = []
        for model in models:
            kernel = sum(
                (np.asarray(run.kernel) for run in model if run.lag == lag), np.zeros(length)
            )
            heard.append(
                float(np.sum(kernel)) >= KEEP_MIN_SUM or float(np.max(kernel)) >= KEEP_MIN_PEAK
            )
        if any(heard):
            kept.append((lag, length))
    return kept


def _base_lags(families: Sequence[Sequence[EchoFamily]]) -> list[BaseLag]:
    found = sorted(
        (family.lag, family.half_width, abs(family.feedback) >= TRAIN_MIN_FEEDBACK)
        for fams in families
        for family in fams
    )
    merged: list[BaseLag] = []
    for lag, half, train in found:
        if merged and lag - merged[-1].lag <= 3:
            last = merged[-1]
            half = max(last.half, half, lag - last.lag)
            merged[-1] = BaseLag(last.lag, half, last.train or train)
        else:
            merged.append(BaseLag(lag, half, train))
    return merged


def _tap_layout(bases: list[BaseLag], max_lag: int) -> list[tuple[int, int]]:
    """Contiguous (first lag, length) runs covering each base lag and its multiples."""
    intervals: list[tuple[int, int]] = []
    for base in bases:
        for multiple in range(1, (MAX_MULTIPLES if base.train else 1) + 1):
            centre = multiple * base.lag
            if multiple == 1:
                # a lowpassed reflection rings on after its peak: give the tail more taps
                low, high = centre - base.half - FIRST_MARGIN, centre + 2 * base.half + FIRST_MARGIN
            else:
                # the cepstral lag may be a sample off: the k-th repeat drifts k samples
                low, high = (
                    centre - LATER_HALF_WIDTH - multiple,
                    centre + LATER_HALF_WIDTH + multiple,
                )
            if high > max_lag:
                break
            intervals.append((max(low, 1), high))
    intervals.sort()
    runs: list[tuple[int, int]] = []
    for low, high in intervals:
        if runs and low <= runs[-1][0] + runs[-1][1]:
            first, length = runs[-1]
            runs[-1] = (first, max(first + length, high + 1) - first)
        else:
            runs.append((low, high - low + 1))
    return runs


def _family_model(channel: int, families: Sequence[EchoFamily], max_lag: int) -> ChannelModel:
    """Expand cepstral families (feedback combs) into FIR taps at D, 2D, ... of the dry signal.

    H - 1 = (alpha + beta(z)) z^-D / (1 - alpha z^-D): the k-th repeat is alpha^(k-1) times
    the first. Each family is expanded on its own; their products are left to the fit.
    """
    runs: list[TapRun] = []
    for family in families:
        first = np.asarray(family.kernel, dtype=np.float64)
        first[family.half_width] += family.feedback
        for multiple in range(1, MAX_MULTIPLES + 1):
            lag = multiple * family.lag - family.half_width
            scale = family.feedback ** (multiple - 1)
            if lag + len(first) > max_lag or (multiple > 1 and abs(scale) < 1e-3):
                break
            runs.append(TapRun(source=channel, lag=lag, kernel=tuple(scale * first)))
    return tuple(runs)


class _Whitener:
    """LPC prediction-error filter of the mono mix: LTI, so it commutes with the echo model."""

    def __init__(self, signals: list[np.ndarray], sample_rate: int) -> None:
        self.prediction_error = _lpc_whitener(signals)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        return fir_filter(self.prediction_error, signal, axis=-1)


def _whitened_dry(
    models: Sequence[ChannelModel], signals: list[np.ndarray], whitener: _Whitener
) -> list[np.ndarray] | None:
    whitened = []
    for dry, signal in zip(_dry(models, signals), signals, strict=True):
        if not _bounded(dry, signal):
            return None
        whitened.append(whitener(dry))
    return whitened


def _solve(
    channel: int,
    layout: list[tuple[int, int]],
    targets: list[np.ndarray],
    regressors: list[np.ndarray],
    sources: list[int],
) -> np.ndarray:
    """Least-squares taps: targets[channel] ~ sum over (source, lag) of regressors delayed."""
    taps = sum(length for _, length in layout) * len(sources)
    gram = np.zeros((taps, taps))
    moment = np.zeros(taps)
    first_row = layout[-1][0] + layout[-1][1]
    row_budget = MAX_ROWS // max(len(targets), 1)
    for target, estimate in zip(targets, regressors, strict=True):
        for rows in _row_chunks(first_row, target.shape[-1], row_budget):
            design = _design(estimate, sources, layout, rows)
            gram += design.T @ design
            moment += design.T @ target[channel, rows].astype(np.float32)
    ridge = RIDGE * float(np.trace(gram)) / max(taps, 1) + 1e-12
    return np.asarray(scipy.linalg.solve(gram + ridge * np.eye(taps), moment, assume_a="pos"))


def _runs(solution: np.ndarray, layout: list[tuple[int, int]], sources: list[int]) -> ChannelModel:
    runs: list[TapRun] = []
    offset = 0
    for source in sources:
        for lag, length in layout:
            kernel = solution[offset : offset + length]
            offset += length
            runs.append(TapRun(source=source, lag=lag, kernel=tuple(float(k) for k in kernel)))
    return tuple(runs)


def _row_chunks(first: int, stop: int, budget: int) -> list[slice]:
    """Row ranges to fit on: evenly spread chunks, at most `budget` rows in all."""
    available = stop - first
    if available <= 0:
        return []
    count = max(1, min(available // ROW_CHUNK, budget // ROW_CHUNK))
    if count * ROW_CHUNK >= available:
        return [slice(first, stop)]
    starts = np.linspace(first, stop - ROW_CHUNK, count).astype(int)
    return [slice(int(start), int(start) + ROW_CHUNK) for start in starts]


def _design(
    estimate: np.ndarray, sources: list[int], layout: list[tuple[int, int]], rows: slice
) -> np.ndarray:
    """Regressors: column (source, lag) holds estimate[source, n - lag] for each row n."""
    assert rows.start is not None and rows.stop is not None
    columns: list[np.ndarray] = []
    for source in sources:
        for lag, length in layout:
            low = rows.start - lag - length + 1
            span = slice(low, rows.stop - lag)
            segment = estimate[:, span].mean(axis=0) if source == MIX else estimate[source, span]
            columns.append(sliding_window_view(segment, length)[:, ::-1])
    # float32 halves the cost of the Gram matrix; the taps need ~1e-3 accuracy, not 1e-15
    return np.concatenate(columns, axis=1).astype(np.float32)


def _lpc_whitener(signals: list[np.ndarray]) -> np.ndarray:
    """Prediction-error filter A(z) of the mono mix (Levinson on its autocorrelation)."""
    correlation = np.zeros(LPC_ORDER + 1)
    for signal in signals:
        mono = signal.mean(axis=0)
        spectrum = np.fft.rfft(mono, n=2 * len(mono))
        correlation += np.fft.irfft(np.abs(spectrum) ** 2)[: LPC_ORDER + 1]
    if correlation[0] <= 0:
        return np.array([1.0])
    correlation[0] *= 1.0 + 1e-6  # white-noise correction keeps the filter well-conditioned
    coefficients = scipy.linalg.solve_toeplitz(correlation[:-1], correlation[1:])
    return np.concatenate([[1.0], -coefficients])


def _is_sane(models: list[ChannelModel], signals: list[np.ndarray], channels: int) -> bool:
    return all(
        _bounded(EchoInverse(models, channels).process(signal), signal) for signal in signals
    )


def _bounded(dry: np.ndarray, signal: np.ndarray) -> bool:
    """Finite, and not much louder than the input (an unstable inverse grows without end)."""
    if not np.all(np.isfinite(dry)):
        return False
    return float(np.sum(dry**2)) <= MAX_GROWTH * float(np.sum(signal**2)) + 1e-12
