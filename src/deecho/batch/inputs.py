"""What a batch works on: files, folders (walked), or a manifest, each mapped into OUTDIR.

A folder's files keep their place below it in OUTDIR (`in/a/b.wav` -> `OUTDIR/a/b.no_echo.wav`);
a file named on its own lands at OUTDIR's top. Whether a file is audio is decided by
opening it (in the worker), not by its name: a folder's `notes.txt` is skipped with a
reason, a `.wav` that will not decode fails.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deecho.audio.prep import parse_time
from deecho.errors import UsageError

__all__ = ["AUDIO_SUFFIXES", "BatchItem", "find_items", "read_manifest"]

#: Names that promise audio: such a file that does not decode failed; any other name
#: found in a folder that does not decode is simply not audio, and skipped.
AUDIO_SUFFIXES = frozenset(
    {".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff"}
    | {".aifc", ".caf", ".w64", ".wma", ".mp4", ".m4v", ".mov", ".mkv", ".webm"}
)


@dataclass(frozen=True)
class BatchItem:
    """One file of the batch and where its results go."""

    input: Path
    output: Path
    echo_output: Path | None = None
    start_s: float | None = None
    end_s: float | None = None
    found_in_folder: bool = False
    """Came from walking a folder (not named by the user): not-audio means skip, not fail."""

    @property
    def promises_audio(self) -> bool:
        return not self.found_in_folder or self.input.suffix.lower() in AUDIO_SUFFIXES


def _output_for(outdir: Path, relative: Path, part: str) -> Path:
    # The names `deecho process` makes: take.wav -> take.no_echo.wav
    return outdir / relative.parent / f"{relative.stem}.{part}.wav"


def _item(
    source: Path,
    relative: Path,
    outdir: Path,
    echo_dir: Path | None,
    found_in_folder: bool = False,
) -> BatchItem:
    return BatchItem(
        input=source,
        output=_output_for(outdir, relative, "no_echo"),
        echo_output=_output_for(echo_dir, relative, "echo") if echo_dir else None,
        found_in_folder=found_in_folder,
    )


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and path.resolve().is_relative_to(folder.resolve())


def _walk(folder: Path, skip: list[Path | None]) -> list[Path]:
    """Files below `folder`, sorted, leaving out hidden ones (and our own partial writes)
    and anything inside the output folders (OUTDIR may sit inside an input folder)."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if any(_inside(path, other) for other in skip):
            continue
        found.append(path)
    return found


def find_items(inputs: list[Path], outdir: Path, echo_dir: Path | None = None) -> list[BatchItem]:
    """The batch's files from the command line's INPUTs: files, and folders walked."""
    items: list[BatchItem] = []
    for source in inputs:
        if source.is_dir():
            for path in _walk(source, [outdir, echo_dir]):
                relative = path.relative_to(source)
                items.append(_item(path, relative, outdir, echo_dir, found_in_folder=True))
        else:
            # A missing file is kept: its job fails with the reader's one-line message.
            items.append(_item(source, Path(source.name), outdir, echo_dir))
    return items


def _rows(manifest: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = manifest.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--manifest {manifest}: cannot read it ({exc.strerror})") from None
    if text.lstrip().startswith("{"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{manifest}:{number}: not a JSON object ({exc.msg})") from None
            if not isinstance(row, dict):
                raise UsageError(f"{manifest}:{number}: each line must be a JSON object")
            rows.append((number, row))
        return rows
    reader = csv.DictReader(text.splitlines())
    if "input" not in (reader.fieldnames or []):
        raise UsageError(f"{manifest}: a CSV manifest needs a header row with an `input` column")
    return [(number, dict(row)) for number, row in enumerate(reader, start=2)]


def _time(value: Any, where: str, column: str) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        return parse_time(str(value).strip())
    except UsageError as exc:
        raise UsageError(f"{where}: {column}: {exc}") from None


def read_manifest(manifest: Path, outdir: Path, echo_dir: Path | None = None) -> list[BatchItem]:
    """Rows with `input` (relative to the manifest's folder) and optional `output`
    (relative to OUTDIR), `start` and `end` (seconds or hh:mm:ss.mmm)."""
    items = []
    for number, row in _rows(manifest):
        where = f"{manifest}:{number}"
        name = str(row.get("input") or "").strip()
        if not name:
            raise UsageError(f"{where}: no `input`; give the audio file's path")
        source = manifest.parent / name
        item = _item(source, Path(source.name), outdir, echo_dir)
        output = str(row.get("output") or "").strip()
        if output:
            target = outdir / output
            echo = _output_for(echo_dir, Path(output), "echo") if echo_dir else None
            item = BatchItem(source, target, echo)
        items.append(
            BatchItem(
                input=item.input,
                output=item.output,
                echo_output=item.echo_output,
                start_s=_time(row.get("start"), where, "start"),
                end_s=_time(row.get("end"), where, "end"),
            )
        )
    return items


def check_distinct(items: list[BatchItem]) -> None:
    """Refuse two files that would write the same output (`take.wav` and `take.flac`)."""
    seen: dict[Path, Path] = {}
    for item in items:
        for target in filter(None, (item.output, item.echo_output)):
            key = target.resolve()
            if key in seen and seen[key] != item.input:
                raise UsageError(
                    f"{seen[key]} and {item.input} would both write {target};"
                    " rename one, or list them in a --manifest with an `output` each"
                )
            seen[key] = item.input
