"""One task's work, as a worker process (or a Dask worker) runs it.

Everything here is picklable and imports only what a worker needs. Errors
never cross the process boundary as exceptions: the outcome says FAILED (the
input's fault: undecodable, too long, unreachable URL) or ERROR (ours), with
a one-line message.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from deecho.api.models import TaskStatus
from deecho.errors import DeechoError, OutputError
from deecho.server.pace import TaskTimings

if TYPE_CHECKING:
    from deecho.engine.report import Amounts
    from deecho.pipeline import StageTimes

__all__ = ["JobOutcome", "JobSpec", "result_paths", "run_job", "warm_up", "worker_init"]

#: Sample rates an MP3 (MPEG-1/2/2.5 layer III) can carry; others are resampled to 48 kHz.
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


@dataclass(frozen=True)
class JobSpec:
    task_id: str
    task_dir: str
    input_path: str | None
    audio_url: str | None
    max_duration_s: float
    fetch_max_bytes: int
    fetch_timeout_s: float
    allow_private_urls: bool
    allow_loopback_urls: bool
    echo_amount: float | None = None
    """How much echo to remove, 0..1; None: all the engine finds, as the vendor does."""
    reverb_amount: float | None = None


@dataclass
class JobOutcome:
    status: str
    message: str
    input_path: str | None = None
    duration_s: float | None = None
    processing_s: float = 0.0
    files: dict[str, str] = field(default_factory=dict)
    timings: TaskTimings | None = None
    """A completed task's stage timings, for the eta's cost model (server/pace.py)."""


def result_paths(task_dir: Path, task_id: str) -> dict[str, Path]:
    """Where each result of a task lives, by the webhook's field name."""
    from deecho.server.signing import RESULT_FILES

    return {kind: task_dir / f"{task_id}{suffix}" for kind, suffix in RESULT_FILES.items()}


def _exit_with(server_pid: int) -> None:
    while True:
        time.sleep(0.5)
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # the pid was reused by another user's process: ours is gone
            os._exit(1)


def worker_init(server_pid: int, nice: int = 10) -> None:
    """Run in each worker process: yield the CPU to the API, and die with the server.

    A worker's parent is the forkserver, not the server, and it holds its own
    call queue's pipe open, so nothing tells it that a killed server is gone:
    a watchdog thread checks, and ends the process instead of leaving a job
    running unattended (the restarted server re-runs the task).
    """
    with contextlib.suppress(OSError):
        os.nice(nice)
    threading.Thread(target=_exit_with, args=(server_pid,), daemon=True).start()


PROGRESS_FILE = "progress.json"


class _ProgressFile:
    """The pipeline's progress, written beside the task's files for byId to read.

    A file, not the database: it works the same for a Dask worker on another
    machine that shares the data folder, and a lost write costs nothing.
    Written at most twice a second, atomically (temp file, then rename).
    """

    def __init__(
        self, task_dir: Path, start: float = 0.0, span: float = 1.0, fetched: str | None = None
    ) -> None:
        self.path = task_dir / PROGRESS_FILE
        self.start = start
        self.span = span
        self.fetched = fetched
        """What an audio_url brought (title, length), said in the task's message."""
        self._last = 0.0

    def __call__(self, fraction: float, stage: str) -> None:
        now = time.monotonic()
        if now - self._last < 0.5 and fraction < 1.0:
            return
        self._last = now
        value = self.start + self.span * max(0.0, min(1.0, fraction))
        temp = self.path.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            said = {"fraction": round(value, 3), "stage": stage, "fetched": self.fetched}
            temp.write_text(json.dumps(said))
            os.replace(temp, self.path)


def read_progress(task_dir: Path) -> tuple[float, str] | None:
    """(fraction 0..1, stage) of a running task, when its worker has said.

    The stage names what an audio_url brought when it is known:
    `removing echo, fetched "Title" (3:12)`.
    """
    try:
        data = json.loads((task_dir / PROGRESS_FILE).read_text())
        stage = str(data["stage"])
        if data.get("fetched"):
            stage = f"{stage}, fetched {data['fetched']}"
        return float(data["fraction"]), stage
    except (OSError, ValueError, KeyError, TypeError):
        return None


def warm_up() -> None:
    """Import what jobs need, so a fresh worker's first task does not pay for it."""
    import pedalboard.io  # noqa: F401  (the MP3 encoder)

    import deecho.pipeline  # noqa: F401  (numpy, scipy, the engine)


def _fetch_input(spec: JobSpec, task_dir: Path) -> tuple[Path, str | None]:
    """The task's audio_url on disk as `input.EXT`, and the page's title when it came via one."""
    from deecho.urls import UrlPolicy, fetch_audio

    assert spec.audio_url is not None
    policy = UrlPolicy(
        allow_private=spec.allow_private_urls, allow_loopback=spec.allow_loopback_urls
    )
    fetched = fetch_audio(
        spec.audio_url,
        task_dir,
        policy,
        spec.fetch_max_bytes,
        spec.fetch_timeout_s,
        max_duration_s=spec.max_duration_s,
        progress=_ProgressFile(task_dir, 0.0, 0.0),
    )
    suffix = Path(fetched.name).suffix.lower()
    target = task_dir / f"input{suffix if suffix.isascii() and len(suffix) <= 9 else ''}"
    os.replace(fetched.path, target)
    return target, fetched.title


