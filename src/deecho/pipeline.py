"""The path of one file through the local engine: scan, prep, analyze, cancel, write.

Everything streams in blocks, so memory stays flat however long the file is:
1. scan the asked range (silence bounds, then levels) to plan the prep;
2. read a bounded set of excerpts, prep them, and let the engine analyze them;
3. read the range again, prep it, run the echo canceller, and write `no_echo`
   (and `echo` = prepped input − `no_echo`, sample for sample) atomically.

The local backend and the server's workers call `process_file`; the faces (CLI,
workspace) run a job through `deecho.backends.job.run_job`, whose local backend it is.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deecho import engine
from deecho.audio.io import AudioReader, AudioWriter, iter_blocks, opened
from deecho.audio.prep import PrepOptions, PrepPlan, apply_prep, plan_prep
from deecho.errors import CancelledError, OutputError, UsageError

__all__ = [
    "ProcessRequest",
    "ProcessResult",
    "Progress",
    "StageTimes",
    "default_output_path",
    "prepare_file",
    "process_file",
]

#: Frames per block read from disk: about 3 s at 44.1 kHz.
BLOCK_FRAMES = 1 << 17

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]


def default_output_path(input_path: Path, part: str = "no_echo") -> Path:
    """`take.wav` -> `take.no_echo.wav`, beside the input."""
    return input_path.with_name(f"{input_path.stem}.{part}.wav")


@dataclass(frozen=True)
class ProcessRequest:
    """One job: which file, where the results go, and how to prep and process it."""

    input: Path
    output: Path | None = None
    echo_output: Path | None = None
    prep: PrepOptions = field(default_factory=PrepOptions)
    strength: float = 1.0
    """Echo and reverb amounts at once; `amounts`, when given, says them apart."""
    overwrite: bool = False
    bit_depth: str = "float"
    amounts: engine.Amounts | None = None
    room: engine.Room | None = None
    """An echo model fitted on many recordings of one place (`deecho batch --same-room`),
    taken instead of searching this file alone."""

    @property
    def output_path(self) -> Path:
        return self.output or default_output_path(self.input)

    @property
    def removal(self) -> engine.Amounts:
        """How much echo and how much reverb to remove."""
        return self.amounts or engine.Amounts.both(self.strength)


@dataclass(frozen=True)
class StageTimes:
    """Where one file's processing went: what a server's eta learns its rates from.

    The analysis reads a bounded set of excerpts (engine.excerpt_spans) while the
    streamed pass (the scan, cancelling, writing) reads every sample, so their costs
    grow differently with a file's length and are timed apart. Samples are counted
    per channel: a second of 44.1 kHz stereo costs what 88,200 samples cost. Times are
    the process's CPU seconds, not wall time: on a machine shared with other work a
    stage's wall time says as much about the neighbours as about the stage. (So they
    mean what they say where one file runs per process, as in a server's worker.)
    """

    analysis_cpu_s: float
    analysed_samples: int
    streaming_cpu_s: float
    streamed_samples: int


@dataclass
class ProcessResult:
    """What a job did, as the CLI's `--json` prints it."""

    input: Path
    output: Path
    echo_output: Path | None
    duration_s: float
    sample_rate: int
    channels: int
    start_s: float
    gain_db: float
    report: engine.EngineReport
    seconds: float
    backend: str = "local"
    clipped_samples: int = 0
    alignment: dict[str, Any] | None = None
    """How the backend's result was lined up on the prepped input (see backends.align)."""
    stages: StageTimes | None = None
    """The local engine's stage timings (not in to_dict: a server's cost model reads them)."""

    def to_dict(self) -> dict[str, Any]:
        report = self.report.to_dict()
        return {
            "input": str(self.input),
            "output": str(self.output),
            "echo_output": str(self.echo_output) if self.echo_output else None,
            "backend": self.backend,
            "duration_s": round(self.duration_s, 6),
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "start_s": round(self.start_s, 6),
            "gain_db": round(self.gain_db, 3),
            "strength": report.get("strength"),
            "echo_amount": report.get("echo_amount"),
            "reverb_amount": report.get("reverb_amount"),
            "echoes": report.get("echoes", []),
            "rt60_before_s": report.get("rt60_before_s"),
            "rt60_after_s": report.get("rt60_after_s"),
            "reverb_removed_db": report.get("reverb_removed_db"),
            "drr_before_db": report.get("drr_before_db"),
            "drr_after_db": report.get("drr_after_db"),
            "alignment": self.alignment,
            "clipped_samples": self.clipped_samples,
            "seconds": round(self.seconds, 3),
        }


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_outputs(request: ProcessRequest) -> None:
    """Refuse, before any work, outputs that would clobber the input or each other."""
    output = request.output_path
    targets = [output] + ([request.echo_output] if request.echo_output else [])
    for target in targets:
        if _same_file(request.input, target):
            raise OutputError(f"{target}: is the input file; deecho never writes over its input")
        try:
            exists = target.exists()
        except OSError as exc:  # e.g. a name longer than the file system allows
            raise OutputError(
                f"{target}: cannot use this name ({exc.strerror}); choose another"
            ) from exc
        if exists and not request.overwrite:
            raise OutputError(f"{target}: already exists; pass --force to replace it")
    if request.echo_output and _same_file(output, request.echo_output):
        raise UsageError("--echo-output must differ from the no_echo output")
    if not 0.0 <= request.strength <= 1.0:
        raise UsageError(f"--strength {request.strength}: use a value from 0 to 1")


def _checked(cancelled: Cancelled | None) -> None:
    if cancelled is not None and cancelled():
        raise CancelledError("cancelled; nothing was written")


