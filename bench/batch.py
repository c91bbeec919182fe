"""`deecho batch` on many short clips: against a shell loop, --jobs 1, a warm process and Dask.

    .venv/bin/python -m bench.batch                       # 1,000 clips of 1-6 s, every run
    .venv/bin/python -m bench.batch --clips 200 --runs jobs2,jobs1,warm,dask,loop

Clips: speech (espeak-ng) and music (synthesized), half each, 22.05 kHz mono, 1-6 s long,
each through a slapback echo (120-250 ms). Runs, each timed as a user would (wall seconds
of the whole command), with the load average beside it (a shared machine's other work
slows every side):

- `jobs2`, `jobs1`: `deecho batch DIR -o OUT --jobs N`; `rerun`: jobs2 again (all skipped);
- `loop`: `for f in ...; do deecho process "$f" -o ...; done`;
- `warm`: `process_file` on every clip in this one process, no batch around it: what the
  batch's per-file overhead is measured against (with --jobs 1);
- `dask`: `--scheduler` on a `distributed.LocalCluster` of 2 single-threaded workers;
- with `jobs2`, each worker's RSS is sampled every 0.2 s: its peak over the first and the
  last third of the run shows whether memory grows with the files done.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pedalboard
import psutil
import soundfile as sf
from tests.audio_fixtures import deecho_command

from bench.sources import music, speech

RATE = 22050
ALL_RUNS = "jobs2,rerun,jobs1,warm,dask,loop"


def make_clips(folder: Path, count: int) -> tuple[list[Path], float]:
    """`count` clips of 1-6 s, speech and music alternately; returns them and their seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    # One long take of each kind, cut: espeak-ng runs once per sentence, not once per clip.
    lengths = rng.uniform(1.0, 6.0, count)
    takes = {
        "speech": speech(RATE, float(lengths[0::2].sum()) + 1.0, seed=1),
        "music": music(RATE, float(lengths[1::2].sum()) + 1.0, seed=2)[0],
    }
    places = dict.fromkeys(takes, 0)
    paths = []
    for number, seconds in enumerate(lengths):
        kind = "speech" if number % 2 == 0 else "music"
        frames = round(seconds * RATE)
        dry = takes[kind][places[kind] : places[kind] + frames]
        places[kind] += frames
        delay = pedalboard.Delay(delay_seconds=float(rng.uniform(0.12, 0.25)), mix=0.35)
        path = folder / f"{kind}{number:04d}.wav"
        sf.write(path, delay(dry[np.newaxis, :].astype(np.float32), RATE).T, RATE)
        paths.append(path)
    return paths, float(lengths.sum())


def load() -> float:
    return round(os.getloadavg()[0], 1)


class WorkerMemory:
    """Peak RSS of each of a batch's pool workers (the fork server's children), sampled."""

    def __init__(self, batch: psutil.Process) -> None:
        self.batch = batch
        self.samples: list[tuple[float, int, int]] = []  # (time, pid, rss)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                for server in self.batch.children():
                    if "forkserver" not in " ".join(server.cmdline()):
                        continue  # the resource tracker
                    for worker in server.children():
                        rss = worker.memory_info().rss
                        self.samples.append((time.perf_counter(), worker.pid, rss))
            except psutil.Error:
                pass
            time.sleep(0.2)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        if not self.samples:
            return {}
        began, ended = self.samples[0][0], self.samples[-1][0]
        third = (ended - began) / 3

        def peak(low: float, high: float) -> float:
            inside = [rss for at, _, rss in self.samples if low <= at - began <= high]
            return round(max(inside, default=0) / 2**20, 1)

        return {
            "worker_pids": len({pid for _, pid, _ in self.samples}),
            "peak_rss_first_third_mib": peak(0, third),
            "peak_rss_last_third_mib": peak(2 * third, 3 * third),
        }


def timed_batch(args: list[str]) -> tuple[float, dict[str, Any]]:
    began = time.perf_counter()
    running = psutil.Popen(
        [*deecho_command(), "batch", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    memory = WorkerMemory(running)
    _, stderr = running.communicate()
    took = time.perf_counter() - began
    if running.returncode != 0:
        raise SystemExit(f"deecho batch {' '.join(args)}: {stderr.decode()[-2000:]}")
    return took, memory.stop()


def shell_loop(clips: list[Path], outdir: Path) -> float:
    outdir.mkdir(parents=True, exist_ok=True)
    script = " ".join(deecho_command())
    loop = f'for f in "$@"; do {script} process "$f" -o "{outdir}/$(basename "$f")"; done'
    began = time.perf_counter()
    subprocess.run(["sh", "-c", loop, "sh", *map(str, clips)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - began


def warm(clips: list[Path], outdir: Path) -> float:
    """process_file on each clip in this process, after one clip to warm it up."""
    from deecho.pipeline import ProcessRequest, process_file

    outdir.mkdir(parents=True, exist_ok=True)
    process_file(ProcessRequest(clips[0], outdir / "warmup.wav", overwrite=True))
    began = time.perf_counter()
    for clip in clips:
        process_file(ProcessRequest(clip, outdir / clip.name))
    return time.perf_counter() - began


def dask(folder: Path, outdir: Path) -> float:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        took, _ = timed_batch([str(folder), "-o", str(outdir), "--scheduler",
                               cluster.scheduler_address])  # fmt: skip
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--runs", default=ALL_RUNS, help=f"comma-separated, of {ALL_RUNS}")
    parser.add_argument("--loop-clips", type=int, help="time the shell loop on the first N only")
    args = parser.parse_args()
    runs = args.runs.split(",")
    work = Path(tempfile.mkdtemp(prefix="deecho-bench-batch-"))
    figures: dict[str, Any] = {"cores": len(os.sched_getaffinity(0))}
    try:
        clips, audio_s = make_clips(work / "in", args.clips)
        figures.update(clips=len(clips), audio_s=round(audio_s, 1))
        folder = str(work / "in")

        def note(name: str, seconds: float, files: int, **extra: Any) -> None:
            figures[name] = {
                "wall_s": round(seconds, 1),
                "files": files,
                "s_per_file": round(seconds / files, 3),
                "load": load(),
                **extra,
            }
            print(json.dumps({name: figures[name]}), file=sys.stderr, flush=True)

        for name in runs:
            if name == "jobs2":
                took, memory = timed_batch([folder, "-o", str(work / "jobs2"), "--jobs", "2"])
                note(name, took, len(clips), **memory)
            elif name == "rerun":
                took, _ = timed_batch([folder, "-o", str(work / "jobs2"), "--jobs", "2"])
                note(name, took, len(clips))
            elif name == "jobs1":
                took, _ = timed_batch([folder, "-o", str(work / "jobs1"), "--jobs", "1"])
                note(name, took, len(clips))
            elif name == "warm":
                note(name, warm(clips, work / "warm"), len(clips))
            elif name == "dask":
                note(name, dask(work / "in", work / "dask"), len(clips))
            elif name == "loop":
                subset = clips[: args.loop_clips or len(clips)]
                note(name, shell_loop(subset, work / "loop"), len(subset))
        print(json.dumps(figures, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
