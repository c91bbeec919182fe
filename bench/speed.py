"""Speed and memory: whole `deecho process` runs on a 3-minute and a 60-minute stereo file.

- 3 minutes, stereo, 44.1 kHz (music and speech with a feedback delay): wall time
  of `deecho process` (target: <= 0.05 x real time, i.e. 9 s, on 2 cores) and of
  nara_wpe on the same file (target: deecho <= 0.2 x nara_wpe's time).
- 60 minutes, stereo, 44.1 kHz, written block by block (never whole in memory):
  peak resident memory of `deecho process` (target: <= 1.5 GB).

The inputs are generated once and cached under bench/.cache/ (git-ignored).

    python -m bench.speed   # same as python -m bench.engine --speed
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pedalboard
import soundfile as sf

from bench import report, sources
from bench.measure import Run, run_measured
from bench.peers import Peer, deecho_peer, nara_wpe_peer

CACHE_DIR = sources.CACHE_DIR
RATE = 44100
SHORT_S = 180.0
LONG_S = 3600.0
SEGMENT_S = 180.0  # the long file is written one segment at a time
REAL_TIME_TARGET = 0.05
NARA_RATIO_TARGET = 0.2
RSS_TARGET_BYTES = 1.5e9
# Keeps `python -m bench.engine` near its 15-minute budget even when deecho is slow.
LONG_TIMEOUT_S = 600
# Bump when the generated material changes, so stale cached files are not reused.
VERSION = 1


@dataclass(frozen=True)
class SpeedResult:
    short_path: Path
    short_seconds: float
    deecho_short: Run | None
    nara_short: Run | None
    long_seconds: float
    deecho_long: Run | None
    long_output_frames_ok: bool | None


def _echo() -> pedalboard.Delay:
    return pedalboard.Delay(delay_seconds=0.28, feedback=0.35, mix=0.3)


def _segment(index: int, music_pool: list[np.ndarray]) -> np.ndarray:
    """One stereo segment of music and speech: (2, SEGMENT_S * RATE) float32, dry."""
    music = music_pool[index % len(music_pool)]
    talk = sources.speech(RATE, SEGMENT_S, seed=300 + index)
    mix = 0.45 * music + np.stack([0.55 * talk, 0.45 * talk])
    return (0.8 * mix / (np.max(np.abs(mix)) + 1e-9)).astype(np.float32)


def _music_pool(count: int) -> list[np.ndarray]:
    # Music synthesis is the slow part (about 12 s per 3 minutes), so the long file
    # reuses a few music beds under always-new speech.
    return [sources.music(RATE, SEGMENT_S, seed=200 + i, stereo=True) for i in range(count)]


def write_echo_file(path: Path, seconds: float, music_beds: int) -> Path:
    """Generate music+speech with a feedback delay, stream it to `path` (16-bit WAV), cached."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.wav")
    pool = _music_pool(music_beds)
    echo = _echo()
    total = round(seconds * RATE)
    written = 0
    with sf.SoundFile(str(partial), "w", RATE, 2, subtype="PCM_16") as sink:
        index = 0
        while written < total:
            block = _segment(index, pool)[:, : total - written]
            wet = echo.process(block, RATE, reset=False)  # the delay line carries over
            sink.write(np.clip(wet, -1.0, 1.0).T)
            written += block.shape[1]
            index += 1
    partial.replace(path)
    return path


def run(deecho: Peer, nara: Peer | None, out_dir: Path, long_run: bool = True) -> SpeedResult:
    short_path = write_echo_file(CACHE_DIR / f"speed_3min_v{VERSION}.wav", SHORT_S, 1)
    print("speed: 3-minute file through deecho", file=sys.stderr)
    deecho_short = _timed(deecho, short_path, out_dir / "speed_3min.deecho.wav")
    (out_dir / "speed_3min.deecho.json").write_text(deecho_short.stdout)
    nara_short = None
    if nara is not None:
        print("speed: 3-minute file through nara_wpe", file=sys.stderr)
        nara_short = _timed(nara, short_path, out_dir / "speed_3min.nara_wpe.wav")
    deecho_long = None
    frames_ok = None
    if long_run:
        print("speed: writing/reusing the 60-minute file", file=sys.stderr)
        long_path = write_echo_file(CACHE_DIR / f"speed_60min_v{VERSION}.wav", LONG_S, 2)
        long_out = out_dir / "speed_60min.deecho.wav"
        long_out.unlink(missing_ok=True)
        print("speed: 60-minute file through deecho (peak memory)", file=sys.stderr)
        deecho_long = run_measured(
            deecho.argv(long_path, long_out),
            env=deecho.env(),
            measure_memory=True,
            timeout_s=LONG_TIMEOUT_S,
        )
        # deecho's --json report (echoes found, RT60), kept for a look at what it did.
        (out_dir / "speed_60min.deecho.json").write_text(deecho_long.stdout)
        if deecho_long.ok and long_out.exists():
            frames_ok = sf.info(str(long_out)).frames == sf.info(str(long_path)).frames
        long_out.unlink(missing_ok=True)  # 600+ MB of float WAV: not worth keeping
    return SpeedResult(
        short_path, SHORT_S, deecho_short, nara_short, LONG_S, deecho_long, frames_ok
    )