def plan_file_prep(reader: AudioReader, options: PrepOptions) -> PrepPlan:
    """Scan the file block by block and decide what prep does."""
    info = reader.info

    def source(start: int, stop: int | None) -> Iterator[np.ndarray]:
        return iter_blocks(reader, start, stop, BLOCK_FRAMES)

    # PyAV's length is an estimate from the container; 0 makes plan_prep count it.
    exact = info.frames if reader.frames_exact else 0
    return plan_prep(source, exact, info.sample_rate, info.channels, options)


def _prepped_blocks(
    reader: AudioReader, plan: PrepPlan, start: int, stop: int
) -> Iterator[np.ndarray]:
    info = reader.info
    raw = iter_blocks(reader, start, stop, BLOCK_FRAMES)
    return apply_prep(raw, plan, info.sample_rate, info.channels)


def _analyze(
    reader: AudioReader,
    plan: PrepPlan,
    amounts: engine.Amounts,
    room: engine.Room | None = None,
) -> engine.EchoPlan:
    info = reader.info
    if room is not None and room.sample_rate != info.sample_rate:
        raise UsageError(
            f"the audio is at {info.sample_rate} Hz, but the room was fitted at"
            f" {room.sample_rate} Hz; clean it in a batch of its own rate"
        )
    excerpts = []
    for span_start, span_stop in engine.excerpt_spans(plan.frames, info.sample_rate):
        blocks = list(
            _prepped_blocks(
                reader, plan, plan.start_frame + span_start, plan.start_frame + span_stop
            )
        )
        if blocks:
            excerpts.append(np.concatenate(blocks, axis=1))
    return engine.analyze(excerpts, info.sample_rate, amounts, room=room)


class _Tee:
    """Remembers the blocks fed to the canceller, to subtract its output from them."""

    def __init__(self, blocks: Iterable[np.ndarray]) -> None:
        self._blocks = blocks
        self._queue: deque[np.ndarray] = deque()
        self.frames = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self._blocks:
            self._queue.append(block)
            self.frames += block.shape[1]
            yield block

    def take(self, frames: int) -> np.ndarray:
        parts = []
        while frames > 0:
            head = self._queue[0]
            if head.shape[1] <= frames:
                parts.append(self._queue.popleft())
                frames -= head.shape[1]
            else:
                parts.append(head[:, :frames])
                self._queue[0] = head[:, frames:]
                frames = 0
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def _writer_for(request: ProcessRequest, path: Path, rate: int, channels: int) -> AudioWriter:
    return AudioWriter(
        path, rate, channels, bit_depth=request.bit_depth, overwrite=request.overwrite
    )


def process_file(
    request: ProcessRequest,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> ProcessResult:
    """Remove echo from one file with the local engine; see the module doc for the steps."""
    began = time.perf_counter()
    cpu_began = time.process_time()
    report_progress = progress or (lambda fraction, stage: None)
    check_outputs(request)
    output = request.output_path
    with opened(request.input) as reader:
        info = reader.info
        report_progress(0.0, "scanning")
        plan = plan_file_prep(reader, request.prep)
        scanned = time.process_time()
        _checked(cancelled)
        report_progress(0.05, "analyzing")
        echo_plan = _analyze(reader, plan, request.removal, request.room)
        analysed = time.process_time()
        _checked(cancelled)
        canceller = engine.EchoCanceller(echo_plan, info.sample_rate, info.channels)
        with contextlib.ExitStack() as stack:
            no_echo_out = stack.enter_context(
                _writer_for(request, output, info.sample_rate, info.channels)
            )
            echo_out = None
            if request.echo_output is not None:
                echo_out = stack.enter_context(
                    _writer_for(request, request.echo_output, info.sample_rate, info.channels)
                )
            prepped = _Tee(_prepped_blocks(reader, plan, plan.start_frame, plan.stop_frame))
            for no_echo in canceller.run(prepped):
                _checked(cancelled)
                original = prepped.take(no_echo.shape[1])
                no_echo_out.write(no_echo)
                if echo_out is not None:
                    echo_out.write(original - no_echo)
                done = no_echo_out.frames_written / max(1, plan.frames)
                report_progress(0.1 + 0.9 * min(1.0, done), "removing echo")
        frames = no_echo_out.frames_written
    finished = time.process_time()
    report_progress(1.0, "done")
    spans = engine.excerpt_spans(plan.frames, info.sample_rate)
    stages = StageTimes(
        analysis_cpu_s=analysed - scanned,
        analysed_samples=sum(stop - start for start, stop in spans) * info.channels,
        streaming_cpu_s=(scanned - cpu_began) + (finished - analysed),
        streamed_samples=frames * info.channels,
    )
    return ProcessResult(
        input=request.input,
        output=output,
        echo_output=request.echo_output,
        duration_s=frames / info.sample_rate,
        sample_rate=info.sample_rate,
        channels=info.channels,
        start_s=plan.start_frame / info.sample_rate,
        gain_db=plan.gain_db,
        report=echo_plan.report,
        seconds=time.perf_counter() - began,
        clipped_samples=no_echo_out.clipped_samples + (echo_out.clipped_samples if echo_out else 0),
        stages=stages,
    )


def prepare_file(input_path: Path, output_path: Path, prep: PrepOptions) -> Path:
    """Write the prepped input as a float WAV (what a remote backend receives)."""
    with opened(input_path) as reader:
        info = reader.info
        plan = plan_file_prep(reader, prep)
        with AudioWriter(output_path, info.sample_rate, info.channels, overwrite=True) as writer:
            for block in _prepped_blocks(reader, plan, plan.start_frame, plan.stop_frame):
                writer.write(block)
    return output_path
