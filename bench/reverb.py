"""The reverb benchmark: real recordings through real reverbs, deecho against nara_wpe and an
ideal ratio mask (issue 10).

    python -m bench.reverb                          # everything; writes the tables into README
    python -m bench.reverb --quick                  # seven representative cases (~1-2 min)
    python -m bench.reverb --only room,voice        # by group, material or name part
    python -m bench.reverb --skip nara_wpe          # deecho alone
    python -m bench.reverb --inprocess --skip nara_wpe   # deecho.engine.remove_echo in this
                                                    # process: same figures, no start-up
    python -m bench.reverb --tables [--write-readme]     # the last run's tables again

Inputs, references and outputs go to bench/out/reverb/ as WAVs, the figures to
bench/out/reverb/results.json. The material comes from Debian packages
(bench/recordings.py; `make bench` installs them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from bench import recordings, report
from bench.engine import Score, _describe_report, _find_key, score_output
from bench.measure import run_measured
from bench.metrics import si_sdr
from bench.oracle import ideal_mask_gain, schroeder_rt60
from bench.peers import Peer, deecho_peer, nara_wpe_peer
from bench.reverb_cases import ReverbCase, find_reverb_cases, reverb_cases
from bench.sources import resample

OUT_DIR = Path(__file__).resolve().parent / "out" / "reverb"
PEER_NAMES = ("deecho", "nara_wpe")
DRY_TARGET_DB = 30.0
IDENTICAL_DB = 150.0
REVERB_GROUPS = ("freeverb", "sox", "room", "chain")
BLIND_RT60_RATE = 8000


@dataclass
class ReverbResult:
    name: str
    group: str
    material: str
    kind: str
    effect: str
    channels: int
    input_si_sdr: float | None
    mask_gain: float | None = None
    mask_form: str = ""
    scores: dict[str, Score] = field(default_factory=dict)
    rt60_measured_s: float | None = None  # Schroeder T30 on the room's RIR
    rt60_deecho_s: float | None = None  # deecho's blind estimate (rt60_before_s)
    rt60_blind_rt60_s: float | None = None  # PyPI blind-rt60 on the input file
    # Chains only: deecho with the reverb amount at 0, scored against the chain's input
    # without its echo (the echo-removal half), and what the reverb stage then adds on
    # the dry reference (full gain minus the echo-only gain).
    chain_echo_gain: float | None = None
    chain_reverb_gain: float | None = None
    # The echo half read on the dry reference: SI-SDR of deecho's echo-only output minus
    # that of the echo-free input (a perfect echo removal), both against the dry take.
    chain_echo_vs_perfect: float | None = None


def _run_inprocess(input_audio: np.ndarray, rate: int, output_path: Path) -> tuple[Score, str]:
    """deecho.engine.remove_echo in this process; returns the score's timing and its JSON."""
    from deecho.engine import remove_echo

    started = time.perf_counter()
    result = remove_echo(input_audio, rate)
    seconds = time.perf_counter() - started
    sf.write(str(output_path), np.asarray(result.no_echo).T, rate, subtype="FLOAT")
    return Score(seconds=seconds), json.dumps({"report": result.report.to_dict()})


