"""One job on any backend: the path every face takes (`deecho process`, the workspace, batch).

1. prep the input (trim, normalize) into a float WAV;
2. hand it to the backend, watch the task, download its no_echo audio;
3. measure where that result sits against the prepped input (offset and drift,
   always: see `deecho.backends.align`) and refuse it when it is not the audio sent;
4. write `no_echo` on the prepped input's timeline (its length, rate and channels),
   and `echo = prepped input − no_echo` sample for sample, atomically, streaming.

The local engine is one backend among others: it removes the asked echo and
reverb amounts itself (`honours_amounts`); a remote service removes all it can,
and its result is blended here, `(1 − a) · input + a · result`.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deecho import engine
from deecho.audio.io import AudioWriter, iter_blocks, opened
from deecho.audio.prep import apply_prep
from deecho.backends.align import (
    Alignment,
    aligned_blocks,
    measure_alignment,
    on_input_timeline,
)
from deecho.backends.base import Backend, Cancelled, JobStatus, Submission, TaskLedger, TaskState
from deecho.errors import CancelledError, TaskFailedError, TaskGoneError
from deecho.kinds import JobState
from deecho.pipeline import (
    BLOCK_FRAMES,
    ProcessRequest,
    ProcessResult,
    check_outputs,
    plan_file_prep,
)

__all__ = ["JobStatus", "OnStatus", "run_job"]

OnStatus = Callable[[JobStatus], None]

#: Seconds from the start measured for the RT60 figures of a remote result's report.
RT60_EXCERPT_S = 30.0
#: Shares of the whole job: prep, the backend's task, the download, then aligning and writing.
_PREP_END = 0.05
_TASK_END = 0.85
_DOWNLOAD_END = 0.9


@dataclass(frozen=True)
class _Prepped:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    start_s: float
    gain_db: float


def _checked(cancelled: Cancelled | None) -> None:
    if cancelled is not None and cancelled():
        raise CancelledError("cancelled; nothing was written")


def _prepare(request: ProcessRequest, target: Path) -> _Prepped:
    """The prepped input as a float WAV, keeping the plan's start and gain for the report."""
    with opened(request.input) as reader:
        info = reader.info
        plan = plan_file_prep(reader, request.prep)
        blocks = iter_blocks(reader, plan.start_frame, plan.stop_frame, BLOCK_FRAMES)
        with AudioWriter(target, info.sample_rate, info.channels, overwrite=True) as writer:
            for block in apply_prep(blocks, plan, info.sample_rate, info.channels):
                writer.write(block)
    return _Prepped(
        path=target,
        sample_rate=info.sample_rate,
        channels=info.channels,
        frames=writer.frames_written,
        start_s=plan.start_frame / info.sample_rate,
        gain_db=plan.gain_db,
    )


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


class _Watch:
    """Turns the backend's looks at its task into the job's statuses."""

    def __init__(self, task: Submission, on_status: OnStatus) -> None:
        self.task = task
        self.on_status = on_status
        self.began = time.monotonic()
        self.clock = _StageClock()
        self.fraction = _PREP_END

    def report(self, state: JobState, stage: str = "", eta_s: float | None = None) -> None:
        self.on_status(
            JobStatus(
                state,
                self.task.task_id,
                eta_s=eta_s,
                fraction=self.fraction,
                stage=stage,
                credit_estimate=self.task.credit_estimate,
            )
        )

    def seen(self, state: TaskState) -> None:
        eta = None
        if state.progress is not None:
            eta = self.clock.eta_s(state.progress, state.message)
            task_share = state.progress
        elif self.task.eta_s:
            # With an eta the bar creeps towards it; without one (-1) it only names the stage.
            elapsed = time.monotonic() - self.began
            task_share = min(0.95, elapsed / self.task.eta_s)
            eta = max(0.0, self.task.eta_s - elapsed)
        else:
            task_share = 0.0
        self.fraction = max(self.fraction, _PREP_END + (_TASK_END - _PREP_END) * task_share)
        status = _job_state(state.status)
        self.report(status, state.message or status.lower().replace("_", " "), eta)


