"""One file through a remote backend, ending in the same files and JSON as the local engine.

1. prep the input (trim, normalize) into a float WAV in a scratch folder;
2. the backend uploads it, waits for the task and downloads the no_echo audio;
3. that result is lined up with the prepped input (codec delay removed for lossy
   results, resampled and channel-matched if need be, trimmed or padded to the
   input's length), mixed by `strength` (a remote service always removes all it
   can: `(1 - strength) * input + strength * result` gives the same control as
   the local engine), and written, with `echo = input - no_echo`, atomically.

Memory stays flat: both files are read in blocks, except a result at another
sample rate, which is resampled whole.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deecho.audio.io import AudioReader, AudioWriter, iter_blocks, opened
from deecho.audio.prep import apply_prep
from deecho.backends.align import (
    MAX_OFFSET_S,
    OFFSET_EXCERPT_S,
    aligned_blocks,
    estimate_offset,
    resample,
)
from deecho.backends.base import Backend, Cancelled, Progress
from deecho.errors import CancelledError
from deecho.pipeline import (
    BLOCK_FRAMES,
    ProcessRequest,
    ProcessResult,
    check_outputs,
    plan_file_prep,
)

__all__ = ["process_remote"]

#: Result containers that keep every sample in place (no codec delay to undo).
LOSSLESS_SUFFIXES = frozenset({".wav", ".flac", ".aiff", ".aif"})
#: Seconds from the start measured for the RT60 figures of the report.
RT60_EXCERPT_S = 30.0
#: Progress shares: prep, the backend's round trip, then aligning and writing.
_PREP_END = 0.05
_BACKEND_END = 0.9


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
    """What `deecho.pipeline.prepare_file` writes, keeping the plan's start and gain."""
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


def _rt60(audio: list[np.ndarray], rate: int) -> float | None:
    from deecho import engine

    if not audio:
        return None
    return engine.estimate_rt60(np.concatenate(audio, axis=1), rate)


def _head(path: Path, rate: int, seconds: float) -> np.ndarray | None:
    """The first `seconds` of a file at `rate`, from a freshly opened reader (an MP3
    decoder sought back to the start need not give the same samples twice)."""
    with opened(path) as reader:
        own_rate = reader.info.sample_rate
        frames = int(seconds * own_rate)
        blocks = list(iter_blocks(reader, 0, frames, BLOCK_FRAMES))
    if not blocks:
        return None
    return resample(np.concatenate(blocks, axis=1), own_rate, rate)


def _codec_offset(prepped: Path, result: Path, rate: int) -> int:
    """How many samples a lossy result starts late (its codec's delay)."""
    reference = _head(prepped, rate, OFFSET_EXCERPT_S)
    delayed = _head(result, rate, OFFSET_EXCERPT_S + MAX_OFFSET_S)
    if reference is None or delayed is None:
        return 0
    return estimate_offset(reference, delayed, rate)


@dataclass
class _Written:
    clipped_samples: int
    rt60_before_s: float | None
    rt60_after_s: float | None


def _write_aligned(
    request: ProcessRequest,
    prepped: _Prepped,
    result_path: Path,
    cancelled: Cancelled | None,
    progress: Progress,
) -> _Written:
    rate, channels, frames = prepped.sample_rate, prepped.channels, prepped.frames
    excerpt_frames = int(RT60_EXCERPT_S * rate)
    before: list[np.ndarray] = []
    after: list[np.ndarray] = []
    offset = 0
    if result_path.suffix.lower() not in LOSSLESS_SUFFIXES:
        offset = _codec_offset(prepped.path, result_path, rate)
    with opened(prepped.path) as source, opened(result_path) as result_reader:
        result: AudioReader | np.ndarray = result_reader
        if result_reader.info.sample_rate != rate:
            whole = np.concatenate(list(iter_blocks(result_reader, 0, None, BLOCK_FRAMES)), axis=1)
            result = resample(whole, result_reader.info.sample_rate, rate)
        aligned = aligned_blocks(result, offset, frames, channels, BLOCK_FRAMES)
        with contextlib.ExitStack() as stack:
            no_echo_out = stack.enter_context(
                AudioWriter(
                    request.output_path,
                    rate,
                    channels,
                    bit_depth=request.bit_depth,
                    overwrite=request.overwrite,
                )
            )
            echo_out = None
            if request.echo_output is not None:
                echo_out = stack.enter_context(
                    AudioWriter(
                        request.echo_output,
                        rate,
                        channels,
                        bit_depth=request.bit_depth,
                        overwrite=request.overwrite,
                    )
                )
            written = 0
            for original in iter_blocks(source, 0, frames, BLOCK_FRAMES):
                _checked(cancelled)
                cleaned = next(aligned)[:, : original.shape[1]]
                no_echo = (1.0 - request.strength) * original + request.strength * cleaned
                no_echo_out.write(no_echo)
                if echo_out is not None:
                    echo_out.write(original - no_echo)
                if written < excerpt_frames:
                    before.append(original[:, : excerpt_frames - written])
                    after.append(no_echo[:, : excerpt_frames - written])
                written += original.shape[1]
                progress(_BACKEND_END + (1 - _BACKEND_END) * written / max(1, frames), "writing")
    clipped = no_echo_out.clipped_samples + (echo_out.clipped_samples if echo_out else 0)
    return _Written(clipped, _rt60(before, rate), _rt60(after, rate))


def process_remote(
    request: ProcessRequest,
    backend: Backend,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> ProcessResult:
    """Remove echo from one file on `backend`; same outputs and result as process_file."""
    from deecho.engine import Amounts, EngineReport

    began = time.perf_counter()
    report = progress or (lambda fraction, stage: None)
    check_outputs(request)
    report(0.0, "prepping")
    with tempfile.TemporaryDirectory(prefix="deecho-remote-") as folder:
        workdir = Path(folder)
        prepped = _prepare(request, workdir / "input.wav")
        _checked(cancelled)
        report(_PREP_END, "uploading")

        def backend_progress(fraction: float, stage: str) -> None:
            report(_PREP_END + (_BACKEND_END - _PREP_END) * fraction, stage)

        result_path = backend.process(prepped.path, workdir, backend_progress, cancelled)
        _checked(cancelled)
        written = _write_aligned(request, prepped, result_path, cancelled, report)
    report(1.0, "done")
    return ProcessResult(
        input=request.input,
        output=request.output_path,
        echo_output=request.echo_output,
        duration_s=prepped.frames / prepped.sample_rate,
        sample_rate=prepped.sample_rate,
        channels=prepped.channels,
        start_s=prepped.start_s,
        gain_db=prepped.gain_db,
        report=EngineReport(
            echoes=[],
            rt60_before_s=written.rt60_before_s,
            rt60_after_s=written.rt60_after_s,
            amounts=Amounts.both(request.strength),
        ),
        seconds=time.perf_counter() - began,
        backend=backend.name,
        clipped_samples=written.clipped_samples,
    )
