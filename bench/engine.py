"""The benchmark: deecho against nara_wpe on every generated case, as whole processes.

    python -m bench.engine                 # everything; writes the tables into bench/README.md
    python -m bench.engine --quick         # a few short cases, no speed runs, README untouched
    python -m bench.engine --only room     # cases whose name or group matches (comma-separated)
    python -m bench.engine --speed         # only the 3-minute and 60-minute runs
    python -m bench.engine --skip nara_wpe # deecho alone, for a quick look while tuning

For each case the input WAV (32-bit float) and the reference go to bench/out/;
each program reads the input and writes its output there, and its SI-SDR gain
over the input (against the reference) and its wall time are measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench import report
from bench.cases import Case, all_cases, find_cases
from bench.measure import run_measured
from bench.metrics import si_sdr
from bench.peers import Peer, deecho_peer, nara_wpe_peer

OUT_DIR = Path(__file__).resolve().parent / "out"
PEER_NAMES = ("deecho", "nara_wpe")
DRY_TARGET_DB = 30.0
# Float32 files that match sample for sample score about 230 dB; above this, say so.
IDENTICAL_DB = 150.0


@dataclass
class Score:
    """One program on one case."""

    si_sdr: float | None = None  # output vs reference, dB
    gain: float | None = None  # si_sdr minus the input's, dB (dry cases: None)
    seconds: float | None = None  # wall time of the whole process
    error: str | None = None
    found: str = ""  # what deecho reported finding (echo delays, RT60)


@dataclass
class CaseResult:
    name: str
    group: str
    description: str
    channels: int
    sample_rate: int
    duration_s: float
    input_si_sdr: float | None  # None for dry cases, where the reference is the input
    scores: dict[str, Score] = field(default_factory=dict)


def _describe_report(stdout: str) -> str:
    """A short summary of deecho's JSON report: the echoes it found and its RT60 estimates."""
    try:
        data: Any = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return ""
    found = _find_key(data, "echoes")
    parts = []
    if isinstance(found, list):
        echoes = [e for e in found if isinstance(e, dict)]
        parts += [
            f"{float(e.get('delay_ms', 0)):.0f}ms x{float(e.get('gain', 0)):.2f}"
            + (f" fb{float(e['feedback']):.2f}" if e.get("feedback") else "")
            + (f" ch{e['channel']}" if e.get("channel") is not None else "")
            for e in echoes[:3]
        ]
        if len(echoes) > 3:
            parts.append(f"+{len(echoes) - 3} more")
    before, after = _find_key(data, "rt60_before_s"), _find_key(data, "rt60_after_s")
    if isinstance(before, int | float):
        parts.append(f"RT60 {before:.2f}→{after:.2f}s" if isinstance(after, int | float) else "")
    return "; ".join(part for part in parts if part)


def _find_key(data: Any, key: str) -> Any:
    if isinstance(data, dict):
        if key in data:
            return data[key]
        for value in data.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


def score_output(path: Path, input_audio: np.ndarray, reference: np.ndarray, dry: bool) -> Score:
    """SI-SDR of a program's output file against the case's reference."""
    output, _ = sf.read(str(path), dtype="float32", always_2d=True)
    output = output.T
    if output.shape[0] != reference.shape[0]:
        return Score(error=f"{output.shape[0]} channels out, {reference.shape[0]} in")
    value = si_sdr(output, reference)
    gain = None if dry else value - si_sdr(input_audio, reference)
    return Score(si_sdr=value, gain=gain)


def run_case(case: Case, peers: Sequence[Peer], out_dir: Path) -> CaseResult:
    audio, reference, rate = case.generate()
    input_path = out_dir / f"{case.name}.input.wav"
    sf.write(str(input_path), audio.T, rate, subtype="FLOAT")
    sf.write(str(out_dir / f"{case.name}.reference.wav"), reference.T, rate, subtype="FLOAT")
    dry = case.group == "dry"
    result = CaseResult(
        name=case.name,
        group=case.group,
        description=case.description,
        channels=audio.shape[0],
        sample_rate=rate,
        duration_s=audio.shape[1] / rate,
        input_si_sdr=None if dry else si_sdr(audio, reference),
    )
    for peer in peers:
        output_path = out_dir / f"{case.name}.{peer.name}.wav"
        output_path.unlink(missing_ok=True)
        run = run_measured(peer.argv(input_path, output_path), env=peer.env(), timeout_s=600)
        if not run.ok or not output_path.exists():
            score = Score(seconds=run.seconds, error=run.error_line())
        else:
            score = score_output(output_path, audio, reference, dry)
            score.seconds = run.seconds
            if peer.name == "deecho":
                score.found = _describe_report(run.stdout)
        result.scores[peer.name] = score
        _progress(case, peer, score)
    return result


