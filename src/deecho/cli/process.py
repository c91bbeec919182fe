"""`deecho process`: remove echo from one file; the contract scripts and DAW plugins use.

stdout carries the result only (the output path, or one JSON object with
--json); progress goes to stderr, and only as a bar on a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deecho.errors import UsageError

if TYPE_CHECKING:
    from deecho.audio.prep import PrepOptions
    from deecho.config import Settings
    from deecho.engine.report import Amounts
    from deecho.pipeline import ProcessResult

_EPILOG = """\
exit status: 0 ok, 64 bad usage, 65 bad audio data, 66 input missing or unreadable,
69 backend failed, 73 cannot create output, 70 internal error.
The input is never written; outputs appear atomically or not at all."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "process",
        help="remove echo and reverb from one audio file",
        description="Remove echo and reverb from one audio file and write the cleaned audio.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="audio file to clean, or an http(s) URL (a file, a page, an HLS/DASH playlist)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="cleaned audio (default: INPUT_STEM.no_echo.wav beside it)",
    )
    parser.add_argument(
        "--echo-output",
        type=Path,
        metavar="PATH",
        help="also write what was removed (input − output)",
    )
    add_job_options(parser)
    parser.add_argument("--force", action="store_true", help="replace existing outputs")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--summary", action="store_true", help="print a readable report on stderr")
    parser.set_defaults(handler=run)


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """Prep, amounts, backend and bit depth: the options `process` and `batch` share."""
    trim = parser.add_argument_group("prep")
    trim.add_argument("--start", metavar="T", help="start of the range to keep (s or hh:mm:ss.mmm)")
    trim.add_argument("--end", metavar="T", help="end of the range to keep (s or hh:mm:ss.mmm)")
    trim.add_argument(
        "--trim-silence",
        type=float,
        metavar="DBFS",
        help="cut leading and trailing audio quieter than this level, e.g. -50",
    )
    level = trim.add_mutually_exclusive_group()
    level.add_argument("--normalize-peak", type=float, metavar="DBFS", help="peak level, e.g. -1")
    level.add_argument(
        "--normalize-lufs", type=float, metavar="LUFS", help="integrated loudness, e.g. -16"
    )
    amounts = parser.add_argument_group("how much to remove (0..1 each; default 1)")
    amounts.add_argument(
        "--strength", type=float, default=None, metavar="X", help="echo and reverb at once"
    )
    amounts.add_argument(
        "--echo", type=float, default=None, metavar="X", help="echo (wins over --strength)"
    )
    amounts.add_argument(
        "--reverb", type=float, default=None, metavar="X", help="reverb (wins over --strength)"
    )
    parser.add_argument(
        "--backend",
        default=None,
        metavar="NAME",
        help="local (default), musicgpt, or a deecho server URL",
    )
    parser.add_argument(
        "--bit-depth",
        choices=("16", "24", "float"),
        default="float",
        help="sample format of WAV/FLAC outputs (default float: never clips)",
    )


def _seconds(value: str | None, flag: str) -> float | None:
    from deecho.audio.prep import parse_time

    if value is None:
        return None
    try:
        return parse_time(value)
    except UsageError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def prep_options(args: argparse.Namespace) -> PrepOptions:
    """The prep asked by `add_job_options`' flags."""
    from deecho.audio.prep import PrepOptions

    return PrepOptions(
        start_s=_seconds(args.start, "--start"),
        end_s=_seconds(args.end, "--end"),
        trim_silence_dbfs=args.trim_silence,
        normalize_peak_dbfs=args.normalize_peak,
        normalize_lufs=args.normalize_lufs,
    )


