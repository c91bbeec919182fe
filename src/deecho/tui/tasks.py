"""What the workspace's workers run: thin calls into the core, and no Textual.

Each function here blocks (reads files, runs the engine, waits on a backend)
and is meant to run in a worker thread; it reports through plain callbacks and
checks `cancelled()` between blocks. The screens never call the core directly.
Nothing here imports an HTTP library: remote backends are objects built by
`deecho.backends` and handed in.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deecho.audio.io import iter_blocks, opened, read_audio, write_audio
from deecho.audio.loudness import LevelMeter, Levels
from deecho.audio.prep import PrepOptions, apply_prep
from deecho.backends.base import Backend
from deecho.errors import CancelledError, TaskFailedError
from deecho.overview import Overview, overview_of_array, overview_of_blocks, read_frames_for
from deecho.tui.keep import export_report, keep_result, unique_beside

__all__ = [
    "AUDIO_EXTENSIONS",
    "CompareOutcome",
    "JobStatus",
    "PrepPreview",
    "compare_job",
    "export_report",
    "keep_result",
    "measure_file",
    "preview_prep",
    "run_backend",
    "unique_beside",
]

#: What the file picker shows: everything `deecho.audio.io` can open.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".aiff", ".aif", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".mov"}
)

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]


def _check(cancelled: Cancelled | None) -> None:
    if cancelled is not None and cancelled():
        raise CancelledError("cancelled; nothing was written")


def measure_file(path: Path, cancelled: Cancelled | None = None) -> Levels:
    """Peak, RMS and integrated loudness of a whole file, in one streaming pass."""
    with opened(path) as reader:
        info = reader.info
        meter = LevelMeter(info.sample_rate, info.channels)
        for block in iter_blocks(reader, 0, None, read_frames_for(info.frames)):
            _check(cancelled)
            meter.add(block)
    return meter.levels()


@dataclass(frozen=True, eq=False)
class PrepPreview:
    """What prep would send: the kept range of the original, its gain, levels and waveform."""

    options: PrepOptions
    start_s: float
    end_s: float
    gain_db: float
    limited: bool
    levels: Levels
    overview: Overview


def preview_prep(
    path: Path, options: PrepOptions, cancelled: Cancelled | None = None
) -> PrepPreview:
    """Plan prep on the file and measure its result as it streams by; nothing is written."""
    from deecho.pipeline import plan_file_prep  # the pipeline's own planning, so they agree

    with opened(path) as reader:
        info = reader.info
        plan = plan_file_prep(reader, options)
        meter = LevelMeter(info.sample_rate, info.channels)
        raw = iter_blocks(reader, plan.start_frame, plan.stop_frame, read_frames_for(plan.frames))

        def measured() -> Iterator[np.ndarray]:
            for block in apply_prep(raw, plan, info.sample_rate, info.channels):
                meter.add(block)
                yield block

        overview = overview_of_blocks(
            measured(), info.sample_rate, info.channels, plan.frames, cancelled=cancelled
        )
    if overview is None:
        raise CancelledError("prep preview cancelled")
    rate = info.sample_rate
    return PrepPreview(
        options=options,
        start_s=plan.start_frame / rate,
        end_s=plan.stop_frame / rate,
        gain_db=plan.gain_db,
        limited=plan.limit,
        levels=meter.levels(),
        overview=overview,
    )


@dataclass(frozen=True)
class JobStatus:
    """One step of a job as the watch panel shows it."""

    status: str
    task_id: str | None = None
    eta_s: float | None = None
    fraction: float | None = None
    stage: str = ""
    credit_estimate: float | None = None


def run_backend(
    backend: Backend,
    original: Path,
    options: PrepOptions,
    workdir: Path,
    on_status: Callable[[JobStatus], None],
    cancelled: Cancelled,
) -> tuple[Path, Path]:
    """Prep the original into the job folder and send it; return (prepped, raw no_echo).

    Every backend is watched the same way, as a task: submit, poll its status, then
    download, so the watch panel shows a task id, the statuses, progress and ETA
    whether the engine runs here, on a deecho server or at MusicGPT.
    """
    from deecho.pipeline import prepare_file

    on_status(JobStatus("PREPARING", stage="prepping the input"))
    prepped = prepare_file(original, workdir / "prepped.wav", options)
    _check(cancelled)
    return prepped, _watch_task(backend, prepped, workdir, on_status, cancelled)


def _sleep(seconds: float, cancelled: Cancelled) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _check(cancelled)
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


class _StageClock:
    """ETA from progress made within the current stage.

    Stages run at different speeds (the engine's analysis reports nothing until it
    is done), so extrapolating from the whole job's fraction would promise too soon.
    """

    def __init__(self) -> None:
        self._began: dict[str, tuple[float, float]] = {}

    def eta_s(self, fraction: float | None, stage: str) -> float | None:
        if fraction is None:
            return None
        now = time.monotonic()
        began_at, began_fraction = self._began.setdefault(stage, (now, fraction))
        done_in_stage = fraction - began_fraction
        if done_in_stage <= 0.02 or now <= began_at:
            return None
        return (now - began_at) * (1.0 - fraction) / done_in_stage


def _watch_task(
    backend: Backend,
    prepped: Path,
    workdir: Path,
    on_status: Callable[[JobStatus], None],
    cancelled: Cancelled,
) -> Path:
    """submit, poll status and download, reporting each step.

    The local engine is asked often (it is in this process); a remote backend gently,
    1 s growing to 5 s, on top of the client's own pacing of the vendor's rate limits.
    """
    local = backend.name == "local"
    on_status(JobStatus("UPLOADING", stage="handing over the prepped audio"))
    task = backend.submit(prepped, cancelled)
    credit = task.credit_estimate if not local else None
    on_status(
        JobStatus(
            task.status, task.task_id, eta_s=task.eta_s, stage=task.message, credit_estimate=credit
        )
    )
    clock = _StageClock()
    delay = 0.25 if local else 1.0
    while True:
        try:
            _sleep(delay, cancelled)
        except CancelledError:
            if local:
                raise CancelledError("cancelled; nothing was kept") from None
            raise CancelledError(
                f"stopped watching task {task.task_id}; the backend may still finish it"
            ) from None
        state = backend.status(task.task_id)
        on_status(
            JobStatus(
                state.status,
                task.task_id,
                eta_s=clock.eta_s(state.progress, state.message),
                fraction=state.progress,
                stage=state.message,
                credit_estimate=credit,
            )
        )
        if state.done:
            break
        delay = delay if local else min(delay * 1.5, 5.0)
    if not state.succeeded:
        reason = state.message or "no reason given"
        raise TaskFailedError(
            f"task {task.task_id} ended {state.status}: {reason}; check the input and send it again"
        )
    on_status(
        JobStatus("DOWNLOADING", task.task_id, stage="fetching no_echo", credit_estimate=credit)
    )
    return Path(backend.download(state, workdir, cancelled))


@dataclass(frozen=True, eq=False)
class CompareOutcome:
    """A result aligned on what was sent, with what the compare view draws."""

    prepped: Path
    no_echo: Path
    echo: Path
    raw_no_echo: Path
    """What the backend sent back, before alignment (the report compares against it)."""
    sample_rate: int
    metrics: dict[str, Any]
    residual_db: list[float]
    residual_window_s: float
    original_overview: Overview
    no_echo_overview: Overview
    echo_overview: Overview
    report_json: Path
    extra: dict[str, Any] = field(default_factory=dict)


def _residual_series(result: Any) -> tuple[list[float], float]:
    """The per-window residual in dB (NaN where the original is quiet) and the window length."""
    from deecho.compare import metrics

    over_time = getattr(result, "over_time", None)
    if over_time is None:
        return [], metrics.WINDOW_S
    return [float(value) for value in np.asarray(over_time.residual_db).ravel()], metrics.WINDOW_S


def compare_job(
    prepped: Path, no_echo_raw: Path, workdir: Path, cancelled: Cancelled | None = None
) -> CompareOutcome:
    """Align the backend's result on the prepped input; write the aligned no_echo and echo."""
    from deecho.compare import align_and_compare

    original, rate = read_audio(prepped)
    processed, processed_rate = read_audio(no_echo_raw)
    _check(cancelled)
    result = align_and_compare(original, rate, processed, processed_rate)
    _check(cancelled)
    aligned = np.asarray(result.aligned, dtype=np.float32)
    if aligned.shape[0] != original.shape[0]:  # a mono result against a stereo original
        aligned = np.broadcast_to(aligned[:1], original.shape).copy()
    aligned = aligned[:, : original.shape[1]]
    if aligned.shape[1] < original.shape[1]:
        aligned = np.pad(aligned, ((0, 0), (0, original.shape[1] - aligned.shape[1])))
    echo = original - aligned  # the removed part, sample for sample
    # Names of our own: the backend's download (often no_echo.wav) stays as it came.
    no_echo_path = workdir / "aligned.no_echo.wav"
    echo_path = workdir / "aligned.echo.wav"
    write_audio(no_echo_path, aligned, rate, overwrite=True)
    write_audio(echo_path, echo, rate, overwrite=True)
    metrics = result.to_dict()
    residual, window = _residual_series(result)
    report_json = workdir / "compare.json"
    report_json.write_text(json.dumps(metrics, indent=2, default=str))
    return CompareOutcome(
        prepped=prepped,
        no_echo=no_echo_path,
        echo=echo_path,
        raw_no_echo=no_echo_raw,
        sample_rate=rate,
        metrics=metrics,
        residual_db=residual,
        residual_window_s=window,
        original_overview=overview_of_array(original, rate),
        no_echo_overview=overview_of_array(aligned, rate),
        echo_overview=overview_of_array(echo, rate),
        report_json=report_json,
    )


