"""The batch's report in OUTDIR: `deecho-batch.jsonl` and `deecho-batch.csv`, a row per file.

Both are rewritten by each run and a row is added (and flushed) as each file ends, so a
stopped batch still leaves a report of what it did. A file skipped as done in an earlier
run carries that run's figures, so the last run's report covers every file.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

from deecho.batch.outcome import Outcome

__all__ = ["CSV_COLUMNS", "REPORT_CSV", "REPORT_JSONL", "ReportFiles"]

REPORT_JSONL = "deecho-batch.jsonl"
REPORT_CSV = "deecho-batch.csv"

#: The CSV's columns: what a spreadsheet needs to find the files that failed and why.
CSV_COLUMNS = (
    "input",
    "output",
    "echo_output",
    "status",
    "reason",
    "duration_s",
    "echoes",
    "rt60_before_s",
    "rt60_after_s",
    "seconds",
    "backend",
    "null_db",
)
"""`null_db`: with `--compare`, the null test's residual of the output against its input."""


def _echoes(echoes: list[dict[str, Any]] | None) -> str:
    """`180.0 ms × 0.35; 420.5 ms × 0.20`: readable in a cell, where JSON is not."""
    return "; ".join(f"{echo['delay_ms']:.1f} ms × {echo['gain']:.2f}" for echo in echoes or [])


def _cell(value: Any) -> Any:
    return "" if value is None else value


class ReportFiles:
    """`with ReportFiles(outdir) as report: report.add(input, outcome)`."""

    def __init__(self, outdir: Path) -> None:
        self.jsonl_path = outdir / REPORT_JSONL
        self.csv_path = outdir / REPORT_CSV
        self._jsonl: IO[str] | None = None
        self._csv: IO[str] | None = None
        self._writer: Any = None

    def __enter__(self) -> ReportFiles:
        self._jsonl = self.jsonl_path.open("w", encoding="utf-8")
        self._csv = self.csv_path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._csv)
        self._writer.writerow(CSV_COLUMNS)
        self._csv.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in (self._jsonl, self._csv):
            if handle is not None:
                handle.close()

    def add(self, input_path: Path, outcome: Outcome) -> None:
        assert self._jsonl is not None and self._csv is not None
        row = outcome.row(str(input_path))
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()
        compared = row.get("compare") or {}
        cells = {**row, "echoes": _echoes(row["echoes"]), "null_db": compared.get("residual_db")}
        self._writer.writerow([_cell(cells[column]) for column in CSV_COLUMNS])
        self._csv.flush()
