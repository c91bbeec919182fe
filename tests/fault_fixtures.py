"""Real faults for the fault tests: small and read-only file systems, mounted by the test.

A tmpfs of a few megabytes fills up for real (ENOSPC from the kernel, not a mock),
and one mounted read-only refuses writes even to root, whom file modes do not stop.
Mounting needs root (CI runs as root); elsewhere the tests skip and say why.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(mount_point: Path, size_bytes: int, *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size_bytes` at `mount_point` for the block; skips the test without root."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs the suite as root)")
    mount_point.mkdir(parents=True, exist_ok=True)
    options = f"size={size_bytes},mode=0777" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "deecho-fault", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
    try:
        yield mount_point
    finally:
        # lazy: a server thread still holding a file there must not fail the teardown
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(folder: Path, leave_bytes: int = 0) -> Path:
    """Fill the file system of `folder` until at most `leave_bytes` are free; the filler's path."""
    filler = folder / "filler.bin"
    chunk = b"\0" * (1 << 16)
    with filler.open("wb", buffering=0) as handle:
        try:
            while free_bytes(folder) > leave_bytes + len(chunk):
                handle.write(chunk)
                handle.flush()
            handle.write(b"\0" * max(0, free_bytes(folder) - leave_bytes))
        except OSError:  # full before the estimate said so: that is what was asked
            pass
    return filler


def free_bytes(folder: Path) -> int:
    usage = os.statvfs(folder)
    return usage.f_bavail * usage.f_frsize


def files_under(folder: Path) -> list[str]:
    """Every file left under `folder`, as relative paths (the filler excluded)."""
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and path.name != "filler.bin"
    )