def amounts_from(args: argparse.Namespace, settings: Settings) -> Amounts:
    """--echo and --reverb, each falling back on --strength, then on the settings."""
    from deecho.engine.report import Amounts

    for flag, value in (
        ("--strength", args.strength),
        ("--echo", args.echo),
        ("--reverb", args.reverb),
    ):
        if value is not None and not 0.0 <= value <= 1.0:  # also refuses nan
            raise UsageError(f"{flag} {value}: use a value from 0 to 1")
    default = settings.engine.amounts
    if args.strength is not None:
        default = Amounts.both(args.strength)
    echo = default.echo if args.echo is None else args.echo
    reverb = default.reverb if args.reverb is None else args.reverb
    return Amounts(echo=echo, reverb=reverb)


def _summary(result: ProcessResult) -> str:
    data = result.to_dict()
    lines = [
        f"input        {data['input']}",
        f"no_echo      {data['output']}",
    ]
    if data["echo_output"]:
        lines.append(f"echo         {data['echo_output']}")
    lines += [
        f"audio        {data['duration_s']:.2f} s, {data['sample_rate']} Hz, {data['channels']} ch",
        f"backend      {data['backend']}",
    ]
    echoes = data["echoes"] or []
    if echoes:
        for echo in echoes:
            where = "all channels" if echo.get("channel") is None else f"channel {echo['channel']}"
            feedback = echo.get("feedback") or 0.0
            lines.append(
                f"echo found   {echo['delay_ms']:.1f} ms, gain {echo['gain']:.2f}"
                + (f", feedback {feedback:.2f}" if feedback else "")
                + f" ({where})"
            )
    else:
        lines.append("echo found   none")

    def rt60(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f} s"

    lines.append(f"RT60         {rt60(data['rt60_before_s'])} -> {rt60(data['rt60_after_s'])}")
    lines.append(
        f"amounts      echo {data['echo_amount']:.2f}, reverb {data['reverb_amount']:.2f}"
        f" (reverb removed {data['reverb_removed_db'] or 0.0:.1f} dB)"
    )
    if data["drr_before_db"] is not None and data["drr_after_db"] is not None:
        lines.append(f"DRR          {data['drr_before_db']:.1f} -> {data['drr_after_db']:.1f} dB")
    alignment = data.get("alignment") or {}
    if alignment:
        lines.append(
            f"aligned      offset {alignment['offset_samples']:g} samples,"
            f" drift {alignment['drift_ppm']:g} ppm, overlap {alignment['overlap_s']:.2f} s"
        )
    speed = data["duration_s"] / max(data["seconds"], 1e-9)
    lines.append(f"took         {data['seconds']:.2f} s ({speed:.0f}x real time)")
    if data["clipped_samples"]:
        lines.append(
            f"warning      {data['clipped_samples']} samples clipped; use --bit-depth float"
        )
    return "\n".join(lines)


def _local_input(args: argparse.Namespace) -> Path:
    """INPUT as a file; a URL is downloaded first (beside --output, else here)."""
    from deecho.urls import is_url

    if not is_url(args.input):
        return Path(args.input)
    from deecho.cli.url_input import download_url

    folder = args.output.parent if args.output else Path.cwd()
    return download_url(args.input, folder, overwrite=args.force)


def run(args: argparse.Namespace) -> int:
    from deecho.backends import get_backend
    from deecho.backends.job import run_job
    from deecho.cli.progress import job_progress
    from deecho.config import load_settings
    from deecho.pipeline import ProcessRequest

    settings = load_settings()
    amounts = amounts_from(args, settings)
    prep = prep_options(args)
    request = ProcessRequest(
        input=_local_input(args),
        output=args.output,
        echo_output=args.echo_output,
        prep=prep,
        amounts=amounts,
        overwrite=args.force,
        bit_depth=args.bit_depth,
    )
    backend = get_backend(args.backend or "local", settings)
    with job_progress() as on_status:
        result = run_job(request, backend, on_status=on_status)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.output)
    if args.summary:
        print(_summary(result), file=sys.stderr)
    if result.clipped_samples and not args.summary:
        print(
            f"deecho: warning: {result.clipped_samples} samples clipped in the output;"
            " use --bit-depth float",
            file=sys.stderr,
        )
    return 0
