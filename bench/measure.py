"""Run one program as a whole process and measure it: wall time, and optionally peak memory.

Peak memory is measured two ways at once, and the larger is reported:
- GNU time (`/usr/bin/time -v`): the kernel's maximum resident set size of the
  process (and of the largest descendant it waited for);
- psutil polling every 20 ms of the summed RSS of the process and all its
  descendants, which also counts worker processes running side by side.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

GNU_TIME = "/usr/bin/time"
_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")
_CPU = re.compile(r"(?:User|System) time \(seconds\):\s*([0-9.]+)")


@dataclass(frozen=True)
class Run:
    argv: list[str]
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    peak_rss_bytes: int | None = None
    memory_method: str = ""
    timed_out: bool = False
    cpu_seconds: float | None = None  # user + system, from GNU time (None without it)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_line(self) -> str:
        """The last non-empty stderr line: what went wrong, for the table."""
        if self.timed_out:
            return f"stopped at the time limit after {self.seconds:.0f} s"
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        lines = [line for line in lines if not line.startswith(("Command being timed", "\t"))]
        return lines[-1][:160] if lines else f"exit status {self.returncode}"


def _tree_rss(process: object) -> int:
    import psutil

    assert isinstance(process, psutil.Process)
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def run_measured(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    measure_memory: bool = False,
    timeout_s: float | None = None,
) -> Run:
    """Run argv to completion; stdout/stderr go through temp files so no pipe can fill up."""
    command = list(argv)
    use_gnu_time = measure_memory and shutil.which(GNU_TIME) is not None
    if use_gnu_time:
        command = [GNU_TIME, "-v", *command]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # A session of its own, so a time-out can stop the program and its workers together.
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env, start_new_session=True)
        polled_peak = 0
        if measure_memory:
            polled_peak = _poll_until_exit(child, timeout_s, start)
        remaining = (
            None if timeout_s is None else max(timeout_s - (time.perf_counter() - start), 0.1)
        )
        timed_out = False
        try:
            returncode = child.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(child.pid, signal.SIGKILL)
            returncode = child.wait()
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    peak: int | None = None
    methods = []
    if use_gnu_time:
        found = _MAX_RSS.findall(stderr)
        if found:
            peak = int(found[-1]) * 1024
            methods.append("GNU time -v")
    if measure_memory and polled_peak:
        peak = max(peak or 0, polled_peak)
        methods.append("psutil process-tree polling")
    method = " + ".join(methods)
    cpu = _CPU.findall(stderr)[-2:] if use_gnu_time else []
    cpu_seconds = sum(float(value) for value in cpu) if len(cpu) == 2 else None
    return Run(command, returncode, seconds, stdout, stderr, peak, method, timed_out, cpu_seconds)


def _poll_until_exit(child: subprocess.Popen[bytes], timeout_s: float | None, start: float) -> int:
    import psutil

    try:
        process = psutil.Process(child.pid)
    except psutil.NoSuchProcess:
        return 0
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, _tree_rss(process))
        except psutil.NoSuchProcess:
            break
        if timeout_s is not None and time.perf_counter() - start > timeout_s:
            break
        time.sleep(0.02)
    return peak