def _job_state(status: str) -> JobState:
    """A task's status as a job state; a status we do not know counts as running."""
    try:
        return JobState(status)
    except ValueError:
        return JobState.IN_PROGRESS


def _blend(request: ProcessRequest, backend: Backend) -> float:
    """How much of a remote result to take: a service removes echo and reverb together,
    so the larger of the two amounts asked stands for both."""
    if backend.honours_amounts:
        return 1.0
    removal = request.removal
    return max(removal.echo, removal.reverb)


def _writer(request: ProcessRequest, path: Path, rate: int, channels: int) -> AudioWriter:
    return AudioWriter(
        path, rate, channels, bit_depth=request.bit_depth, overwrite=request.overwrite
    )


@dataclass
class _Written:
    clipped_samples: int
    rt60_before_s: float | None
    rt60_after_s: float | None


def _rt60(audio: list[np.ndarray], rate: int) -> float | None:
    if not audio:
        return None
    return engine.estimate_rt60(np.concatenate(audio, axis=1), rate)


def _write(
    request: ProcessRequest,
    prepped: _Prepped,
    result: Path,
    alignment: Alignment,
    blend: float,
    cancelled: Cancelled | None,
    progress: Callable[[float], None],
    measure_rt60: bool = True,
) -> _Written:
    """`measure_rt60`: keep excerpts for the report's RT60 figures (a backend whose
    report has them, the local engine's, needs none)."""
    rate, channels, frames = prepped.sample_rate, prepped.channels, prepped.frames
    excerpt_frames = int(RT60_EXCERPT_S * rate) if measure_rt60 else 0
    before: list[np.ndarray] = []
    after: list[np.ndarray] = []
    cleaned_blocks: Iterator[np.ndarray] = aligned_blocks(result, alignment, channels, BLOCK_FRAMES)
    with opened(prepped.path) as source, contextlib.ExitStack() as stack:
        no_echo_out = stack.enter_context(_writer(request, request.output_path, rate, channels))
        echo_out = None
        if request.echo_output is not None:
            echo_out = stack.enter_context(_writer(request, request.echo_output, rate, channels))
        written = 0
        for original in iter_blocks(source, 0, frames, BLOCK_FRAMES):
            _checked(cancelled)
            cleaned = next(cleaned_blocks)[:, : original.shape[1]]
            no_echo = cleaned if blend == 1.0 else (1.0 - blend) * original + blend * cleaned
            no_echo_out.write(no_echo)
            if echo_out is not None:
                echo_out.write(original - no_echo)
            if written < excerpt_frames:
                before.append(original[:, : excerpt_frames - written])
                after.append(no_echo[:, : excerpt_frames - written])
            written += original.shape[1]
            progress(written / max(1, frames))
        # Measured before the outputs are renamed into place, so that a job whose outputs
        # are there has nothing left to do but say so (a batch killed then redoes little).
        rt60_before, rt60_after = _rt60(before, rate), _rt60(after, rate)
    clipped = no_echo_out.clipped_samples + (echo_out.clipped_samples if echo_out else 0)
    return _Written(clipped, rt60_before, rt60_after)


def _submitted(
    request: ProcessRequest,
    backend: Backend,
    audio: Path,
    cancelled: Cancelled | None,
    ledger: TaskLedger | None,
) -> Submission:
    """The task the ledger kept for this job, else a new one (kept before it is watched)."""
    if ledger is not None:
        earlier = ledger.recall()
        if earlier is not None:
            return earlier
    amounts = request.removal if backend.honours_amounts else None
    task = backend.submit(audio, cancelled, amounts)
    if ledger is not None:
        ledger.remember(task)
    return task


