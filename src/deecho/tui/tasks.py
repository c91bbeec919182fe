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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deecho.audio.io import iter_blocks, opened, read_audio
from deecho.audio.loudness import LevelMeter, Levels
from deecho.audio.prep import PrepOptions, apply_prep
from deecho.backends.base import Backend, JobStatus
from deecho.errors import CancelledError, DeechoError
from deecho.kinds import JobState
from deecho.overview import (
    Overview,
    overview_of_array,
    overview_of_blocks,
    overview_of_file,
    read_frames_for,
)
from deecho.tui.keep import export_report, keep_result, unique_beside

if TYPE_CHECKING:
    from deecho.compare import CompareFigures, CompareResult
    from deecho.compare.figures import CompareTrace
    from deecho.engine.report import Amounts
    from deecho.pipeline import ProcessResult

__all__ = [
    "AUDIO_EXTENSIONS",
    "CompareOutcome",
    "JobStatus",
    "PrepPreview",
    "compare_job",
    "download_link",
    "export_report",
    "history_entry",
    "keep_result",
    "measure_file",
    "preview_prep",
    "run_job",
    "server_unreachable",
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


def download_link(
    url: str, folder: Path, progress: Progress, cancelled: Cancelled | None = None
) -> Path:
    """The recording a link leads to (a file, a page, a stream), downloaded into `folder`
    under a free name, as `deecho process URL` downloads it; `progress(fraction, stage)`."""
    from deecho.urls.download import download_recording  # HTTP loads only for a link

    def report(fraction: float, stage: str) -> None:
        _check(cancelled)  # raised inside the download, which stops and cleans up
        progress(fraction, stage)

    return download_recording(url, folder, keep_existing=True, progress=report)


def server_unreachable(url: str) -> str | None:
    """None when the deecho server at `url` accepts a connection; else one line why not."""
    from deecho.backends.reach import why_unreachable

    return why_unreachable(url)


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


def run_job(
    backend: Backend,
    original: Path,
    options: PrepOptions,
    amounts: Amounts,
    workdir: Path,
    on_status: Callable[[JobStatus], None],
    cancelled: Cancelled,
) -> ProcessResult:
    """The one job path (`deecho.backends.job.run_job`, as `deecho process` takes it), with
    the job's files in its folder: `prepped.wav`, the backend's download, the aligned
    `aligned.no_echo.wav` and `aligned.echo.wav`, and `job.json` (the `--json` report)."""
    from deecho.backends.job import run_job as run_one_job
    from deecho.pipeline import ProcessRequest

    request = ProcessRequest(
        input=original,
        output=workdir / "aligned.no_echo.wav",
        echo_output=workdir / "aligned.echo.wav",
        prep=options,
        amounts=amounts,
        overwrite=True,
    )
    result = run_one_job(request, backend, on_status, cancelled, workdir=workdir)
    (workdir / JOB_REPORT).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


#: The job's `--json` report, in its folder.
JOB_REPORT = "job.json"


@dataclass(frozen=True, eq=False)
class CompareOutcome:
    """A result aligned on what was sent, with what the compare view draws."""

    prepped: Path
    no_echo: Path
    echo: Path
    raw_no_echo: Path
    """What the backend sent back, before alignment."""
    sample_rate: int
    figures: CompareFigures
    """The comparison's figures, with the offset, drift and overlap the job measured."""
    residual_db: list[float]
    residual_window_s: float
    original_overview: Overview
    no_echo_overview: Overview
    echo_overview: Overview
    report_json: Path
    result: CompareResult | None = None
    """The comparison itself (arrays included), kept to draw the PNG without a rerun;
    None for a job reopened from the history, whose PNG is drawn from `trace`."""
    trace: CompareTrace | None = None
    """Where the compared stretch lies and the lags measured, kept in the history so a
    reopened job's picture is drawn without comparing again; None for a job kept before."""


def _residual_series(result: CompareResult) -> tuple[list[float], float]:
    """The per-window residual in dB (NaN where the original is quiet) and the window length."""
    from deecho.compare import metrics

    if result.over_time is None:
        return [], metrics.WINDOW_S
    return [float(v) for v in np.asarray(result.over_time.residual_db).ravel()], metrics.WINDOW_S


def _on_the_backends_file(result: CompareResult, offset_samples: float, drift_ppm: float) -> None:
    """Report where the backend's own file sat (the job's offset and drift), lags included.

    The comparison ran on the already aligned file, so its window-by-window lags sit near
    zero: what the alignment left. The backend's file lay the job's line further off; adding
    that line to each lag keeps the picture's points on the fit line it draws through them,
    scattered by what the alignment left."""
    line = offset_samples + drift_ppm * 1e-6 * result.lag_times_s * result.sample_rate
    result.lag_samples = np.asarray(result.lag_samples, dtype=np.float64) + line
    result.offset_samples = offset_samples
    result.drift_ppm = drift_ppm


def compare_job(
    job: ProcessResult,
    workdir: Path,
    cancelled: Cancelled | None = None,
    on_status: Callable[[JobStatus], None] | None = None,
) -> CompareOutcome:
    """The figures of a finished job: its aligned no_echo against the prepped input it came
    from, with where the backend's result sat (offset, drift, overlap) as the job measured it.
    Streamed from the files, as `deecho compare` does: memory does not grow with length.

    `on_status` hears the comparison's progress; its stage carries the figures the job
    already knows (where the result sat, how much was removed), so a long take shows
    them while the rest is measured.
    """
    from deecho.compare import compare_files

    prepped = workdir / "prepped.wav"
    assert job.echo_output is not None
    _check(cancelled)
    alignment = job.alignment or {}
    known = _first_figures(job)

    def progress(fraction: float) -> None:
        _check(cancelled)
        if on_status is not None:
            stage = f"{known} ({fraction:.0%})"
            on_status(JobStatus(JobState.COMPARING, fraction=fraction, stage=stage))

    progress(0.0)
    result = compare_files(prepped, job.output, progress=progress)
    _check(cancelled)
    rate = result.sample_rate
    if alignment:
        _on_the_backends_file(
            result, float(alignment["offset_samples"]), float(alignment["drift_ppm"])
        )
    figures = result.figures()
    if alignment:
        figures = replace(
            figures,
            overlap_start_s=float(alignment["overlap_start_s"]),
            overlap_s=float(alignment["overlap_s"]),
        )
    residual, window = _residual_series(result)
    report_json = workdir / "compare.json"
    report_json.write_text(json.dumps(figures.to_dict(), indent=2))
    raw = [path for path in workdir.glob("no_echo.*") if path.is_file()]
    return CompareOutcome(
        prepped=prepped,
        no_echo=job.output,
        echo=job.echo_output,
        raw_no_echo=raw[0] if raw else job.output,
        sample_rate=rate,
        figures=figures,
        residual_db=residual,
        residual_window_s=window,
        original_overview=_overview(prepped, cancelled),
        no_echo_overview=_overview(job.output, cancelled),
        echo_overview=_overview(job.echo_output, cancelled),
        report_json=report_json,
        result=result,
        trace=result.trace(),
    )


def _first_figures(job: ProcessResult) -> str:
    """What a finished job already tells before the comparison: where its result sat, and
    what the engine took (the comparison's own figures follow when it is done)."""
    parts = []
    alignment = job.alignment or {}
    if alignment.get("measured"):
        parts.append(
            f"offset {float(alignment['offset_samples']):+.1f} smp,"
            f" drift {float(alignment['drift_ppm']):+.1f} ppm,"
            f" overlap {float(alignment['overlap_s']):.2f} s"
        )
    report = job.report.to_dict() if job.report is not None else {}
    removed = report.get("reverb_removed_db")
    echoes = report.get("echoes") or []
    if echoes:
        parts.append(f"{len(echoes)} echo{'es' if len(echoes) > 1 else ''} removed")
    if isinstance(removed, int | float) and removed > 0:
        parts.append(f"reverb -{removed:.1f} dB")
    figures = "; ".join(parts)
    return f"comparing: {figures}" if figures else "comparing with what was sent"


def _overview(path: Path, cancelled: Cancelled | None) -> Overview:
    """A file's envelope, read in blocks."""
    found = overview_of_file(path, cancelled=cancelled)
    _check(cancelled)
    assert found is not None  # None only when cancelled, which _check raised
    return found


#: What the history keeps beside the compare figures, to redraw a past job.
_HISTORY_ONLY = frozenset({"raw_no_echo", "residual_db_over_time", "residual_window_s", "trace"})


def history_entry(outcome: CompareOutcome) -> dict[str, Any]:
    """What the history keeps of a comparison: its figures, and the series to redraw it."""
    entry = outcome.figures.to_dict()
    entry["raw_no_echo"] = str(outcome.raw_no_echo)
    entry["residual_db_over_time"] = [
        value if math.isfinite(value) else None for value in outcome.residual_db
    ]
    entry["residual_window_s"] = outcome.residual_window_s
    if outcome.trace is not None:
        entry["trace"] = outcome.trace.to_dict()
    return entry


def reopen_compare(
    prepped: Path, no_echo: Path, echo: Path, entry: dict[str, Any], workdir: Path
) -> CompareOutcome:
    """Rebuild a past job's compare view from the files its folder kept."""
    from deecho.compare.figures import CompareFigures, CompareTrace

    original, rate = read_audio(prepped)
    aligned, _ = read_audio(no_echo)
    removed, _ = read_audio(echo)
    residual = entry.get("residual_db_over_time") or entry.get("residual_over_time_db") or []
    raw = entry.get("raw_no_echo")
    shown = {key: value for key, value in entry.items() if key not in _HISTORY_ONLY}
    try:
        figures = CompareFigures.from_dict(shown)
        trace = CompareTrace.from_dict(entry["trace"]) if entry.get("trace") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise DeechoError(
            f"the history's figures of this job are unreadable ({exc}); run it again"
        ) from None
    return CompareOutcome(
        prepped=prepped,
        no_echo=no_echo,
        echo=echo,
        raw_no_echo=Path(raw) if raw else no_echo,
        sample_rate=rate,
        figures=figures,
        residual_db=[math.nan if value is None else float(value) for value in residual],
        residual_window_s=float(entry.get("residual_window_s", 0.4) or 0.4),
        original_overview=overview_of_array(original, rate),
        no_echo_overview=overview_of_array(aligned, rate),
        echo_overview=overview_of_array(removed, rate),
        report_json=workdir / "compare.json",
        trace=trace,
    )
