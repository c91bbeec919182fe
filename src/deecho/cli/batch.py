"""`deecho batch`: clean many files (folders, a manifest) into a mirrored OUTDIR.

stdout carries the result only (with --json, one JSON object per file as it ends);
stderr has a line per file and a summary. A rerun does only what is left to do.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deecho.cli.process import add_job_options, amounts_from, prep_options
from deecho.errors import EX_DATAERR, EX_UNAVAILABLE, UsageError

if TYPE_CHECKING:
    from deecho.batch import BatchItem, Outcome
    from deecho.cli.progress import BatchProgress
    from deecho.engine import Room

_EPILOG = """\
exit status: 0 every file done (or skipped: done earlier, not audio), 65 some files failed
(bad audio, missing, an output that could not be written; the others done), 69 the backend
failed for some, 130 interrupted (what finished is kept; rerun to do the rest); before any
work: 64 bad usage, 73 OUTDIR busy or not writable.
A file that failed in an earlier run and was not retried counts as failed.
State: OUTDIR/deecho-batch.sqlite; report: OUTDIR/deecho-batch.jsonl and .csv."""

_BACKEND_CODES = frozenset({69, 75, 77})


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value}: give a whole number from 1")
    return number


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="remove echo and reverb from many files (folders, a manifest)",
        description="Clean every audio file of folders, files or a manifest into OUTDIR.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs", type=Path, nargs="*", metavar="INPUT", help="audio files and folders (walked)"
    )
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUTDIR", help="where results go"
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        metavar="FILE",
        help="CSV or JSON lines: input, and optional output, start, end per file",
    )
    parser.add_argument(
        "--echo-output", type=Path, metavar="DIR", help="also write what was removed, here"
    )
    add_job_options(parser)
    where = parser.add_argument_group("where it runs")
    where.add_argument(
        "--jobs", type=_positive, metavar="N", help="worker processes (default: the cores)"
    )
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:8786",
        help="run on a Dask cluster whose workers see the same files",
    )
    where.add_argument(
        "--concurrency",
        type=_positive,
        default=4,
        metavar="N",
        help="files in flight at once on a remote --backend (default 4)",
    )
    room = parser.add_argument_group("one room, many clips")
    room.add_argument(
        "--same-room",
        action="store_true",
        help="fit the echo once on excerpts of all inputs and apply it to each file",
    )
    room.add_argument(
        "--room-from",
        type=Path,
        metavar="FILE",
        help="fit the room's echo on FILE instead (implies --same-room)",
    )
    parser.add_argument(
        "--retry-failed", action="store_true", help="try again the files that failed before"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace outputs this batch did not make"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also null-test each output against its input (a compare column in the report)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    parser.set_defaults(handler=run)


class _Report:
    """A line per file on stderr (above a live bar on a terminal), a JSON row on stdout with
    --json, the tally for the end."""

    def __init__(self, total: int, as_json: bool, display: BatchProgress | None = None) -> None:
        self.total = total
        self.as_json = as_json
        self.display = display
        self.counts: Counter[str] = Counter()
        self.exit_codes: list[int] = []
        self.began = time.monotonic()

    def say(self, line: str) -> None:
        if self.display is not None:
            self.display.say(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def __call__(self, item: BatchItem, outcome: Outcome) -> None:
        self.counts[outcome.status.value] += 1
        if outcome.exit_code:
            self.exit_codes.append(outcome.exit_code)
        seen = sum(self.counts.values())
        line = f"[{seen}/{self.total}] {outcome.status.value:<7} {item.input}"
        if outcome.reason:
            line += f": {outcome.reason}"
        elif outcome.result:
            line += f" ({outcome.result.get('seconds', 0.0):.1f} s"
            compared = outcome.result.get("compare")
            if compared:
                line += f", null {compared['residual_db']:.1f} dB"
            line += ")"
        self.say(line)
        if self.display is not None:
            worked = outcome.status.value != "skipped"
            audio_s = (outcome.result or {}).get("duration_s") if worked else None
            self.display.ended(worked, audio_s)
        if self.as_json:
            print(json.dumps(outcome.row(str(item.input))), flush=True)

    def summary(self, outdir: Path, interrupted: bool = False) -> str:
        done, failed, skipped = (self.counts[s] for s in ("done", "failed", "skipped"))
        took = time.monotonic() - self.began
        text = f"deecho batch: {done} done, {failed} failed, {skipped} skipped"
        if interrupted:
            text += f", {self.total - done - failed - skipped} not started (interrupted)"
        from deecho.batch.report import REPORT_CSV

        return f"{text} in {took:.1f} s; report in {outdir / REPORT_CSV}"

    def exit_code(self) -> int:
        """0 none failed; 69 the backend failed for some; else 65: some files failed
        (bad audio, missing, or an output that could not be written), the others done."""
        codes = set(self.exit_codes)
        if not codes:
            return 0
        if codes & _BACKEND_CODES:
            return EX_UNAVAILABLE
        return EX_DATAERR


def _items(args: argparse.Namespace) -> list[BatchItem]:
    from deecho.batch.inputs import check_distinct, find_items, read_manifest

    if not args.inputs and args.manifest is None:
        raise UsageError("give audio files or folders, or --manifest FILE")
    items = find_items(args.inputs, args.output, args.echo_output)
    if args.manifest is not None:
        items += read_manifest(args.manifest, args.output, args.echo_output)
    check_distinct(items)
    return items


def _room(args: argparse.Namespace, items: list[BatchItem]) -> Room:
    """--same-room: the room's echo, fitted here once, said on stderr."""
    from deecho.batch.room import POOL_S, fit_room_from

    if args.room_from is not None:
        if not args.room_from.is_file():
            raise UsageError(f"--room-from {args.room_from}: no such file")
        sources = [args.room_from]
    else:
        sources = [item.input for item in items]
    room = fit_room_from(sources)
    echoes = "; ".join(f"{echo.delay_ms:.1f} ms × {echo.gain:.2f}" for echo in room.echoes)
    print(
        f"deecho batch: one room for every file, fitted on up to {POOL_S:.0f} s of"
        f" {len(sources)} file(s): {echoes or 'no echo found'}",
        file=sys.stderr,
        flush=True,
    )
    return room


