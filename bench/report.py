"""The benchmark's tables: markdown for bench/README.md (between markers) and the terminal."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


@dataclass(frozen=True)
class Target:
    """One row of issue 2's targets table, with what was measured."""

    case: str
    target: str
    measured: str
    passed: bool | None  # None: could not be measured

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "**FAIL**", None: "not measured"}[self.passed]


def machine_note() -> str:
    """CPU model, core count, memory, OS, Python, date and load: where the figures came from."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    load = os.getloadavg()[0]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{model}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; {now}; 1-min load average at start {load:.2f}; "
        f"{code_version()}"
    )


def code_version() -> str:
    """Which deecho was measured: the commit, and whether src/ had uncommitted changes."""
    root = README.parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "deecho version unknown"
    if not commit:
        return "deecho version unknown"
    return f"deecho at commit {commit}" + (" plus uncommitted changes in src/" if dirty else "")


def fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def targets_table(targets: Sequence[Target]) -> str:
    rows = [(t.case, t.target, t.measured, t.verdict) for t in targets]
    return markdown_table(("case", "target", "measured", "verdict"), rows)


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns for the terminal (markdown emphasis stripped)."""
    clean = [[cell.replace("**", "") for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in clean)) if clean else len(h) for i, h in enumerate(header)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in clean]
    return "\n".join(lines)


def replace_section(text: str, section: str, body: str) -> str:
    """Put `body` between the `<!-- bench:SECTION:start/end -->` markers, adding them if absent."""
    start = f"<!-- bench:{section}:start -->"
    end = f"<!-- bench:{section}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip() + "\n\n" + block + "\n"


def update_readme(section: str, body: str, readme: Path = README) -> None:
    """Rewrite one marked section of bench/README.md atomically."""
    text = readme.read_text() if readme.exists() else "# deecho benchmark\n"
    updated = replace_section(text, section, body)
    partial = readme.with_name(readme.name + ".partial")
    partial.write_text(updated)
    partial.replace(readme)


def load_note(machine: str) -> str:
    """The machine line plus the load now, and a warning when other work shared the cores."""
    load_now = os.getloadavg()[0]
    note = f"Machine: {machine}; 1-min load average at the end {load_now:.2f}."
    cores = os.cpu_count() or 1
    # The benchmark itself keeps one or two cores busy; more than that is someone else.
    if max(load_now, _start_load(machine)) > cores:
        note += (
            " The machine was shared with other work during this run (load above its core "
            "count), so the wall times are higher than on an idle machine; the SI-SDR figures "
            "do not depend on load."
        )
    return note


def _start_load(machine: str) -> float:
    found = re.search(r"load average at start ([0-9.]+)", machine)
    return float(found.group(1)) if found else 0.0