def _timed(peer: Peer, input_path: Path, output_path: Path) -> Run:
    output_path.unlink(missing_ok=True)
    # Measured under GNU time too: its CPU seconds say how much of the wall time was waiting.
    result = run_measured(
        peer.argv(input_path, output_path), env=peer.env(), measure_memory=True, timeout_s=900
    )
    status = f"{result.seconds:.1f} s" if result.ok else f"error: {result.error_line()}"
    print(f"  {peer.name}: {status}", file=sys.stderr)
    return result


def _seconds(run: Run | None) -> float | None:
    return run.seconds if run is not None and run.ok else None


def targets(result: SpeedResult) -> list[report.Target]:
    ours, theirs = _seconds(result.deecho_short), _seconds(result.nara_short)
    budget = REAL_TIME_TARGET * result.short_seconds
    real_time = None if ours is None else ours / result.short_seconds
    rows = [
        report.Target(
            "3-min stereo 44.1 kHz, whole `deecho process` run",
            f"≤ {REAL_TIME_TARGET:g} × real time ({budget:g} s)",
            f"{report.fmt(ours, 2)} s ({report.fmt(real_time, 3)} × RT)",
            None if ours is None else ours <= budget,
        ),
        report.Target(
            "3-min stereo 44.1 kHz, whole `deecho process` run",
            f"≤ {NARA_RATIO_TARGET:g} × nara_wpe's time",
            f"{report.fmt(ours / theirs if ours and theirs else None, 3)} × "
            f"(nara_wpe {report.fmt(theirs, 1)} s)",
            None if ours is None or theirs is None else ours <= NARA_RATIO_TARGET * theirs,
        ),
    ]
    rows.append(_memory_target(result.deecho_long))
    return rows


def _memory_target(long_run: Run | None) -> report.Target:
    """Peak RSS of the 60-minute run; a run stopped at the time limit can still fail it."""
    peak = long_run.peak_rss_bytes if long_run is not None else None
    measured = "—" if peak is None else f"{peak / 1e9:.2f} GB ({peak / 2**20:.0f} MiB)"
    passed: bool | None = None
    if long_run is not None and peak is not None:
        if long_run.ok:
            passed = peak <= RSS_TARGET_BYTES
        elif long_run.timed_out:
            measured += f", peak until stopped at the time limit ({long_run.seconds:.0f} s)"
            passed = False if peak > RSS_TARGET_BYTES else None
        else:
            measured = f"error: {long_run.error_line()}"
    return report.Target("60-min stereo 44.1 kHz", "peak RSS ≤ 1.5 GB", measured, passed)


def markdown(result: SpeedResult, machine: str) -> str:
    def cell(run: Run | None, seconds: float) -> list[str]:
        if run is None:
            return ["skipped", "—", "—"]
        if not run.ok:
            return [f"error: {run.error_line()}", "—", "—"]
        cpu = "—" if run.cpu_seconds is None else f"{run.cpu_seconds:.1f}"
        return [f"{run.seconds:.2f}", f"{run.seconds / seconds:.3f}", cpu]

    def memory(run: Run | None) -> str:
        if run is None or not run.peak_rss_bytes or not (run.ok or run.timed_out):
            return "—"
        text = f"{run.peak_rss_bytes / 2**20:.0f} MiB"
        return text + (", until stopped" if run.timed_out else "")

    long_run = result.deecho_long
    rows = [
        [
            "3 min, stereo, 44.1 kHz",
            "deecho process",
            *cell(result.deecho_short, result.short_seconds),
            memory(result.deecho_short),
        ],
        [
            "3 min, stereo, 44.1 kHz",
            "nara_wpe",
            *cell(result.nara_short, result.short_seconds),
            memory(result.nara_short),
        ],
        [
            "60 min, stereo, 44.1 kHz",
            "deecho process",
            *cell(long_run, result.long_seconds),
            memory(long_run),
        ],
    ]
    note = ""
    if result.long_output_frames_ok is False:
        note = "\n\nThe 60-minute output's length differs from the input's."
    return (
        f"{report.load_note(machine)}\n\n"
        "Inputs: music and speech with a 280 ms feedback delay, 16-bit WAV, generated by "
        "bench/speed.py. Wall seconds of the whole process, start-up and file I/O included; "
        "CPU seconds (user + system, all threads) from GNU time; peak memory is the larger of "
        "GNU time's maximum RSS and psutil polling of the process tree.\n\n"
        + report.markdown_table(
            ("file", "program", "wall s", "× real time", "CPU s", "peak memory"), rows
        )
        + note
    )


def main() -> int:
    out_dir = Path(__file__).resolve().parent / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = run(deecho_peer(), nara_wpe_peer(), out_dir)
    print(markdown(result, report.machine_note()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
