"""Keep: save results beside the original and export the compare report, never overwriting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from deecho.audio.io import AudioInfo, AudioWriter, iter_blocks, opened, probe
from deecho.errors import OutputError

if TYPE_CHECKING:
    from deecho.tui.tasks import CompareOutcome

__all__ = ["export_report", "keep_result", "unique_beside"]


def unique_beside(original: Path, part: str, extension: str) -> Path:
    """`take.wav` -> `take.no_echo.wav`, or `take.no_echo.2.wav`… if that exists."""
    candidate = original.with_name(f"{original.stem}.{part}{extension}")
    number = 2
    while candidate.exists():
        candidate = original.with_name(f"{original.stem}.{part}.{number}{extension}")
        number += 1
    return candidate


def _bit_depth_like(info: AudioInfo) -> str:
    """Keep the original's resolution where we can write it; float otherwise."""
    return {"PCM_16": "16", "PCM_24": "24"}.get(info.subtype, "float")


def _copy_audio(source: Path, target: Path, bit_depth: str) -> Path:
    with opened(source) as reader:
        info = reader.info
        # overwrite=False: the writer refuses a target that appeared meanwhile.
        with AudioWriter(target, info.sample_rate, info.channels, bit_depth=bit_depth) as writer:
            for block in iter_blocks(reader, 0, None, 1 << 18):
                writer.write(block)
    return target


def keep_result(original: Path, no_echo: Path, echo: Path | None = None) -> list[Path]:
    """Save no_echo (and echo) beside the original with a suffix; never overwrite anything."""
    bit_depth = _bit_depth_like(probe(original))
    extension = original.suffix.lower() if original.suffix.lower() in (".wav", ".flac") else ".wav"
    saved = [_copy_audio(no_echo, unique_beside(original, "no_echo", extension), bit_depth)]
    if echo is not None:
        saved.append(_copy_audio(echo, unique_beside(original, "echo", extension), bit_depth))
    return saved


def export_report(original: Path, outcome: CompareOutcome) -> list[Path]:
    """Write the compare report beside the original: JSON, and a PNG when the core can draw one."""
    json_path = unique_beside(original, "deecho-compare", ".json")
    text = json.dumps(outcome.figures.to_dict(), indent=2)
    try:
        with json_path.open("x") as stream:  # "x": fail rather than replace
            stream.write(text + "\n")
    except OSError as exc:
        raise OutputError(f"{json_path}: cannot write the report ({exc.strerror})") from exc
    written = [json_path]
    png_path = unique_beside(original, "deecho-compare", ".png")
    if _write_png(outcome, png_path, f"{original.name}: original vs no_echo"):
        written.append(png_path)
    return written


def _write_png(outcome: CompareOutcome, png_path: Path, title: str) -> bool:
    """Draw the compare picture (waveforms, difference, residual, spectrograms) from the
    comparison the job kept: in memory for the job just run, else its figures and trace
    from the history over its aligned files (a job kept before traces were draws no lags)."""
    from deecho.compare.figures import CompareTrace
    from deecho.compare.plot import save_png
    from deecho.compare.redraw import kept_result

    result = outcome.result
    if result is None:
        # Streamed from the two files: nothing is aligned again, no take held whole.
        frames = min(probe(outcome.prepped).frames, probe(outcome.no_echo).frames)
        trace = outcome.trace or CompareTrace(overlap_start_frame=0, overlap_frames=frames)
        result = kept_result(outcome.figures, trace, outcome.prepped, outcome.no_echo)
    save_png(result, png_path, title)
    return png_path.is_file()
