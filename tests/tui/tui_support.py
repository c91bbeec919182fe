"""Helpers for the workspace tests (a module of its own: conftest files are not imported)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def settle(pilot: Pilot[Any], done: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Let workers run and messages land until `done()` holds (or fail after the timeout)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("the workspace did not reach the expected state in time")
        await pilot.pause()
        await asyncio.sleep(0.05)
