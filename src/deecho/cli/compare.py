"""`deecho compare ORIGINAL PROCESSED`: the null test, as numbers, JSON or a picture."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deecho.errors import OutputError, UsageError

if TYPE_CHECKING:
    from deecho.compare import CompareFigures, CompareResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="align a processed file onto its original and show what changed",
        description=(
            "Align PROCESSED onto ORIGINAL (offset, sample rate, clock drift, gain, polarity), "
            "then report the null depth and what changed: over time, per octave band, in "
            "echoes and RT60."
        ),
    )
    parser.add_argument("original", type=Path, metavar="ORIGINAL", help="the file as it was")
    parser.add_argument("processed", type=Path, metavar="PROCESSED", help="the file after")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--png", type=Path, metavar="PATH", help="also draw waveforms, residual and spectrograms"
    )
    parser.add_argument(
        "--skip-echoes",
        action="store_true",
        help="skip the echo and RT60 estimates of both files (faster on long files)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    png: Path | None = args.png
    if png is not None:  # before the slow imports: a bad path fails at once
        _check_png_target(png, [args.original, args.processed])
    from deecho.compare import compare_files

    # Both files are read from disk in blocks: memory does not grow with their length.
    result = compare_files(
        args.original,
        args.processed,
        engine_estimates=not args.skip_echoes,
        picture=png is not None,
    )
    if png is not None:
        _write_png(result, png, f"{args.original.name}  vs  {args.processed.name}")
    figures = result.figures()
    if args.json:
        out = figures.to_dict()
        out["original"]["path"] = str(args.original)
        out["processed"]["path"] = str(args.processed)
        if png is not None:
            out["png"] = str(png)
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(figures, args.original.name, args.processed.name))
        if png is not None:
            sys.stdout.write(f"picture      {png}\n")
    return 0


def _check_png_target(png: Path, inputs: list[Path]) -> None:
    """Refuse before any work is done: a PNG over an input, or into a missing folder."""
    if png.suffix.lower() != ".png":
        raise UsageError(f"--png {png}: the picture's name must end in .png")
    for source in inputs:
        if source.exists() and png.exists() and png.resolve() == source.resolve():
            raise UsageError(f"--png {png}: that is an input file; choose another name")
    folder = png.parent if str(png.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {png}: folder {folder} does not exist")


def _write_png(result: CompareResult, png: Path, title: str) -> None:
    from deecho.compare.plot import save_png

    try:
        save_png(result, png, title)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(f"cannot write {png}: {reason}; choose another path") from exc


def format_table(result: CompareFigures, original_name: str, processed_name: str) -> str:
    """The human-readable report: what moved, what cancelled, what changed."""
    lines = [f"{original_name}  vs  {processed_name}", ""]

    def row(label: str, value: str) -> None:
        lines.append(f"{label:<13}{value}")

    late = "late" if result.offset_samples >= 0 else "early"
    row(
        "offset",
        f"{result.offset_samples:+.3f} samples ({result.offset_ms:+.3f} ms): processed is {late}",
    )
    if result.drift_corrected:
        runs = "long" if result.drift_ppm >= 0 else "short"
        row("drift", f"{result.drift_ppm:+.3f} ppm: processed clock runs {runs} (corrected)")
    else:
        row("drift", f"{result.drift_ppm:+.3f} ppm: none measurable")
    polarity = "inverted" if result.polarity < 0 else "same"
    row("gain", f"{result.gain_db:+.3f} dB, polarity {polarity}")
    rates = f"{result.sample_rate} Hz"
    if result.processed.sample_rate != result.original.sample_rate:
        rates += f" (processed was {result.processed.sample_rate} Hz, resampled)"
    row("sample rate", rates)
    row(
        "channels",
        f"{result.original.channels} vs {result.processed.channels}, "
        f"compared {result.channels_compared}",
    )
    row("overlap", f"{result.overlap_s:.3f} s from {result.overlap_start_s:.3f} s of the original")
    lines.append("")
    summary = result.residual_over_time
    row("null depth", f"{result.residual_db:.2f} dB")
    shared = result.residual_shared_band_db
    if shared is not None and result.shared_band_hz is not None:
        row("  shared", f"{shared:.2f} dB over 0-{result.shared_band_hz:g} Hz, the band both carry")
    if summary.median_db is not None:
        row(
            "  over time",
            f"median {summary.median_db:.1f} dB, worst {summary.worst_db:.1f}"
            f" dB at {summary.worst_at_s:.1f} s ({summary.window_s * 1000:.0f} ms windows)",
        )
    row("correlation", f"{result.correlation:.6f}")
    row("SI-SDR", f"{result.si_sdr_db:.2f} dB")
    row("energy", f"{result.energy_removed_db:+.2f} dB removed")
    row("RT60", f"{_seconds(result.rt60_before_s)} before, {_seconds(result.rt60_after_s)} after")
    row("echoes", f"before: {_echoes(result.echoes_before)}")
    row("", f"after:  {_echoes(result.echoes_after)}")
    if result.octave_bands:
        lines.append("")
        lines.append(
            f"{'octave (Hz)':<13}{'original':>10}{'processed':>11}{'change':>9}{'null':>9}"
        )
        for band in result.octave_bands:
            lines.append(
                f"{band.center_hz:<13g}{band.original_db:>10.1f}{band.processed_db:>11.1f}"
                f"{band.difference_db:>+9.2f}{band.residual_db:>9.1f}"
            )
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _echoes(echoes: tuple[dict[str, Any], ...] | None) -> str:
    if echoes is None:
        return "n/a"
    if not echoes:
        return "none found"
    parts = []
    for echo in echoes:
        gain = float(echo.get("gain") or 0.0)
        parts.append(f"{float(echo.get('delay_ms') or 0.0):.1f} ms at {gain:.2f}")
    return ", ".join(parts)
