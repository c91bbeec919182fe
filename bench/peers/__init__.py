"""The programs the benchmark compares, each run as a whole separate process on a WAV file.

- deecho: `deecho process IN -o OUT --force --json` when the CLI is installed,
  else bench/peers/deecho_engine_run.py (deecho.engine.remove_echo on the file).
- nara_wpe: bench/peers/nara_wpe_run.py with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent
REPO_ROOT = PEERS_DIR.parent.parent


@dataclass(frozen=True)
class Peer:
    """How to run one program on INPUT -> OUTPUT."""

    name: str
    argv_prefix: tuple[str, ...]
    extra_env: dict[str, str] = field(default_factory=dict)
    how: str = ""

    def argv(self, input_path: Path, output_path: Path) -> list[str]:
        if self.name == "deecho" and self.how == "cli":
            return [*self.argv_prefix, str(input_path), "-o", str(output_path), "--force", "--json"]
        return [*self.argv_prefix, str(input_path), str(output_path)]

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.extra_env}


def _deecho_cli() -> str | None:
    """The `deecho` script beside this Python, if its `process` subcommand works."""
    script = shutil.which("deecho", path=str(Path(sys.executable).parent))
    if script is None:
        return None
    probe = subprocess.run(
        [script, "process", "--help"], capture_output=True, text=True, timeout=120
    )
    return script if probe.returncode == 0 else None


def deecho_peer(how: str = "auto") -> Peer:
    """deecho through its CLI ("cli"), the engine function ("engine"), or whichever exists."""
    script = _deecho_cli() if how in ("auto", "cli") else None
    if script is not None:
        return Peer("deecho", (script, "process"), how="cli")
    if how == "cli":
        raise RuntimeError("`deecho process` is not available in this environment")
    runner = str(PEERS_DIR / "deecho_engine_run.py")
    return Peer("deecho", (sys.executable, runner), how="engine")


def nara_wpe_peer() -> Peer:
    runner = str(PEERS_DIR / "nara_wpe_run.py")
    return Peer("nara_wpe", (sys.executable, runner), {"OMP_NUM_THREADS": "1"}, how="script")
