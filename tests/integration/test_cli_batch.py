"""`deecho batch` through real subprocesses on a folder of generated WAV and FLAC files."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from audio_fixtures import deecho_command, tone_burst_signal

RATE = 16000


def batch(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*deecho_command(), "batch", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def _ctrl_c_as_on_a_terminal() -> None:
    # A shell starts a background job with Ctrl-C ignored, and an ignored signal stays
    # ignored across exec: the suite run as `make test &` gave the batch no SIGINT at all
    # (it finished every file, exit 0). A terminal's foreground job has it as default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_batch(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*deecho_command(), "batch", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_as_on_a_terminal if os.name == "posix" else None,
    )


def rows(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """--json's lines by input file name."""
    found = {}
    for line in result.stdout.splitlines():
        row = json.loads(line)
        found[Path(row["input"]).name] = row
    return found


def clip(path: Path, seconds: float = 2.0, seed: int = 0, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone_burst_signal(RATE, seconds, seed=seed).T, RATE, subtype=subtype)
    return path


def recorded(outdir: Path) -> dict[str, str]:
    with sqlite3.connect(outdir / "deecho-batch.sqlite") as db:
        return dict(db.execute("SELECT output, status FROM files"))


def no_partials(folder: Path) -> bool:
    return not [path for path in folder.rglob("*") if ".partial" in path.name]


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_first_done(process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    while True:
        line = process.stderr.readline()
        assert line, "the batch ended before any file was done"
        if " done " in line:
            return


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    clip(root / "a.wav", seed=1)
    clip(root / "b.flac", seed=2)
    clip(root / "session" / "c.wav", seed=3, subtype="PCM_24")
    (root / "notes.txt").write_text("not audio\n")
    (root / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    return root


def test_folder_is_mirrored_and_a_rerun_does_only_what_changed(folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    first = batch(folder, "-o", out, "--jobs", "2", "--json")
    # corrupt.wav is named as audio and does not decode: failed, the others done, exit 65
    assert first.returncode == 65, first.stderr
    report = rows(first)
    assert {name: row["status"] for name, row in report.items()} == {
        "a.wav": "done",
        "b.flac": "done",
        "c.wav": "done",
        "notes.txt": "skipped",
        "corrupt.wav": "failed",
    }
    assert "not audio" in report["notes.txt"]["reason"]
    assert "corrupt.wav" in report["corrupt.wav"]["reason"]
    outputs = {
        "a.wav": out / "a.no_echo.wav",
        "b.flac": out / "b.no_echo.wav",
        "c.wav": out / "session" / "c.no_echo.wav",
    }
    process_fields = {"input", "output", "echo_output", "backend", "duration_s", "echoes"}
    for name, output in outputs.items():
        assert report[name]["output"] == str(output)
        assert process_fields <= report[name].keys()
        assert sf.info(output).frames == 2 * RATE
    assert "1 failed" in first.stderr.splitlines()[-1]
    assert str(out / "deecho-batch.csv") in first.stderr.splitlines()[-1]
    # the report files: a row per file, the same rows as --json
    report_lines = (out / "deecho-batch.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in report_lines] == [
        json.loads(line) for line in first.stdout.splitlines()
    ]
    with (out / "deecho-batch.csv").open(newline="") as handle:
        table = {Path(row["input"]).name: row for row in csv.DictReader(handle)}
    assert table["corrupt.wav"]["status"] == "failed"
    assert "corrupt.wav" in table["corrupt.wav"]["reason"]
    assert table["a.wav"]["output"] == str(outputs["a.wav"])
    assert float(table["a.wav"]["duration_s"]) == 2.0
    assert table["a.wav"]["backend"] == "local"
    assert table["notes.txt"]["output"] == ""
    mtimes = {name: path.stat().st_mtime_ns for name, path in outputs.items()}

    # the same folders named from elsewhere: the state file keys outputs by their place
    again = batch(folder.name, "-o", out.name, "--jobs", "2", "--json", cwd=tmp_path)
    assert again.returncode == 65, again.stderr  # the earlier failure still counts
    again_rows = rows(again)
    assert all(row["status"] == "skipped" for row in again_rows.values())
    assert again_rows["a.wav"]["reason"] == "done in an earlier run"
    assert again_rows["a.wav"]["echoes"] is not None  # the earlier report, kept
    # the rerun's report still covers every file, with the earlier figures
    with (out / "deecho-batch.csv").open(newline="") as handle:
        rerun_table = {Path(row["input"]).name: row for row in csv.DictReader(handle)}
    assert rerun_table.keys() == table.keys()
    assert rerun_table["a.wav"]["duration_s"] == table["a.wav"]["duration_s"]
    assert "--retry-failed" in again_rows["corrupt.wav"]["reason"]
    assert {name: path.stat().st_mtime_ns for name, path in outputs.items()} == mtimes

    clip(folder / "a.wav", seed=7)  # new content under the same name
    changed = batch(folder, "-o", out, "--jobs", "2", "--json")
    assert {n for n, row in rows(changed).items() if row["status"] == "done"} == {"a.wav"}

    stronger = batch(folder, "-o", out, "--echo", "0.5", "--json", "--retry-failed")
    statuses = {name: row["status"] for name, row in rows(stronger).items()}
    assert statuses == {**dict.fromkeys(outputs, "done"), "notes.txt": "skipped",
                        "corrupt.wav": "failed"}  # fmt: skip
    assert rows(stronger)["b.flac"]["echo_amount"] == 0.5
    assert outputs["b.flac"].stat().st_mtime_ns != mtimes["b.flac"]
    assert no_partials(out)


def test_manifest_gives_each_file_its_output_and_range(tmp_path: Path):
    clip(tmp_path / "takes" / "long.wav", seconds=4.0, seed=4)
    clip(tmp_path / "takes" / "short.wav", seconds=2.0, seed=5)
    manifest = tmp_path / "takes" / "list.csv"
    manifest.write_text(
        "input,output,start,end\nlong.wav,speaker1/middle.wav,1.0,3.5\nshort.wav,,,\n"
    )
    out, echo = tmp_path / "out", tmp_path / "removed"
    result = batch("--manifest", manifest, "-o", out, "--echo-output", echo, "--json")
    assert result.returncode == 0, result.stderr
    middle = out / "speaker1" / "middle.wav"
    assert sf.info(middle).frames == int(2.5 * RATE)
    assert rows(result)["long.wav"]["start_s"] == 1.0
    assert sf.info(out / "short.no_echo.wav").frames == 2 * RATE
    # what was removed, mirrored in its own folder, sums back to the prepped input
    removed = echo / "short.echo.wav"
    source, _ = sf.read(tmp_path / "takes" / "short.wav", dtype="float32")
    cleaned, _ = sf.read(out / "short.no_echo.wav", dtype="float32")
    taken, _ = sf.read(removed, dtype="float32")
    assert np.max(np.abs(cleaned + taken - source)) < 1e-5
    assert (echo / "speaker1" / "middle.echo.wav").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_a_second_batch_on_the_same_outdir_is_refused(tmp_path: Path):
    clip(tmp_path / "in" / "take.wav")
    # The first batch holds OUTDIR while it reads its inputs; a named pipe keeps it reading
    # until the test writes to it, so the second batch meets it there, whatever the speed.
    pipe = tmp_path / "in" / "slow.wav"
    os.mkfifo(pipe)
    out = tmp_path / "out"
    first = start_batch(tmp_path / "in" / "take.wav", pipe, "-o", out, "--jobs", "1")
    try:
        assert wait_for(lambda: (out / "deecho-batch.sqlite").exists())
        second = batch(tmp_path / "in" / "take.wav", "-o", out)
        assert second.returncode == 73
        message = second.stderr.strip()
        assert len(message.splitlines()) == 1
        assert "another deecho batch is writing here" in message
    finally:
        with pipe.open("wb") as writer:  # the first batch reads it (not audio) and goes on
            writer.write(b"not audio")
        first.communicate(timeout=120)
    assert first.returncode == 65  # the pipe, named as audio, failed; take.wav was done
    assert (out / "take.no_echo.wav").exists()


def test_ctrl_c_leaves_only_whole_files_and_a_rerun_finishes_the_rest(tmp_path: Path):
    # The first take is short and the rest long, so the Ctrl-C sent when the first is done
    # finds the batch busy: with ten alike, a loaded machine let the test read that line
    # only after the batch had finished them all (exit 0, seen once).
    lengths = {f"take{seed}": 2.0 if seed == 0 else 20.0 for seed in range(10)}
    for seed, (name, seconds) in enumerate(lengths.items()):
        clip(tmp_path / "in" / f"{name}.wav", seconds=seconds, seed=seed)
    out = tmp_path / "out"
    running = start_batch(tmp_path / "in", "-o", out, "--jobs", "2")
    wait_for_first_done(running)
    running.send_signal(signal.SIGINT)
    assert running.wait(timeout=120) == 130
    assert no_partials(out)
    written = sorted(out.glob("*.wav"))
    done = {output for output, status in recorded(out).items() if status == "done"}
    assert 0 < len(written) < 10
    # every output on disk is whole and recorded as done: nothing finished was forgotten
    assert {path.name for path in written} == done  # keyed by their place in OUTDIR
    for path in written:
        assert sf.info(path).frames == lengths[path.name.split(".")[0]] * RATE
    mtimes = {path: path.stat().st_mtime_ns for path in written}

    rest = batch(tmp_path / "in", "-o", out, "--jobs", "2", "--json")
    assert rest.returncode == 0, rest.stderr
    statuses = [row["status"] for row in rows(rest).values()]
    assert statuses.count("skipped") == len(written)
    assert statuses.count("done") == 10 - len(written)
    assert {path: path.stat().st_mtime_ns for path in written} == mtimes
    assert len(list(out.glob("*.wav"))) == 10


def test_an_output_the_batch_did_not_make_fails_that_file_only(tmp_path: Path):
    clip(tmp_path / "in" / "a.wav", seed=1)
    clip(tmp_path / "in" / "b.wav", seed=2)
    out = tmp_path / "out"
    out.mkdir()
    theirs = out / "a.no_echo.wav"
    theirs.write_bytes(b"someone else's file")
    result = batch(tmp_path / "in", "-o", out, "--json")
    # a file that failed for its own sake: 65, the others done (the exit codes)
    assert result.returncode == 65, result.stderr
    report = rows(result)
    assert report["b.wav"]["status"] == "done"
    assert report["a.wav"]["status"] == "failed"
    assert "--force" in report["a.wav"]["reason"]
    assert theirs.read_bytes() == b"someone else's file"


def test_bad_usage_is_one_line(tmp_path: Path):
    result = batch("-o", tmp_path / "out")
    assert result.returncode == 64
    assert result.stderr.strip() == "deecho: give audio files or folders, or --manifest FILE"
    clip(tmp_path / "in" / "take.wav")
    clip(tmp_path / "in" / "take.flac", seed=2)
    clash = batch(tmp_path / "in", "-o", tmp_path / "out")
    assert clash.returncode == 64
    assert "would both write" in clash.stderr


def pool_workers(batch_pid: int) -> list[Any]:
    """The batch's worker processes: the fork server's children."""
    import psutil

    workers = []
    for child in psutil.Process(batch_pid).children():
        if "forkserver" in " ".join(child.cmdline()):
            workers += child.children()
    return workers


def test_a_killed_worker_loses_no_file(tmp_path: Path):
    for seed in range(10):
        clip(tmp_path / "in" / f"take{seed}.wav", seconds=10.0, seed=seed)
    out = tmp_path / "out"
    running = start_batch(tmp_path / "in", "-o", out, "--jobs", "2", "--json")
    wait_for_first_done(running)
    workers = pool_workers(running.pid)
    assert workers
    workers[0].kill()  # SIGKILL mid-job: no cleanup runs in it
    stdout, stderr = running.communicate(timeout=300)
    assert running.returncode == 0, stderr
    statuses = [json.loads(line)["status"] for line in stdout.splitlines()]
    assert statuses.count("done") == 10  # the files in flight were run again, once each
    assert set(recorded(out).values()) == {"done"}
    assert no_partials(out)
    assert all(sf.info(path).frames == 10 * RATE for path in out.glob("*.wav"))


def test_a_killed_batch_is_finished_by_a_rerun_that_redoes_nothing_done(tmp_path: Path):
    import psutil

    for seed in range(10):
        clip(tmp_path / "in" / f"take{seed}.wav", seconds=10.0, seed=seed)
    out = tmp_path / "out"
    running = start_batch(tmp_path / "in", "-o", out, "--jobs", "2")
    wait_for_first_done(running)
    workers = pool_workers(running.pid)
    running.kill()
    running.wait(timeout=30)
    # its workers notice, stop their jobs (removing their temporary files) and exit
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    assert no_partials(out)
    done = {output for output, status in recorded(out).items() if status == "done"}
    assert done
    mtimes = {output: (out / output).stat().st_mtime_ns for output in done}

    rest = batch(tmp_path / "in", "-o", out, "--jobs", "2", "--json")
    assert rest.returncode == 0, rest.stderr
    report = rows(rest)
    assert [row["status"] for row in report.values()].count("skipped") == len(done)
    assert {output: (out / output).stat().st_mtime_ns for output in done} == mtimes
    assert set(recorded(out).values()) == {"done"}
    assert len(list(out.glob("*.wav"))) == 10