def _progress(case: Case, peer: Peer, score: Score) -> None:
    if score.error:
        line = f"error: {score.error}"
    elif score.gain is not None:
        line = f"gain {score.gain:+.2f} dB"
    else:
        line = f"out vs in {score.si_sdr:.1f} dB"
    print(f"  {case.name:30s} {peer.name:9s} {line}  ({score.seconds:.1f} s)", file=sys.stderr)


# --- tables and targets ------------------------------------------------------------------


def _cell(score: Score | None, dry: bool) -> str:
    if score is None:
        return "skipped"
    if score.error:
        return "error"
    if dry:
        if score.si_sdr is not None and score.si_sdr > IDENTICAL_DB:
            return "identical (out vs in)"
        return f"{report.fmt(score.si_sdr)} dB (out vs in)"
    return report.fmt(score.gain, suffix=" dB") if score.gain is not None else "—"


def case_rows(results: Sequence[CaseResult]) -> list[list[str]]:
    rows = []
    for result in results:
        dry = result.group == "dry"
        deecho, nara = result.scores.get("deecho"), result.scores.get("nara_wpe")
        rows.append(
            [
                result.name,
                f"{result.channels}ch {result.sample_rate // 1000:g}k {result.duration_s:.0f}s",
                "—" if dry else report.fmt(result.input_si_sdr, suffix=" dB"),
                _cell(deecho, dry),
                _cell(nara, dry),
                report.fmt(deecho.seconds if deecho else None, 2),
                report.fmt(nara.seconds if nara else None, 2),
                (deecho.error or deecho.found) if deecho else "",
            ]
        )
    return rows


CASE_HEADER = (
    "case",
    "audio",
    "input SI-SDR",
    "deecho gain",
    "nara_wpe gain",
    "deecho s",
    "nara_wpe s",
    "deecho found",
)


def _gains(results: Sequence[CaseResult], group: str, peer: str) -> list[float] | None:
    """Every gain of a group, or None if any case of it failed (or there are none)."""
    values = [r.scores[peer].gain for r in results if r.group == group and peer in r.scores]
    if not values or any(v is None for v in values):
        return None
    return [float(v) for v in values if v is not None]


def _room_target(results: Sequence[CaseResult]) -> report.Target:
    """deecho must beat nara_wpe by 0.5 dB on all rooms and on the speech rooms alone.

    WPE also removes part of sustained tonal music (it is predictable from past
    frames), so on the music rooms nara_wpe loses ground by itself; judging the
    speech rooms separately keeps the comparison from being won on that alone.
    """
    parts = []
    passed: bool | None = True
    for label, subset in (
        ("all", [r for r in results if r.group == "room"]),
        ("speech", [r for r in results if r.group == "room" and "speech" in r.name]),
    ):
        if not subset:
            continue
        ours, theirs = _gains(subset, "room", "deecho"), _gains(subset, "room", "nara_wpe")
        ours_mean = statistics.fmean(ours) if ours else None
        theirs_mean = statistics.fmean(theirs) if theirs else None
        ours_text, theirs_text = report.fmt(ours_mean, 2), report.fmt(theirs_mean, 2)
        parts.append(f"{label}: deecho {ours_text} vs nara_wpe {theirs_text} dB")
        if ours_mean is None or theirs_mean is None:
            passed = None
        elif passed is not None:
            passed = passed and ours_mean >= theirs_mean + 0.5
    return report.Target(
        "rooms, RT60 0.4–1.0 s",
        "mean SI-SDR gain ≥ nara_wpe's + 0.5 dB (all rooms, and speech rooms alone)",
        "; ".join(parts),
        passed,
    )


