"""`deecho batch --jobs N` against a shell loop of `deecho process` over the same clips.

    .venv/bin/python -m bench.batch                  # 200 clips of 3 s, --jobs 2
    .venv/bin/python -m bench.batch --clips 50 --seconds 2 --jobs 1,2 --skip-loop

Wall seconds of whole processes, as a user would time them; the load average is
printed beside them, since a shared machine's other work slows both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pedalboard
import soundfile as sf
from tests.audio_fixtures import deecho_command, tone_burst_signal

RATE = 22050


def make_clips(folder: Path, count: int, seconds: float) -> list[Path]:
    """Speech-like clips with a slapback echo, each its own seed."""
    folder.mkdir(parents=True, exist_ok=True)
    board = pedalboard.Pedalboard([pedalboard.Delay(delay_seconds=0.18, feedback=0.2, mix=0.35)])
    paths = []
    for seed in range(count):
        path = folder / f"clip{seed:04d}.wav"
        sf.write(path, board(tone_burst_signal(RATE, seconds, seed=seed), RATE).T, RATE)
        paths.append(path)
    return paths


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def shell_loop(clips: list[Path], outdir: Path) -> float:
    outdir.mkdir(parents=True, exist_ok=True)
    script = " ".join(deecho_command())
    loop = f'for f in "$@"; do {script} process "$f" -o "{outdir}/$(basename "$f")"; done'
    began = time.perf_counter()
    subprocess.run(["sh", "-c", loop, "sh", *map(str, clips)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--jobs", default="2", help="comma-separated --jobs values")
    parser.add_argument("--skip-loop", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deecho-bench-batch-"))
    try:
        clips = make_clips(work / "in", args.clips, args.seconds)
        figures: dict[str, float | int | list[float]] = {
            "clips": args.clips,
            "clip_seconds": args.seconds,
            "cores": os.cpu_count() or 0,
            "load_before": list(os.getloadavg()),
        }
        for jobs in (int(value) for value in args.jobs.split(",")):
            outdir = work / f"batch{jobs}"
            command = [*deecho_command(), "batch", str(work / "in"), "-o", str(outdir)]
            figures[f"batch_jobs{jobs}_s"] = round(timed([*command, "--jobs", str(jobs)]), 1)
            figures[f"batch_jobs{jobs}_rerun_s"] = round(timed([*command, "--jobs", str(jobs)]), 1)
        if not args.skip_loop:
            figures["shell_loop_s"] = round(shell_loop(clips, work / "loop"), 1)
        figures["load_after"] = list(os.getloadavg())
        print(json.dumps(figures, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