def _report_number(stdout: str, key: str) -> float | None:
    """One number from deecho's JSON report (the last line of its stdout), if it is there."""
    try:
        value = _find_key(json.loads(stdout.strip().splitlines()[-1]), key)
    except (ValueError, IndexError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _found(stdout: str) -> str:
    """The echoes and RT60 (as bench/engine.py shows them), plus the reverb taken and the
    direct-to-reverberant ratio when the engine reports them."""
    parts = [_describe_report(stdout)]
    removed = _report_number(stdout, "reverb_removed_db")
    if removed:
        parts.append(f"reverb −{abs(removed):.1f} dB")
    before, after = (_report_number(stdout, f"drr_{when}_db") for when in ("before", "after"))
    if before is not None and after is not None:
        parts.append(f"DRR {before:.1f}→{after:.1f} dB")
    return "; ".join(part for part in parts if part)


def _blind_rt60(audio: np.ndarray, rate: int) -> float | None:
    try:
        from blind_rt60 import BlindRT60
    except ImportError:
        return None
    # Its model runs at 8 kHz (the default); resampled here, exactly, because its own
    # integer decimation (44.1 kHz // 8 kHz = 5) would leave 8.82 kHz labelled as 8.
    mono = resample(audio.mean(axis=0), rate, BLIND_RT60_RATE).astype(np.float64)
    try:
        return float(BlindRT60(fs=BLIND_RT60_RATE)(mono, BLIND_RT60_RATE))
    except Exception:  # a peer's failure is a blank cell, not a stopped run
        return None


def run_case(
    case: ReverbCase, peers: Sequence[Peer], inprocess: bool, out_dir: Path
) -> ReverbResult:
    audio, reference, rate = case.generate()
    input_path = out_dir / f"{case.name}.input.wav"
    sf.write(str(input_path), audio.T, rate, subtype="FLOAT")
    sf.write(str(out_dir / f"{case.name}.reference.wav"), reference.T, rate, subtype="FLOAT")
    dry = case.group == "dry"
    result = ReverbResult(
        case.name,
        case.group,
        case.material,
        case.kind,
        case.effect,
        audio.shape[0],
        None if dry else si_sdr(audio, reference),
    )
    if not dry:
        mask = ideal_mask_gain(audio, reference)
        result.mask_gain, result.mask_form = mask.gain_db, mask.form
    for peer in peers:
        output_path = out_dir / f"{case.name}.{peer.name}.wav"
        output_path.unlink(missing_ok=True)
        if peer.name == "deecho" and inprocess:
            timing, stdout = _run_inprocess(audio, rate, output_path)
            score = score_output(output_path, audio, reference, dry)
            score.seconds = timing.seconds
        else:
            run = run_measured(peer.argv(input_path, output_path), env=peer.env(), timeout_s=600)
            stdout = run.stdout
            if not run.ok or not output_path.exists():
                result.scores[peer.name] = Score(seconds=run.seconds, error=run.error_line())
                continue
            score = score_output(output_path, audio, reference, dry)
            score.seconds = run.seconds
        if peer.name == "deecho":
            score.found = _found(stdout)
            result.rt60_deecho_s = _report_number(stdout, "rt60_before_s")
        result.scores[peer.name] = score
    if case.group == "chain":
        _score_chain_halves(case, result, audio, reference, rate)
    rir = case.impulse_response()
    if rir is not None:
        result.rt60_measured_s = schroeder_rt60(rir, rate)
        result.rt60_blind_rt60_s = _blind_rt60(audio, rate)
    _progress(result)
    return result


def _score_chain_halves(
    case: ReverbCase, result: ReverbResult, audio: np.ndarray, reference: np.ndarray, rate: int
) -> None:
    """The echo half and the reverb half of a chain, in-process (`--reverb 0` in the CLI)."""
    from deecho.engine import Amounts, remove_echo

    echo_free = case.echo_free_reference()
    full = _gain(result, "deecho")
    if echo_free is None or full is None:
        return
    echo_only = remove_echo(audio, rate, Amounts(echo=1.0, reverb=0.0)).no_echo
    result.chain_echo_gain = si_sdr(echo_only, echo_free) - si_sdr(audio, echo_free)
    result.chain_reverb_gain = full - (si_sdr(echo_only, reference) - si_sdr(audio, reference))
    result.chain_echo_vs_perfect = si_sdr(echo_only, reference) - si_sdr(echo_free, reference)


def _progress(result: ReverbResult) -> None:
    cells = [
        f"{name} {_cell(score, result.group == 'dry')}" for name, score in result.scores.items()
    ]
    mask = f"IRM {report.fmt(result.mask_gain)}" if result.mask_gain is not None else ""
    print(f"  {result.name:32s} {mask:10s} {'  '.join(cells)}", file=sys.stderr)


# --- tables -------------------------------------------------------------------------------


def _cell(score: Score | None, dry: bool) -> str:
    if score is None:
        return "skipped"
    if score.error:
        return "error"
    if dry:
        if score.si_sdr is not None and score.si_sdr > IDENTICAL_DB:
            return "identical"
        return f"{report.fmt(score.si_sdr)} (out vs in)"
    return report.fmt(score.gain)


def _gain(result: ReverbResult, peer: str) -> float | None:
    score = result.scores.get(peer)
    return None if score is None or score.error else score.gain


def _share(result: ReverbResult) -> str:
    gain = _gain(result, "deecho")
    if gain is None or result.mask_gain is None or result.mask_gain <= 0.1:
        return "—"
    return f"{100 * gain / result.mask_gain:.0f} %"


CASE_HEADER = (
    "case",
    "material",
    "effect",
    "input SI-SDR",
    "deecho gain",
    "nara_wpe gain",
    "IRM gain",
    "deecho % of IRM",
    "deecho found",
    "deecho s",
    "nara_wpe s",
)


def case_rows(results: Sequence[ReverbResult]) -> list[list[str]]:
    rows = []
    for result in results:
        dry = result.group == "dry"
        deecho, nara = result.scores.get("deecho"), result.scores.get("nara_wpe")
        rows.append(
            [
                result.name,
                f"{result.material} ({result.kind}, {result.channels}ch)",
                result.effect,
                "—" if dry else report.fmt(result.input_si_sdr),
                _cell(deecho, dry),
                _cell(nara, dry),
                "—" if dry else f"{report.fmt(result.mask_gain)} ({result.mask_form})",
                "—" if dry else _share(result),
                (deecho.error or deecho.found) if deecho else "",
                report.fmt(deecho.seconds if deecho else None, 2),
                report.fmt(nara.seconds if nara else None, 2),
            ]
        )
    return rows


RT60_HEADER = (
    "case",
    "RT60 on RIR (T30)",
    "deecho",
    "deecho error",
    "blind-rt60",
    "blind-rt60 error",
)


def _error(estimate: float | None, truth: float | None) -> str:
    if estimate is None or truth is None:
        return "—"
    return f"{100 * (estimate - truth) / truth:+.0f} %"


def rt60_rows(results: Sequence[ReverbResult]) -> list[list[str]]:
    return [
        [
            r.name,
            report.fmt(r.rt60_measured_s, 2, " s"),
            report.fmt(r.rt60_deecho_s, 2, " s"),
            _error(r.rt60_deecho_s, r.rt60_measured_s),
            report.fmt(r.rt60_blind_rt60_s, 2, " s"),
            _error(r.rt60_blind_rt60_s, r.rt60_measured_s),
        ]
        for r in results
        if r.rt60_measured_s is not None
    ]


# --- targets (issue 10) -------------------------------------------------------------------


def _mean(values: Sequence[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return statistics.fmean(v for v in values if v is not None)


def _is_voice(result: ReverbResult) -> bool:
    return result.kind in ("voice", "speech")


def targets(results: Sequence[ReverbResult]) -> list[report.Target]:
    found: list[report.Target] = []
    reverb = [r for r in results if r.group in REVERB_GROUPS]
    if reverb:
        gains = [_gain(r, "deecho") for r in reverb]
        worst = min((g, r.name) for g, r in zip(gains, reverb, strict=True) if g is not None)
        below = sum(1 for g in gains if g is not None and g < -0.5)
        found.append(
            report.Target(
                "every reverb-type case (rooms, algorithmic, chains)",
                "SI-SDR gain ≥ −0.5 dB",
                f"worst {worst[0]:.1f} dB ({worst[1]}); {below} of {len(reverb)} below",
                None if any(g is None for g in gains) else below == 0,
            )
        )
    for label, subset in (
        ("rooms, voice and speech", [r for r in results if r.group == "room" and _is_voice(r)]),
        ("rooms, music", [r for r in results if r.group == "room" and not _is_voice(r)]),
        (
            "algorithmic reverbs on voice",
            [r for r in results if r.group in ("freeverb", "sox") and _is_voice(r)],
        ),
    ):
        if not subset:
            continue
        share = 0.65 if label.startswith("rooms") else 0.5
        ours, mask = (
            _mean([_gain(r, "deecho") for r in subset]),
            _mean([r.mask_gain for r in subset]),
        )
        ratio = None if ours is None or not mask else ours / mask
        found.append(
            report.Target(
                label,
                f"mean gain ≥ {share:.0%} of the ideal mask's",
                f"deecho {report.fmt(ours, 2)} dB vs IRM {report.fmt(mask, 2)} dB "
                f"({report.fmt(None if ratio is None else 100 * ratio, 0, ' %')})",
                None if ratio is None else ratio >= share,
            )
        )
    instruments = [r for r in results if r.group in ("freeverb", "sox") and not _is_voice(r)]
    if instruments:
        ours = _mean([_gain(r, "deecho") for r in instruments])
        theirs = _mean([_gain(r, "nara_wpe") for r in instruments])
        found.append(
            report.Target(
                "algorithmic reverbs on instruments",
                "mean gain ≥ 0 and ≥ nara_wpe's + 1 dB",
                f"deecho {report.fmt(ours, 2)} dB vs nara_wpe {report.fmt(theirs, 2)} dB",
                None if ours is None or theirs is None else ours >= max(0.0, theirs + 1.0),
            )
        )
    found += _chain_targets(results)
    found += _dry_and_rt60_targets(results)
    return found


def _chain_targets(results: Sequence[ReverbResult]) -> list[report.Target]:
    by_name = {r.name: r for r in results}
    parts, passed = [], True
    for chain in (r for r in results if r.group == "chain"):
        echo = by_name.get(chain.name.replace("chain_", "echo_only_", 1))
        echo_gain = _gain(echo, "deecho") if echo else None
        halves = chain.chain_echo_gain, chain.chain_reverb_gain
        if echo_gain is None or halves[0] is None or halves[1] is None:
            return []
        on_dry = chain.chain_echo_vs_perfect
        beside = f" (on the dry take {on_dry:+.2f} vs perfect)" if on_dry is not None else ""
        parts.append(
            f"{chain.material}: echo {halves[0]:.1f} vs {echo_gain:.1f}{beside},"
            f" reverb {halves[1]:+.1f}"
        )
        passed = passed and halves[0] >= echo_gain - 1.0 and halves[1] > 0.0
    if not parts:
        return []
    return [
        report.Target(
            "chains (delay into reverb), stereo",
            "echo half ≥ echo-only gain on the same delay − 1 dB, plus a positive reverb half",
            "; ".join(parts) + " dB",
            passed,
        )
    ]


def _dry_and_rt60_targets(results: Sequence[ReverbResult]) -> list[report.Target]:
    found = []
    dry = [r.scores["deecho"].si_sdr for r in results if r.group == "dry" and "deecho" in r.scores]
    if dry:
        worst = None if any(v is None for v in dry) else min(v for v in dry if v is not None)
        found.append(
            report.Target(
                "dry recordings, sustained ones included",
                f"output vs input ≥ {DRY_TARGET_DB:g} dB (every case)",
                f"worst {report.fmt(worst)} dB",
                None if worst is None else worst >= DRY_TARGET_DB,
            )
        )
    rooms = [r for r in results if r.rt60_measured_s is not None]
    if rooms:
        ours = [_relative_error(r.rt60_deecho_s, r.rt60_measured_s) for r in rooms]
        theirs = [_relative_error(r.rt60_blind_rt60_s, r.rt60_measured_s) for r in rooms]
        # A room with no RT60 reported is a miss: `null` is only right where there is no room.
        answered = [e for e in ours if e is not None]
        blank = len(ours) - len(answered)
        worst = max(answered) if answered else None
        our_mean = statistics.fmean(answered) if answered else None
        their_mean = _mean(theirs)
        found.append(
            report.Target(
                "blind RT60 on every bench room",
                "within ±20 % of the RIR's RT60, and closer than blind-rt60 on average",
                f"deecho worst {_percent(worst)}, mean {_percent(our_mean)}"
                f"{f', none reported on {blank} of {len(ours)} rooms' if blank else ''}; "
                f"blind-rt60 mean {_percent(their_mean)}",
                None
                if worst is None
                else blank == 0
                and worst <= 0.2
                and (their_mean is None or (our_mean or 0.0) < their_mean),
            )
        )
    return found


def _percent(fraction: float | None) -> str:
    return report.fmt(None if fraction is None else 100 * fraction, 0, " %")


def _relative_error(estimate: float | None, truth: float | None) -> float | None:
    if estimate is None or truth is None:
        return None
    return abs(estimate - truth) / truth


# --- output -------------------------------------------------------------------------------


def markdown(results: Sequence[ReverbResult], note: str, how: str) -> str:
    """The README section: `note` is where and when it ran (report.load_note)."""
    found = targets(results)
    return "\n".join(
        [
            note,
            "",
            f"deecho ran as {how}; nara_wpe as bench/peers/nara_wpe_run.py (OMP_NUM_THREADS=1). "
            "Gains are SI-SDR of the output minus that of the input, against the case's "
            "reference, in dB; dry cases show output vs input SI-SDR. IRM: the ideal ratio "
            "mask's gain (bench/oracle.py; which form won in brackets).",
            "",
            report.targets_table(found),
            "",
            report.markdown_table(CASE_HEADER, case_rows(results)),
            "",
            "RT60 of the room cases: Schroeder backward integration on the RIR (T30 fit, "
            "−5 to −35 dB) against deecho's blind `rt60_before_s` and blind-rt60 (PyPI) on "
            "the same input file.",
            "",
            report.markdown_table(RT60_HEADER, rt60_rows(results)),
        ]
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reverb", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="seven representative cases")
    parser.add_argument("--only", metavar="NAMES", help="cases whose group, material or name match")
    parser.add_argument(
        "--skip", choices=PEER_NAMES, action="append", default=[], help="leave a program out"
    )
    parser.add_argument(
        "--inprocess",
        action="store_true",
        help="call deecho.engine.remove_echo in this process (no start-up; for tuning)",
    )
    parser.add_argument(
        "--write-readme", action="store_true", help="update bench/README.md even for a partial run"
    )
    parser.add_argument(
        "--tables",
        action="store_true",
        help="print (and with --write-readme, write) the tables from the last results.json; "
        "runs nothing",
    )
    return parser.parse_args(argv)


def load_results(path: Path) -> list[ReverbResult]:
    """The results a run saved in results.json."""
    results = []
    for item in json.loads(path.read_text()):
        scores = {name: Score(**score) for name, score in item.pop("scores").items()}
        results.append(ReverbResult(**item, scores=scores))
    return results


def _print_tables(results: Sequence[ReverbResult]) -> None:
    print()
    print(report.plain_table(CASE_HEADER, case_rows(results)))
    if any(r.rt60_measured_s is not None for r in results):
        print()
        print(report.plain_table(RT60_HEADER, rt60_rows(results)))
    print()
    print(
        report.plain_table(
            ("case", "target", "measured", "verdict"),
            [(t.case, t.target, t.measured, t.verdict) for t in targets(results)],
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.tables:
        saved = load_results(OUT_DIR / "results.json")
        _print_tables(saved)
        if args.write_readme:
            run = json.loads((OUT_DIR / "run.json").read_text())
            report.update_readme("reverb", markdown(saved, run["note"], run["how"]))
        return 0
    lacking = recordings.missing()
    if lacking:
        print(
            f"missing Debian packages for the recordings: {' '.join(lacking)} "
            "(run `make bench-deps`)",
            file=sys.stderr,
        )
        return 69
    cases = (
        list(find_reverb_cases(args.only, args.quick)) if args.only else reverb_cases(args.quick)
    )
    if not cases:
        print(f"no case matches {args.only!r}", file=sys.stderr)
        return 64
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    machine = report.machine_note()
    deecho = deecho_peer("engine" if args.inprocess else "auto")
    how = (
        "deecho.engine.remove_echo in-process"
        if args.inprocess
        else (
            "`deecho process … --json`"
            if deecho.how == "cli"
            else "bench/peers/deecho_engine_run.py"
        )
    )
    peers = [peer for peer in (deecho, nara_wpe_peer()) if peer.name not in args.skip]
    print(f"machine: {machine}\ndeecho via: {how}; {len(cases)} cases", file=sys.stderr)
    results = [run_case(case, peers, args.inprocess, OUT_DIR) for case in cases]
    (OUT_DIR / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    _print_tables(results)
    full = not (args.quick or args.only or args.skip or args.inprocess)
    note = report.load_note(machine)
    (OUT_DIR / "run.json").write_text(json.dumps({"note": note, "how": how}))
    if full or args.write_readme:
        report.update_readme("reverb", markdown(results, note, how))
    return 0


if __name__ == "__main__":
    sys.exit(main())
