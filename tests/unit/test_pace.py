"""The eta's cost model (server/pace.py): stage rates per channel-sample, learned and kept.

Known answers: timings made from known stage costs (CPU seconds) must give back those
costs, so a 16 kHz mono hour is predicted from rates learned on short 44.1 kHz stereo
takes. The store tests use a real SQLite file; no test reads the clock to judge a result.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from audio_fixtures import tone_burst_signal
from deecho.api.models import TaskStatus
from deecho.engine.canceller import ANALYSIS_MAX_S
from deecho.server.config import ServerConfig
from deecho.server.jobs import JobSpec, run_job
from deecho.server.pace import Line, Pace, TaskTimings
from deecho.server.state import ServerState
from deecho.server.store import TaskStore

# The made-up truth the known-answer tests feed: seconds = fixed + per sample x samples.
OTHER_S = 0.3
ANALYSIS = (0.02, 3e-7)
STREAMING = (0.004, 1.5e-7)


def _timings(seconds: float, rate: int, channels: int, slowdown: float = 1.0) -> TaskTimings:
    """What a task of this audio costs under the made-up truth, on cores `slowdown` x shared."""
    streamed = round(seconds * rate) * channels
    analysed = round(min(seconds, ANALYSIS_MAX_S) * rate) * channels
    analysis_s = ANALYSIS[0] + ANALYSIS[1] * analysed
    streaming_s = STREAMING[0] + STREAMING[1] * streamed
    cpu_s = OTHER_S + analysis_s + streaming_s
    return TaskTimings(
        total_s=cpu_s * slowdown,
        cpu_s=cpu_s,
        analysis_cpu_s=analysis_s,
        analysed_samples=analysed,
        streaming_cpu_s=streaming_s,
        streamed_samples=streamed,
        analysis_max_s=ANALYSIS_MAX_S,
    )


def _truth(seconds: float, rate: int, channels: int) -> float:
    return _timings(seconds, rate, channels).cpu_s


def test_short_stereo_takes_predict_a_mono_hour_from_the_stage_rates() -> None:
    pace = Pace()
    for seconds in [1.0, 2.0, 4.0, 8.0] * 10:
        pace.add(_timings(seconds, 44100, 2))
    assert pace.other.terms() == pytest.approx((OTHER_S, 0.0))
    assert pace.analysis.terms() == pytest.approx((ANALYSIS[0], ANALYSIS[1] * 1e6))
    assert pace.streaming.terms() == pytest.approx((STREAMING[0], STREAMING[1] * 1e6))
    # The hour: its analysis stops at the engine's cap, its streamed pass reads every sample.
    hour = pace.estimate_s(3600.0, 16000, 1, default_per_second=0.25)
    assert hour == pytest.approx(_truth(3600.0, 16000, 1))
    assert hour == pytest.approx(
        OTHER_S
        + ANALYSIS[0]
        + ANALYSIS[1] * ANALYSIS_MAX_S * 16000
        + STREAMING[0]
        + STREAMING[1] * 3600 * 16000
    )
    # Not a ratio of the short takes' seconds: that would have said about 30 times more.
    per_audio_second = _truth(8.0, 44100, 2) / 8.0
    assert per_audio_second * 3600 > 10 * hour
    # The same hour in stereo at 44.1 kHz streams 5.5 times the samples.
    stereo = pace.estimate_s(3600.0, 44100, 2, default_per_second=0.25)
    assert stereo == pytest.approx(_truth(3600.0, 44100, 2))


def test_nothing_measured_is_the_configured_guess() -> None:
    assert Pace().estimate_s(60.0, 16000, 1, default_per_second=0.25) == 15.0


def test_takes_timed_on_busy_cores_do_not_bend_the_rates() -> None:
    """Mixed takes while the cores were shared (wall = 2.5 x CPU), then one-second takes
    alone: the wall-time line through both regimes was steep and promised the hour twice
    over (bench/load.py). The CPU rates are the same in both."""
    pace = Pace()
    for seconds in [1.0, 2.0, 4.0, 8.0] * 50:
        pace.add(_timings(seconds, 16000, 1, slowdown=2.5))
    for _ in range(200):
        pace.add(_timings(1.0, 16000, 1, slowdown=1.0))
    assert pace.streaming.terms() == pytest.approx((STREAMING[0], STREAMING[1] * 1e6))
    assert pace.analysis.terms() == pytest.approx((ANALYSIS[0], ANALYSIS[1] * 1e6))
    # Short takes' waiting is a cost per task, gone once they wait no more; no long task
    # has run, so the hour is expected at its CPU time.
    assert pace.overhead_s == pytest.approx(0.0, abs=0.01)
    assert pace.slowdown == 1.0
    hour = pace.estimate_s(3600.0, 16000, 1, default_per_second=0.25)
    assert hour == pytest.approx(_truth(3600.0, 16000, 1))


def test_long_tasks_measure_the_cores_share_and_short_ones_a_wait_per_task() -> None:
    pace = Pace()
    for _ in range(20):
        pace.add(_timings(1.0, 16000, 1, slowdown=3.0))  # 0.33 s of CPU, 0.66 s of waiting
    assert pace.slowdown == 1.0
    short = _timings(1.0, 16000, 1)
    assert pace.overhead_s == pytest.approx(2.0 * short.cpu_s)
    for _ in range(30):
        pace.add(_timings(600.0, 16000, 1, slowdown=2.0))  # 2 s of CPU: a share of the cores
    assert pace.slowdown == pytest.approx(2.0)
    assert pace.overhead_s == pytest.approx(0.0, abs=0.1)
    assert pace.estimate_s(3600.0, 16000, 1, 0.25) == pytest.approx(
        2.0 * _truth(3600.0, 16000, 1), rel=0.01
    )


def test_the_servers_hand_over_time_is_a_fixed_wall_cost_that_outliers_barely_move() -> None:
    pace = Pace()
    for seconds in [1.0, 2.0, 4.0, 8.0] * 5:
        timings = _timings(seconds, 16000, 1)
        pace.add(timings, run_s=timings.total_s + 0.05)
    assert pace.overhead_s == pytest.approx(0.05)
    own = pace.estimate_s(60.0, 16000, 1, 0.25)
    assert own == pytest.approx(0.05 + _truth(60.0, 16000, 1))
    # A restarted worker's first task waits 5 s for its imports: the typical wait moves
    # one step (x 1.1), not to the mean (which would put 0.5 s on each estimate after it).
    timings = _timings(1.0, 16000, 1)
    pace.add(timings, run_s=timings.total_s + 5.0)
    assert pace.overhead_s == pytest.approx(0.055)
    pace.add(timings, run_s=timings.total_s + 0.05)
    assert pace.overhead_s == pytest.approx(0.05)


def test_takes_all_alike_fall_back_to_one_ratio_per_stage_and_survive_the_database(
    tmp_path: Path,
) -> None:
    store = TaskStore(tmp_path / "db.sqlite3")
    for _ in range(5):
        store.record_pace(_timings(1.0, 16000, 1))
    pace = store.pace()
    fixed, per_mega = pace.streaming.terms()
    assert fixed == 0.0  # lengths all alike: the two terms cannot be told apart
    assert per_mega == pytest.approx((STREAMING[0] + STREAMING[1] * 16000) / 0.016)
    # So the hour is overestimated (each second charged the one-second take's set-up), the
    # safe side for a client that polls on the eta.
    assert pace.estimate_s(3600.0, 16000, 1, 0.25) > _truth(3600.0, 16000, 1)
    assert TaskStore(tmp_path / "db.sqlite3").pace() == pace


def test_cost_growing_faster_than_the_samples_is_a_line_through_zero() -> None:
    line = Line()
    for samples in [16000.0, 32000.0, 64000.0, 128000.0]:
        line.add(samples, 2e-11 * samples * samples)  # a negative intercept if fitted freely
    fixed, per_mega = line.terms()
    assert fixed == 0.0
    assert per_mega == pytest.approx(line.xy / line.xx)
    assert per_mega > line.y / line.x  # the longest takes steer it, not the mean ratio


@pytest.mark.parametrize(
    "stored",
    [
        json.dumps({"n": 3.0, "x": 3.0, "y": 1.2, "xx": 3.0, "xy": 1.2}),  # the line of seconds
        "0.4",  # the plain ratio before that
        "{not json",
        json.dumps({"version": 2, "other": {"n": 1}}),  # damaged
    ],
)
def test_an_older_databases_pace_starts_afresh(tmp_path: Path, stored: str) -> None:
    path = tmp_path / "db.sqlite3"
    TaskStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('pace', ?)", (stored,))
    store = TaskStore(path)
    assert store.pace() == Pace()
    assert store.estimate_inputs() == (Pace(), 0.0)
    store.record_pace(_timings(2.0, 16000, 1))  # and the next finished task replaces it
    assert store.pace().other.n == 1.0


def _add(store: TaskStore, task_id: str, created_at: float, **fields: Any) -> None:
    store.add_task(
        task_id=task_id, conversion_id=f"c-{task_id}", owner="o", base_url="http://h/",
        created_at=created_at, **fields,
    )  # fmt: skip


def test_the_work_ahead_is_each_active_tasks_estimate_less_a_running_ones_time(
    tmp_path: Path,
) -> None:
    store = TaskStore(tmp_path / "db.sqlite3")
    _add(store, "a", 1.0, duration_s=60.0, estimate_s=10.0)
    _add(store, "b", 2.0, duration_s=5.0, estimate_s=2.0)
    _add(store, "c", 3.0, duration_s=5.0)  # queued by an older deecho: no estimate
    running = store.claim_next()
    assert running is not None and running.started_at is not None
    started = running.started_at
    assert store.work_ahead(now=started + 4.0) == pytest.approx(6.0 + 2.0)
    assert store.work_ahead(now=started + 60.0) == pytest.approx(2.0)  # late: it counts none
    assert store.estimate_inputs(now=started + 4.0) == (Pace(), pytest.approx(8.0))
    store.finish("a", TaskStatus.COMPLETED, "done")
    assert store.work_ahead(now=started + 4.0) == pytest.approx(2.0)


def test_queued_tasks_are_priced_at_the_pace_of_now_not_at_their_submit(tmp_path: Path) -> None:
    """200 one-second takes stored at a stale 0.05 s each, and an hour (whose analysis
    reads only its first ANALYSIS_MAX_S): the work ahead is what the truth says now."""
    store = TaskStore(tmp_path / "db.sqlite3")
    for seconds in [1.0, 2.0, 4.0, 8.0, 60.0] * 5:
        store.record_pace(_timings(seconds, 44100, 2))
    for i in range(200):
        _add(store, f"t{i}", float(i), duration_s=1.0, estimate_s=0.05, channel_samples=16e3)
    _add(store, "hour", 300.0, duration_s=3600.0, estimate_s=0.05, channel_samples=3600 * 16e3)
    truth = 200 * _truth(1.0, 16000, 1) + _truth(3600.0, 16000, 1)
    assert store.work_ahead() == pytest.approx(truth, rel=1e-6)
    assert 0.5 * truth > 201 * 0.05  # the stale estimates were far off: not what counted
    # An audio_url not yet fetched (size unknown) still counts at its estimate at submit.
    _add(store, "url", 400.0, estimate_s=0.25)
    assert store.work_ahead() == pytest.approx(truth + 0.25, rel=1e-6)


def test_a_submits_eta_is_its_own_estimate_plus_its_share_of_the_work_ahead(
    tmp_path: Path,
) -> None:
    store = TaskStore(tmp_path / "db.sqlite3")
    for seconds in [1.0, 2.0, 4.0, 8.0] * 5:
        store.record_pace(_timings(seconds, 44100, 2))
    for i in range(200):
        _add(store, f"t{i}", float(i), duration_s=1.0, estimate_s=0.5)
    config = ServerConfig(data_dir=tmp_path, workers=2)
    # Only the store and the configuration word an estimate; the rest is not reached.
    state = ServerState(config, "k", False, store, None, None, None, None)  # type: ignore[arg-type]
    eta, own = state.estimates(3600.0, 16000, 1)
    assert own == pytest.approx(_truth(3600.0, 16000, 1))
    assert eta == math.ceil(1.0 + own + 200 * 0.5 / 2)
    # An audio_url: no length yet, so the vendor's -1, and the fixed cost as its estimate.
    assert state.estimates(None) == (-1, pytest.approx(store.pace().estimate_s(0.0, 0, 0, 0.25)))


def test_a_worker_reports_its_stages_with_the_samples_each_read(tmp_path: Path) -> None:
    """The engine's timing hook on real files: a short take whole, a long one capped."""
    for name, seconds, rate, channels in [("short", 2.0, 44100, 2), ("long", 40.0, 8000, 1)]:
        take = tmp_path / f"{name}.wav"
        sf.write(take, tone_burst_signal(rate, seconds, channels).T, rate, subtype="PCM_16")
        task_dir = tmp_path / name
        task_dir.mkdir()
        spec = JobSpec(
            task_id=name, task_dir=str(task_dir), input_path=str(take), audio_url=None,
            max_duration_s=3600.0, fetch_max_bytes=1 << 20, fetch_timeout_s=5.0,
            allow_private_urls=False, allow_loopback_urls=False,
        )  # fmt: skip
        outcome = run_job(spec)
        assert outcome.status == TaskStatus.COMPLETED.value, outcome.message
        timings = outcome.timings
        assert timings is not None
        frames = round(seconds * rate)
        assert timings.streamed_samples == frames * channels
        analysed_s = min(seconds, ANALYSIS_MAX_S)
        assert timings.analysed_samples == round(analysed_s * rate) * channels
        assert timings.analysis_max_s == ANALYSIS_MAX_S
        assert timings.total_s == outcome.processing_s
        assert timings.analysis_cpu_s > 0.0 and timings.streaming_cpu_s > 0.0
        assert timings.analysis_cpu_s + timings.streaming_cpu_s <= timings.cpu_s


def test_tasks_ending_at_once_each_count(tmp_path: Path) -> None:
    """Completion threads of two server processes (two stores on one file) record at once:
    every task is learnt from, none overwrites another's (n counts the decayed tasks)."""
    import threading

    from deecho.server.pace import _RATE_DECAY as decay  # n after k tasks: sum of decay**i

    path = tmp_path / "db.sqlite3"
    stores = [TaskStore(path), TaskStore(path)]
    per_thread, threads = 50, 8

    def record(store: TaskStore) -> None:
        for _ in range(per_thread):
            store.record_pace(_timings(2.0, 16000, 1))

    runners = [threading.Thread(target=record, args=(stores[i % 2],)) for i in range(threads)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    tasks = per_thread * threads
    assert stores[0].pace().other.n == pytest.approx((1 - decay**tasks) / (1 - decay))