def _fetched_note(title: str | None, duration_s: float) -> str:
    """What was fetched, for the task's message while it runs: title and length."""
    minutes, seconds = divmod(round(duration_s), 60)
    return f'"{title}" ({minutes}:{seconds:02d})' if title else f"{minutes}:{seconds:02d} of audio"


def _write_mp3(wav_path: Path, mp3_path: Path) -> None:
    """Encode a result WAV to MP3 (LAME V0) in blocks, resampling rates MP3 cannot carry.

    MP3 carries one or two channels: a result of more (a multitrack or surround take)
    gets a mono mix in its MP3, and keeps every channel in its WAV.
    """
    from pedalboard.io import AudioFile

    from deecho.audio.io import AudioWriter

    with AudioFile(str(wav_path)) as source:
        rate = int(source.samplerate)
        target_rate = rate if rate in _MP3_RATES else 48000
        reader = source.resampled_to(target_rate) if target_rate != rate else source
        channels = int(source.num_channels)
        mixed_to_mono = channels > 2
        with AudioWriter(
            mp3_path, target_rate, 1 if mixed_to_mono else channels, overwrite=True
        ) as writer:
            while reader.tell() < reader.frames:
                block = reader.read(1 << 17)
                if block.shape[1] == 0:
                    break
                writer.write(block.mean(axis=0, keepdims=True) if mixed_to_mono else block)


def _amounts(spec: JobSpec) -> Amounts:
    """The task's echo and reverb amounts; all of each where the client sent none."""
    from deecho.engine import Amounts

    echo = 1.0 if spec.echo_amount is None else spec.echo_amount
    reverb = 1.0 if spec.reverb_amount is None else spec.reverb_amount
    return Amounts(echo=echo, reverb=reverb)


def _process(spec: JobSpec) -> JobOutcome:
    from deecho.audio.io import probe
    from deecho.pipeline import ProcessRequest, process_file

    task_dir = Path(spec.task_dir)
    title = None
    if spec.input_path and Path(spec.input_path).exists():
        input_path = Path(spec.input_path)
    else:
        input_path, title = _fetch_input(spec, task_dir)
    info = probe(input_path)
    fetched = _fetched_note(title, info.duration_s) if spec.audio_url else None
    if info.duration_s > spec.max_duration_s:
        return JobOutcome(
            TaskStatus.FAILED.value,
            f"the audio lasts {info.duration_s:.0f} s, over this server's"
            f" {spec.max_duration_s:.0f} s limit",
            input_path=str(input_path),
            duration_s=info.duration_s,
        )
    paths = result_paths(task_dir, spec.task_id)
    result = process_file(
        ProcessRequest(
            input=input_path,
            output=paths["no_echo_wav"],
            echo_output=paths["echo_wav"],
            overwrite=True,
            amounts=_amounts(spec),
        ),
        progress=_ProgressFile(task_dir, 0.0, 0.9, fetched),
    )
    encoding = _ProgressFile(task_dir, fetched=fetched)
    encoding_began = time.process_time()
    encoding(0.9, "encoding MP3")
    _write_mp3(paths["no_echo_wav"], paths["no_echo"])
    encoding(0.95, "encoding MP3")
    _write_mp3(paths["echo_wav"], paths["echo"])
    encoding(1.0, "done")
    return JobOutcome(
        TaskStatus.COMPLETED.value,
        "de_echo conversion Completed",
        input_path=str(input_path),
        duration_s=float(result.duration_s),
        files={kind: str(path) for kind, path in paths.items()},
        timings=_timings(result.stages, time.process_time() - encoding_began),
    )


def _timings(stages: StageTimes | None, encoding_cpu_s: float) -> TaskTimings | None:
    """The engine's stage timings, with the MP3s' encoding counted in the streamed pass.

    Encoding reads every sample of both results, as the streamed pass does, so it grows
    with the same count (the totals are filled in by run_job, which times the whole task).
    """
    from deecho.engine.canceller import ANALYSIS_MAX_S

    if stages is None:
        return None
    return TaskTimings(
        total_s=0.0,
        cpu_s=0.0,
        analysis_cpu_s=stages.analysis_cpu_s,
        analysed_samples=stages.analysed_samples,
        streaming_cpu_s=stages.streaming_cpu_s + encoding_cpu_s,
        streamed_samples=stages.streamed_samples,
        analysis_max_s=ANALYSIS_MAX_S,
    )


def run_job(spec: JobSpec) -> JobOutcome:
    """Fetch (for audio_url), process, and encode one task; never raises."""
    started = time.monotonic()
    cpu_started = time.process_time()
    try:
        outcome = _process(spec)
    except OutputError as exc:  # the server could not write its results: its fault, not the input's
        outcome = JobOutcome(TaskStatus.ERROR.value, str(exc))
    except DeechoError as exc:
        outcome = JobOutcome(TaskStatus.FAILED.value, str(exc))
    except MemoryError:
        outcome = JobOutcome(TaskStatus.ERROR.value, "the server ran out of memory on this task")
    except Exception as exc:
        outcome = JobOutcome(TaskStatus.ERROR.value, f"internal error: {type(exc).__name__}: {exc}")
    outcome.processing_s = time.monotonic() - started
    if outcome.timings is not None:
        cpu_s = time.process_time() - cpu_started
        outcome.timings = replace(outcome.timings, total_s=outcome.processing_s, cpu_s=cpu_s)
    return outcome