def run(args: argparse.Namespace) -> int:
    from deecho.batch import BatchRun, BatchSettings
    from deecho.cli.progress import BatchProgress, on_terminal
    from deecho.config import load_settings
    from deecho.executors import default_jobs

    loaded = load_settings()
    settings = BatchSettings(
        prep=prep_options(args),
        amounts=amounts_from(args, loaded),
        bit_depth=args.bit_depth,
        backend=(args.backend or "local").strip(),
        force=args.force,
        retry_failed=args.retry_failed,
        jobs=args.jobs or default_jobs(),
        scheduler=args.scheduler,
        concurrency=args.concurrency,
        compare=args.compare,
    )
    if settings.backend != "local":
        from deecho.backends import get_backend

        if args.same_room or args.room_from is not None:
            raise UsageError("--same-room works with the local engine; leave out --backend")

        if settings.scheduler:
            # The state file keeps each remote task (no credit spent twice); it lives here.
            raise UsageError(
                "--scheduler runs the local engine on a cluster; a remote --backend is"
                " driven from here: use --concurrency N instead"
            )

        get_backend(settings.backend, loaded)  # a bad name or a missing key: say so once
    items = _items(args)
    if args.same_room or args.room_from is not None:
        settings = dataclasses.replace(settings, room=_room(args, items))
    with contextlib.ExitStack() as stack:
        display = stack.enter_context(BatchProgress(len(items))) if on_terminal() else None
        report = _Report(len(items), args.json, display)
        try:
            with BatchRun(args.output, settings, args.echo_output) as batch:
                batch.run(items, report)
        except KeyboardInterrupt:
            stack.close()  # the bar ends before the last lines
            print(report.summary(args.output, interrupted=True), file=sys.stderr)
            print(
                "deecho: interrupted; what finished is kept, rerun to do the rest",
                file=sys.stderr,
            )
            return 130
    print(report.summary(args.output), file=sys.stderr)
    return report.exit_code()
