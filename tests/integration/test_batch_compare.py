"""`deecho batch --compare`: each output null-tested against its input, a column of the report."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from audio_fixtures import deecho_command, tone_burst_signal

RATE = 16000
COMPARE = ("--compare", "--json", "--jobs", "1")
PLAIN = ("--json", "--jobs", "1")


def test_compare_adds_the_null_test_to_each_row(tmp_path: Path) -> None:
    takes = tmp_path / "takes"
    takes.mkdir()
    sf.write(takes / "long.wav", tone_burst_signal(RATE, 4.0, seed=4).T, RATE)
    sf.write(takes / "short.wav", tone_burst_signal(RATE, 2.0, seed=5).T, RATE)
    manifest = takes / "list.csv"
    manifest.write_text("input,output,start,end\nlong.wav,middle.wav,1.0,3.5\nshort.wav,,,\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [*deecho_command(), "batch", "--manifest", str(manifest), "-o", str(out), *COMPARE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = {Path(row["input"]).name: row for row in map(json.loads, done.stdout.splitlines())}
    middle = rows["long.wav"]["compare"]
    # The output is the input's 1.0-3.5 s: it sits a second early on the input's timeline.
    assert middle["offset_ms"] == pytest.approx(-1000.0, abs=0.01)
    assert middle["overlap_s"] == pytest.approx(2.5, abs=1e-3)
    assert middle["correlation"] > 0.5
    for row in rows.values():
        figures = row["compare"]
        assert figures["residual_db"] < 0
        assert figures["residual_shared_band_db"] is not None
        assert abs(figures["drift_ppm"]) < 1
    assert done.stderr.count("null ") == 2
    # the CSV report carries the null test's residual beside each file
    with (out / "deecho-batch.csv").open(newline="") as handle:
        table = {Path(row["input"]).name: row for row in csv.DictReader(handle)}
    for name, row in rows.items():
        assert float(table[name]["null_db"]) == row["compare"]["residual_db"]


def test_without_compare_the_rows_have_no_compare_column(tmp_path: Path) -> None:
    source = tmp_path / "in" / "a.wav"
    source.parent.mkdir()
    sf.write(source, tone_burst_signal(RATE, 2.0, seed=1).T, RATE)
    done = subprocess.run(
        [*deecho_command(), "batch", str(source.parent), "-o", str(tmp_path / "out"), *PLAIN],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "compare" not in json.loads(done.stdout.splitlines()[0])
