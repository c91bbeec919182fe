"""`deecho batch --jobs 1` against warm `process_file`, interleaved: the per-file overhead.

    .venv/bin/python -m bench.batch_overhead                  # 4 chunks of 250 clips
    .venv/bin/python -m bench.batch_overhead --chunks 2 --clips-per-chunk 100
    .venv/bin/python -m bench.batch_overhead --paired 100    # the per-file cost alone

On a shared machine, runs of the same code minutes apart differ by 10-15 %, more than
the 10 % being measured; so the clips (bench.batch's) are cut into chunks, and each chunk
goes through both, in turn first, so that the machine's drift hits both alike. A rerun of
the batch on each chunk (everything skipped) measures its start-up, hashing and plan.

`--paired N`: the per-file cost alone, file by file: `process_file` in this process, then
the batch's own job (`deecho.batch.work.run_item`) in a worker process opened as the
batch opens its workers (fork server, preloaded modules, `worker_init`), each timed
where it runs. Seconds apart, the two see the same machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.audio_fixtures import deecho_command

from bench.batch import make_clips, warm


def _batch(folder: Path, outdir: Path) -> float:
    began = time.perf_counter()
    subprocess.run([*deecho_command(), "batch", str(folder), "-o", str(outdir), "--jobs", "1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - began


def _job_in_worker(clip: str, output: str) -> float:
    from deecho.audio.prep import PrepOptions
    from deecho.batch.outcome import BatchStatus
    from deecho.batch.work import WorkItem, run_item
    from deecho.engine.report import Amounts

    began = time.perf_counter()
    item = WorkItem(Path(clip), Path(output), None, PrepOptions(), Amounts.both(1.0),
                    "float", True, "local", True)  # fmt: skip
    outcome = run_item(item)
    if outcome.status is not BatchStatus.DONE:
        raise SystemExit(f"{clip}: {outcome.reason}")
    return time.perf_counter() - began


def paired(count: int) -> None:
    from deecho.batch import run, work
    from deecho.executors import open_workers
    from deecho.pipeline import ProcessRequest, process_file

    with tempfile.TemporaryDirectory(prefix="deecho-paired-") as temp:
        root = Path(temp)
        clips, _ = make_clips(root / "clips", count)
        (root / "notes").mkdir()
        workers = open_workers(1, initializer=work.worker_init,
                               initargs=(os.getpid(), str(root / "notes")),
                               preload=run._PRELOAD)  # fmt: skip
        try:
            submit = workers.executor.submit
            submit(_job_in_worker, str(clips[0]), str(root / "warmup.wav")).result()
            process_file(ProcessRequest(clips[0], root / "warmup-here.wav", overwrite=True))
            here = there = 0.0
            ratios = []
            for clip in clips:
                began = time.perf_counter()
                process_file(ProcessRequest(clip, root / "here.wav", overwrite=True))
                mine = time.perf_counter() - began
                theirs = submit(_job_in_worker, str(clip), str(root / "there.wav")).result()
                here, there = here + mine, there + theirs
                ratios.append(theirs / mine)
        finally:
            workers.close()
        print(f"{count} files: process_file here {here:.1f} s, the batch's job in its worker"
              f" {there:.1f} s: {there / here - 1:+.1%} (median per file"
              f" {statistics.median(ratios) - 1:+.1%})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--clips-per-chunk", type=int, default=250)
    parser.add_argument("--paired", type=int, default=0, help="N files, compared one by one")
    args = parser.parse_args()
    if args.paired:
        paired(args.paired)
        return
    with tempfile.TemporaryDirectory(prefix="deecho-overhead-") as temp:
        root = Path(temp)
        clips, _ = make_clips(root / "clips", args.chunks * args.clips_per_chunk)
        chunks = []
        for number in range(args.chunks):
            chunk = root / f"chunk{number}"
            chunk.mkdir()
            for clip in clips[number * args.clips_per_chunk : (number + 1) * args.clips_per_chunk]:
                shutil.move(clip, chunk / clip.name)
            chunks.append(chunk)
        totals = {"batch": 0.0, "warm": 0.0, "rerun": 0.0}
        for number, chunk in enumerate(chunks):
            outdir = root / f"batch{number}"
            files = sorted(chunk.glob("*.wav"))
            if number % 2 == 0:  # bench.batch.warm warms up on one file, outside its time
                batch, warmed = _batch(chunk, outdir), warm(files, root / f"warm{number}")
            else:
                warmed, batch = warm(files, root / f"warm{number}"), _batch(chunk, outdir)
            rerun = _batch(chunk, outdir)
            for name, seconds in (("batch", batch), ("warm", warmed), ("rerun", rerun)):
                totals[name] += seconds
            print(f"chunk {number}: --jobs 1 {batch:.1f} s, warm {warmed:.1f} s, rerun"
                  f" {rerun:.1f} s: {batch / warmed:.3f}", flush=True)  # fmt: skip
        over = totals["batch"] / totals["warm"] - 1.0
        less_start = (totals["batch"] - totals["rerun"]) / totals["warm"] - 1.0
        print(f"total: --jobs 1 {totals['batch']:.1f} s, warm {totals['warm']:.1f} s:"
              f" {over:+.1%} ({less_start:+.1%} less the reruns' start-up)")  # fmt: skip


if __name__ == "__main__":
    main()
