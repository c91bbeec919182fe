"""Least-squares fit of the echo model, at the lags the cepstral search found.

Given a dry estimate x^ (first from the cepstral families, then from the previous fit), each
channel's echo is a linear function of delayed x^ samples, so its taps are a linear least-
squares problem: regress y_c on x^_s[n - lag] over the tap runs (tap_solver.py). Both sides
are whitened and each sample weighted by the dry signal's inverse local power (whitening.py),
so neither a source's spectral colour nor its loud sustained notes leak into the echo taps.
Fitting only at lags where the cepstrum showed a peak keeps a dry recording untouched, and a
few Gauss-Newton rounds (refit on the refined x^) remove the bias of the first dry estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from .cepstrum import averaged_cepstrum, window_length
from .comb_filter import EchoFamily
from .echo_filter import MIX, ChannelModel, EchoInverse, TapRun
from .echo_search import MIN_DELAY_S
from .parallel import each_at_once
from .tap_solver import Layout, runs_from_solution, solve_taps
from .whitening import Whitener, power_span

FIT_ROUNDS = 3
MAX_MULTIPLES = 8
MAX_TRAIN_S = 4.0
LATER_HALF_WIDTH = 2  # taps either side of 2D, 3D, ...: integer delays barely spread
FIRST_MARGIN = 2
TRAIN_MIN_FEEDBACK = 0.05
# A fitted run is kept when its taps add up to this much, or one tap is this large.
KEEP_MIN_SUM = 0.08
KEEP_MIN_PEAK = 0.08
# A later repeat of a feedback train (2D, 3D, ...) decays geometrically below those floors
# and still matters (0.1 left in is a -20 dB echo): it is kept when its peak tap is at least
# this large and stands this many times above the rest of its kernel.
REPEAT_MIN_PEAK = 0.025
REPEAT_MIN_CONTRAST = 4.0
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
    `cross_channel`: each channel hears echoes of the mix (ping-pong), not of itself.
    """
    channels = excerpts[0].shape[0]
    shortest = min(excerpt.shape[-1] for excerpt in excerpts)
    max_lag = int(min(MAX_TRAIN_S * sample_rate, shortest // 3))
    bases = _base_lags([*families, other_families])
    layout = _tap_layout(bases, max_lag)
    if not layout:
        return [() for _ in range(channels)]
    repeats = _repeat_runs(layout, bases)  # pruning only drops runs: this stays true
    initial = [
        _family_model(channel, channel_families, max_lag)
        for channel, channel_families in enumerate(families)
    ]
    signals = [np.asarray(excerpt, dtype=np.float64) for excerpt in excerpts]
    dry_of = _DryEstimates(signals)
    whitener = Whitener(signals)
    span = power_span(sample_rate)
    observed = [whitener(signal) for signal in signals]
    sources = [[MIX] if cross_channel else [channel] for channel in range(channels)]

    def fit(
        channel: int,
        runs: Layout,
        targets: list[np.ndarray],
        regressors: list[np.ndarray],
        dry: list[np.ndarray],
    ) -> ChannelModel:
        solution = solve_taps(channel, runs, targets, regressors, sources[channel], dry, span)
        return runs_from_solution(solution, runs, sources[channel])

    dry_of.keep(initial)  # asked for again at the end
    dry = _whitened_dry(initial, dry_of, whitener)
    if dry is None:  # the cepstral families alone were unstable: start from the input
        initial = [() for _ in range(channels)]
        dry = observed
    # First round: regress the input on the delayed first dry estimate (pseudo-linear).
    # Each channel's taps are fitted in a thread of its own (engine/parallel.py).
    models = each_at_once(
        partial(fit, runs=layout, targets=observed, regressors=dry, dry=dry), range(channels)
    )
    # Gauss-Newton steps on the whitened dry estimate: d(dry)/d(tap j) is the dry estimate
    # itself run through the inverse once more, delayed by j.
    for round_number in range(FIT_ROUNDS):
        pair = _gauss_newton_signals(models, dry_of, whitener)
        if pair is None:
            break
        dry, again = pair
        steps = each_at_once(
            partial(fit, runs=layout, targets=dry, regressors=again, dry=dry), range(channels)
        )
        models = [_add(model, step) for model, step in zip(models, steps, strict=True)]
        if round_number == PRUNE_AFTER_ROUND:
            # Runs the fit leaves near zero were the source's own structure, not an echo:
            # drop them, so that a dry recording is left alone and the taps stay few.
            layout = _heard_runs(layout, models, repeats)
            if not layout:
                return [() for _ in range(channels)]
            models = [_runs_on(model, layout) for model in models]
    pair = _gauss_newton_signals(models, dry_of, whitener)
    if pair is not None:
        # Drop, per channel, the runs it does not hear as a positive echo, and refit once:
        # in ping-pong each channel hears only every other repeat, and taps fitted at the
        # others pick up the music's own long correlations instead.
        dry, again = pair
        for channel, model in enumerate(models):
            own = [run for run in layout if _heard_runs([run], [model], repeats)]
            models[channel] = (
                _add(_runs_on(model, own), fit(channel, own, dry, again, dry)) if own else ()
            )
    if not _is_sane(models, dry_of):
        return [() for _ in range(channels)]
    sharp = all(base.half <= SHARP_HALF_WIDTH for base in bases)
    if not cross_channel and sharp and any(initial) and _is_sane(initial, dry_of):
        # The least-squares fit can be pulled by a source's own long correlations (sustained
        # chords); the cepstrum is not. For plain delays (sharp peaks, each channel alike,
        # where the cepstral family is a complete model) keep whichever model leaves less
        # echo in the cepstrum.
        fitted_left = _cepstral_echo_left(models, dry_of, bases, sample_rate)
        initial_left = _cepstral_echo_left(initial, dry_of, bases, sample_rate)
        if initial_left < fitted_left:
            return initial
    return models


def _cepstral_echo_left(
    models: Sequence[ChannelModel], dry_of: _DryEstimates, bases: list[BaseLag], rate: int
) -> float:
    """Cepstral mass still at the echo lags (and their first multiples) after cancelling."""
    dry = dry_of(models)
    lag_min = round(MIN_DELAY_S * rate)
    longest = max(signal.shape[-1] for signal in dry_of.signals)
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


def _gauss_newton_signals(
    models: Sequence[ChannelModel], dry_of: _DryEstimates, whitener: Whitener
) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """Whitened dry estimate, and the same run through the inverse once more."""
    raw = dry_of(models)
    if not all(_bounded(dry, signal) for dry, signal in zip(raw, dry_of.signals, strict=True)):
        return None
    again = _dry(models, raw)
    if not all(np.all(np.isfinite(signal)) for signal in again):
        return None
    return [whitener(signal) for signal in raw], [whitener(signal) for signal in again]


def _dry(models: Sequence[ChannelModel], signals: list[np.ndarray]) -> list[np.ndarray]:
    return each_at_once(
        lambda signal: EchoInverse(models, signal.shape[0]).process(signal), signals
    )


class _DryEstimates:
    """The excerpts' dry estimates under a model: the latest one, and those asked to be kept.

    The fit asks for the same model's dry estimate more than once (the sanity check, then
    the cepstral comparison; the cepstral starting model at the start and again at the end),
    and each costs a pass of the inverse filter over every excerpt. Callers only read them.
    """

    def __init__(self, signals: list[np.ndarray]) -> None:
        self.signals = signals
        self.known: dict[tuple[ChannelModel, ...], list[np.ndarray]] = {}
        self.kept: set[tuple[ChannelModel, ...]] = set()

    def keep(self, models: Sequence[ChannelModel]) -> None:
        self.kept.add(tuple(models))

    def __call__(self, models: Sequence[ChannelModel]) -> list[np.ndarray]:
        key = tuple(models)
        if key not in self.known:
            for old in [old for old in self.known if old not in self.kept]:
                del self.known[old]
            self.known[key] = _dry(models, self.signals)
        return self.known[key]


def _runs_on(model: ChannelModel, layout: Layout) -> ChannelModel:
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


def _repeat_runs(layout: Layout, bases: list[BaseLag]) -> set[tuple[int, int]]:
    """The runs that hold only later repeats (2D, 3D, ...) of a feedback train."""

    def is_repeat(lag: int) -> bool:
        for other in bases:
            multiple = round(lag / other.lag)
            if other.train and multiple >= 2 and abs(lag - multiple * other.lag) <= multiple + 2:
                return True
        return False

    # a cepstral family found at 3D is that train's third repeat, not an echo of its own
    firsts = [base.lag for base in bases if not is_repeat(base.lag)]
    later = [k * base.lag for base in bases if base.train for k in range(2, MAX_MULTIPLES + 1)]
    repeats = set()
    for lag, length in layout:
        holds = [centre for centre in (*firsts, *later) if lag <= centre < lag + length]
        if holds and not any(centre in firsts for centre in holds):
            repeats.add((lag, length))
    return repeats


def _heard_runs(
    layout: Layout, models: list[ChannelModel], repeats: set[tuple[int, int]]
) -> Layout:
    """Runs some channel hears as a real echo: a clearly positive repeat.

    Delay units, reflections and ping-pong all repeat the sound with positive gain (the echo
    model is FIR in the dry signal, so no alternating inverse series appears); a run whose
    taps net out small or negative was fitting the source's own structure.
    """
    kept = []
    for lag, length in layout:
        for model in models:
            kernel = sum(
                (np.asarray(run.kernel) for run in model if run.lag == lag), np.zeros(length)
            )
            if _is_echo(kernel, (lag, length) in repeats):
                kept.append((lag, length))
                break
    return kept


def _is_echo(kernel: np.ndarray, repeat: bool) -> bool:
    peak = int(np.argmax(kernel))
    if float(np.sum(kernel)) >= KEEP_MIN_SUM or kernel[peak] >= KEEP_MIN_PEAK:
        return True
    if not repeat or kernel[peak] < REPEAT_MIN_PEAK:
        return False
    rest = np.delete(kernel, range(max(peak - 1, 0), min(peak + 2, len(kernel))))
    spread = float(np.sqrt(np.mean(rest**2))) if len(rest) else 0.0
    return bool(kernel[peak] >= REPEAT_MIN_CONTRAST * spread)


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


def _tap_layout(bases: list[BaseLag], max_lag: int) -> Layout:
    """Contiguous (first lag, length) runs covering each base lag and its multiples."""
    intervals: Layout = []
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
    runs: Layout = []
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


def _whitened_dry(
    models: Sequence[ChannelModel], dry_of: _DryEstimates, whitener: Whitener
) -> list[np.ndarray] | None:
    whitened = []
    for dry, signal in zip(dry_of(models), dry_of.signals, strict=True):
        if not _bounded(dry, signal):
            return None
        whitened.append(whitener(dry))
    return whitened


def _is_sane(models: list[ChannelModel], dry_of: _DryEstimates) -> bool:
    return all(
        _bounded(dry, signal) for dry, signal in zip(dry_of(models), dry_of.signals, strict=True)
    )


def _bounded(dry: np.ndarray, signal: np.ndarray) -> bool:
    """Finite, and not much louder than the input (an unstable inverse grows without end)."""
    if not np.all(np.isfinite(dry)):
        return False
    return float(np.sum(dry**2)) <= MAX_GROWTH * float(np.sum(signal**2)) + 1e-12