def _watched(
    backend: Backend,
    task: Submission,
    watch: _Watch,
    cancelled: Cancelled | None,
    ledger: TaskLedger | None,
) -> TaskState:
    try:
        return backend.wait(task, watch.seen, cancelled)
    except (TaskFailedError, TaskGoneError):
        # The task is over without a result: a later try (--retry-failed) submits anew.
        # Anything else (a timeout, 429s, an unreachable service) may still end well,
        # so the task is kept for the next try to watch.
        if ledger is not None:
            ledger.forget()
        raise


def _run(
    request: ProcessRequest,
    backend: Backend,
    on_status: OnStatus,
    cancelled: Cancelled | None,
    workdir: Path,
    ledger: TaskLedger | None = None,
) -> ProcessResult:
    began = time.perf_counter()
    on_status(JobStatus(JobState.PREPARING, fraction=0.0, stage="prepping the input"))
    prepped = _prepare(request, workdir / "prepped.wav")
    _checked(cancelled)
    on_status(JobStatus(JobState.UPLOADING, fraction=_PREP_END, stage="handing over the audio"))
    task = _submitted(request, backend, prepped.path, cancelled, ledger)
    watch = _Watch(task, on_status)
    watch.report(_job_state(task.status), task.message, task.eta_s)
    state = _watched(backend, task, watch, cancelled, ledger)
    watch.fraction = _TASK_END
    watch.report(JobState.DOWNLOADING, "fetching no_echo")

    def downloaded(share: float) -> None:
        watch.fraction = _TASK_END + (_DOWNLOAD_END - _TASK_END) * share
        watch.report(JobState.DOWNLOADING, "fetching no_echo")

    result = backend.download(state, workdir, cancelled, downloaded)
    _checked(cancelled)
    watch.fraction = _DOWNLOAD_END
    watch.report(JobState.ALIGNING, "measuring where the result sits")
    if backend.on_input_timeline:
        alignment = on_input_timeline(prepped.path, result)
    else:
        alignment = measure_alignment(prepped.path, result)
    blend = _blend(request, backend)

    def writing(share: float) -> None:
        watch.fraction = _DOWNLOAD_END + (1.0 - _DOWNLOAD_END) * share
        watch.report(JobState.ALIGNING, "writing no_echo and echo")

    written = _write(
        request, prepped, result, alignment, blend, cancelled, writing, state.report is None
    )
    report = state.report or engine.EngineReport(
        echoes=[],
        rt60_before_s=written.rt60_before_s,
        rt60_after_s=written.rt60_after_s,
        amounts=engine.Amounts.both(blend),
    )
    watch.fraction = 1.0
    watch.report(JobState.COMPLETED, "done")
    return ProcessResult(
        input=request.input,
        output=request.output_path,
        echo_output=request.echo_output,
        duration_s=prepped.frames / prepped.sample_rate,
        sample_rate=prepped.sample_rate,
        channels=prepped.channels,
        start_s=prepped.start_s,
        gain_db=prepped.gain_db,
        report=report,
        seconds=time.perf_counter() - began,
        backend=backend.name,
        clipped_samples=written.clipped_samples,
        alignment=alignment.to_dict(),
    )


def run_job(
    request: ProcessRequest,
    backend: Backend,
    on_status: OnStatus | None = None,
    cancelled: Cancelled | None = None,
    workdir: Path | None = None,
    ledger: TaskLedger | None = None,
) -> ProcessResult:
    """Remove echo from one file on `backend` and write aligned `no_echo` (and `echo`).

    `workdir` keeps the job's own files (`prepped.wav`, the downloaded result); without
    it they go to a scratch folder removed at the end. `ledger` keeps the backend's task
    for this job: run again, the job watches that task rather than submitting anew.
    Raises a DeechoError with one line (ResultMismatchError when the result is not the
    audio sent); nothing is written then.
    """
    check_outputs(request)
    report = on_status or (lambda status: None)
    if workdir is not None:
        return _run(request, backend, report, cancelled, workdir, ledger)
    with tempfile.TemporaryDirectory(prefix="deecho-job-") as folder:
        return _run(request, backend, report, cancelled, Path(folder), ledger)