def quality_targets(results: Sequence[CaseResult]) -> list[report.Target]:
    targets = []
    groups = {r.group for r in results}
    if "delay" in groups:
        gains = _gains(results, "delay", "deecho")
        mean = statistics.fmean(gains) if gains else None
        targets.append(
            report.Target(
                "digital delay echoes (80–600 ms, feedback ≤ 0.5, mix ≤ 0.5)",
                "mean SI-SDR gain ≥ 20 dB",
                f"mean {report.fmt(mean)} dB (worst {report.fmt(min(gains) if gains else None)})",
                None if mean is None else mean >= 20.0,
            )
        )
    for group, label in (
        ("reflections", "two filtered reflections (100–300 ms)"),
        ("pingpong", "stereo ping-pong echoes"),
    ):
        if group in groups:
            gains = _gains(results, group, "deecho")
            worst = min(gains) if gains else None
            targets.append(
                report.Target(
                    label,
                    "SI-SDR gain ≥ 10 dB (every case)",
                    f"worst {report.fmt(worst)} dB, mean "
                    f"{report.fmt(statistics.fmean(gains) if gains else None)}",
                    None if worst is None else worst >= 10.0,
                )
            )
    if "room" in groups:
        targets.append(_room_target(results))
    if "dry" in groups:
        values = [
            r.scores["deecho"].si_sdr for r in results if r.group == "dry" and "deecho" in r.scores
        ]
        worst = (
            None
            if not values or any(v is None for v in values)
            else min(v for v in values if v is not None)
        )
        targets.append(
            report.Target(
                "dry input",
                f"output vs input SI-SDR ≥ {DRY_TARGET_DB:g} dB (every case)",
                f"worst {report.fmt(worst)} dB",
                None if worst is None else worst >= DRY_TARGET_DB,
            )
        )
    return targets


def quality_markdown(results: Sequence[CaseResult], machine: str, deecho_how: str) -> str:
    how = "`deecho process … --json`" if deecho_how == "cli" else "deecho.engine.remove_echo"
    lines = [
        report.load_note(machine),
        "",
        f"deecho ran as {how}; nara_wpe as bench/peers/nara_wpe_run.py with OMP_NUM_THREADS=1 "
        "(STFT 2048/512, 40 taps, delay 2, 3 iterations, per channel). Times are wall seconds of "
        "the whole process, start-up included. Gains are SI-SDR of the output minus SI-SDR of "
        "the input, both against the case's reference; dry cases show output vs input SI-SDR.",
        "",
        report.markdown_table(CASE_HEADER, case_rows(results)),
    ]
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="few short cases, no speed runs")
    parser.add_argument("--only", metavar="NAMES", help="cases whose name or group matches")
    parser.add_argument("--speed", action="store_true", help="only the speed and memory runs")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed and memory runs")
    parser.add_argument(
        "--skip", choices=PEER_NAMES, action="append", default=[], help="leave a program out"
    )
    parser.add_argument(
        "--deecho",
        choices=("auto", "cli", "engine"),
        default="auto",
        help="run deecho through its CLI or its engine function (default: the CLI if installed)",
    )
    parser.add_argument(
        "--write-readme", action="store_true", help="update bench/README.md even for a partial run"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    machine = report.machine_note()
    deecho = deecho_peer(args.deecho)
    peers = [peer for peer in (deecho, nara_wpe_peer()) if peer.name not in args.skip]
    full = not (args.quick or args.only or args.speed or args.no_speed or args.skip)
    write_readme = full or args.write_readme
    print(f"machine: {machine}\ndeecho via: {deecho.how}", file=sys.stderr)

    targets: list[report.Target] = []
    if not args.speed:
        cases = list(find_cases(args.only, args.quick)) if args.only else all_cases(args.quick)
        if not cases:
            print(f"no case matches {args.only!r}", file=sys.stderr)
            return 64
        results = [run_case(case, peers, OUT_DIR) for case in cases]
        print()
        print(report.plain_table(CASE_HEADER, case_rows(results)))
        targets += quality_targets(results)
        (OUT_DIR / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
        if write_readme:
            report.update_readme("quality", quality_markdown(results, machine, deecho.how))

    if args.speed or (not args.quick and not args.no_speed and not args.only):
        from bench import speed

        speed_result = speed.run(
            deecho, nara_wpe_peer() if "nara_wpe" not in args.skip else None, OUT_DIR
        )
        targets += speed.targets(speed_result)
        print()
        print(speed.markdown(speed_result, machine))
        if write_readme:
            report.update_readme("speed", speed.markdown(speed_result, machine))

    print()
    print(
        report.plain_table(
            ("case", "target", "measured", "verdict"),
            [(t.case, t.target, t.measured, t.verdict) for t in targets],
        )
    )
    if write_readme and full:
        report.update_readme(
            "targets", report.load_note(machine) + "\n\n" + report.targets_table(targets)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
