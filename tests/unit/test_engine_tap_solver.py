"""Known answers for the echo fit's least squares, its remembered dry estimates and the
FFT-partitioned inverse filter.

The design matrix is built transposed in one float32 pass (built as float64 columns, joined
and cast, it cost as much as the Gram matrix); these pin it to its definition, and check the
fit still recovers known taps.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from deecho.engine import echo_filter
from deecho.engine.echo_filter import MIX, ChannelModel, EchoInverse, TapRun
from deecho.engine.echo_fit import _dry, _DryEstimates
from deecho.engine.tap_solver import _source_signal, _weighted_regressors, solve_taps


@pytest.mark.parametrize("sources", [[MIX], [0], [1], [0, 1]])
def test_weighted_regressors_hold_each_delayed_sample_times_its_row_weight(
    sources: list[int],
) -> None:
    rng = np.random.default_rng(3)
    estimate = rng.standard_normal((2, 3000))
    layout = [(40, 3), (90, 5)]
    rows = slice(500, 700)
    root = rng.random(200).astype(np.float32) + 0.5
    heard = [_source_signal(estimate, source) for source in sources]
    regressors_by_tap = _weighted_regressors(heard, layout, rows, root)
    expected = np.empty((regressors_by_tap.shape[1], regressors_by_tap.shape[0]), np.float32)
    column = 0
    for source in sources:
        signal = estimate.mean(axis=0) if source == MIX else estimate[source]
        for lag, length in layout:
            for tap in range(length):
                delayed = signal[rows.start - lag - tap : rows.stop - lag - tap]
                expected[:, column] = delayed.astype(np.float32) * root
                column += 1
    assert column == regressors_by_tap.shape[0]
    np.testing.assert_array_equal(regressors_by_tap, expected.T)


def test_solve_taps_recovers_a_known_filtered_echo() -> None:
    rng = np.random.default_rng(4)
    dry = rng.standard_normal((1, 40000))
    wet = dry.copy()
    wet[0, 100:] += 0.5 * dry[0, :-100]
    wet[0, 101:] += 0.25 * dry[0, :-101]
    layout = [(98, 5)]  # lags 98..102
    taps = solve_taps(0, layout, [wet], [dry], [0], [dry], span=400)
    np.testing.assert_allclose(taps, [0.0, 0.0, 0.5, 0.25, 0.0], atol=0.01)


def test_dry_estimates_are_remembered_for_the_latest_and_the_kept_model() -> None:
    rng = np.random.default_rng(5)
    signals = [rng.standard_normal((2, 5000)), rng.standard_normal((2, 4000))]
    kept = [(TapRun(0, 300, (0.5,)),), (TapRun(1, 450, (0.3, 0.1)),)]
    others = [[(TapRun(0, 200 + step, (0.2,)),), ()] for step in range(3)]
    dry_of = _DryEstimates(signals)
    dry_of.keep(kept)
    first = dry_of(kept)
    for expected, found in zip(_dry(kept, signals), first, strict=True):
        np.testing.assert_array_equal(found, expected)
    for models in others:
        assert dry_of(models) is dry_of(models)  # the latest is not filtered again
    assert dry_of(kept) is first  # kept through the others
    latest = dry_of(others[-1])
    dry_of(others[0])
    assert dry_of(others[-1]) is not latest  # only the latest unkept one is remembered
    for expected, found in zip(_dry(others[-1], signals), latest, strict=True):
        np.testing.assert_array_equal(found, expected)


def _random_model(rng: np.random.Generator, source: int, lag: int, repeats: int) -> ChannelModel:
    return tuple(
        TapRun(source, lag * k - 5, tuple(rng.standard_normal(20) * 0.3 / (20 * k)))
        for k in range(1, repeats + 1)
    )


@pytest.mark.parametrize("sources", [(0, 1), (MIX, MIX)])
def test_partitioned_inverse_gives_the_direct_inverse_also_in_chunks(
    sources: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(6)
    models = [_random_model(rng, sources[0], 3000, 6), _random_model(rng, sources[1], 3000, 5)]
    models[1] += (TapRun(sources[1], 7000, (0.2,)),)
    wet = rng.standard_normal((2, 60000))
    monkeypatch.setattr(echo_filter, "PARTITIONED_MIN_TAPS", 10**9)
    direct = EchoInverse(models, 2)
    assert direct.partitions is None
    expected = direct.process(wet)
    monkeypatch.undo()
    whole = EchoInverse(models, 2)
    assert whole.partitions is not None  # 120 taps, shortest lag 2995
    np.testing.assert_allclose(whole.process(wet), expected, rtol=0, atol=1e-12)
    chunked = EchoInverse(models, 2)
    cuts = [0, 1, 2500, 2995, 20000, 60000]
    parts = [chunked.process(wet[:, start:stop]) for start, stop in itertools.pairwise(cuts)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), expected, rtol=0, atol=1e-12)