#: What the history keeps beside the compare metrics, to redraw a past job.
_HISTORY_ONLY = frozenset({"raw_no_echo", "residual_db_over_time", "residual_window_s"})


def reopen_compare(
    prepped: Path, no_echo: Path, echo: Path, metrics: dict[str, Any], workdir: Path
) -> CompareOutcome:
    """Rebuild a past job's compare view from the files its folder kept."""
    original, rate = read_audio(prepped)
    aligned, _ = read_audio(no_echo)
    removed, _ = read_audio(echo)
    residual = metrics.get("residual_db_over_time") or metrics.get("residual_over_time_db") or []
    raw = metrics.get("raw_no_echo")
    shown = {key: value for key, value in metrics.items() if key not in _HISTORY_ONLY}
    return CompareOutcome(
        prepped=prepped,
        no_echo=no_echo,
        echo=echo,
        raw_no_echo=Path(raw) if raw else no_echo,
        sample_rate=rate,
        metrics=shown,
        residual_db=[math.nan if value is None else float(value) for value in residual],
        residual_window_s=float(metrics.get("residual_window_s", 0.4) or 0.4),
        original_overview=overview_of_array(original, rate),
        no_echo_overview=overview_of_array(aligned, rate),
        echo_overview=overview_of_array(removed, rate),
        report_json=workdir / "compare.json",
    )
