"""Fixtures for the plugin tests: a generated echoey recording, the real CLI, Lua."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from audio_fixtures import tone_burst_signal

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
LUA_HARNESS = Path(__file__).resolve().parent / "lua"
RATE = 22050
ECHO_DELAY_S = 0.15
ECHO_GAIN = 0.5


def speech_with_echo(seconds: float, channels: int, seed: int = 7) -> np.ndarray:
    """Speech-like harmonic bursts, plus one echo 150 ms later at half level."""
    dry = tone_burst_signal(RATE, seconds, seed=seed)[0].astype(np.float64)
    delay = int(ECHO_DELAY_S * RATE)
    wet = dry.copy()
    wet[delay:] += ECHO_GAIN * dry[:-delay]
    wet *= 0.5 / np.max(np.abs(wet))
    out = np.stack([wet * (1.0 - 0.1 * c) for c in range(channels)])
    return out.astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, subtype: str = "PCM_24") -> Path:
    sf.write(path, audio.T, RATE, subtype=subtype)
    return path


@pytest.fixture
def echo_wav(tmp_path: Path) -> Path:
    """A 4 s stereo take with an echo, in a folder whose name has a space."""
    folder = tmp_path / "my takes"
    folder.mkdir()
    return write_wav(folder / "vocal take.wav", speech_with_echo(4.0, 2))


@pytest.fixture(scope="session")
def deecho_bin() -> Path:
    """The project's installed console script (never a copy on some other PATH)."""
    path = Path(sys.executable).with_name("deecho")
    assert path.exists(), f"{path} is missing: run `make` (pip install -e .) first"
    return path


@pytest.fixture
def plugin_env(deecho_bin: Path, tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH holds deecho and the system tools, nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEECHO_")}
    env["PATH"] = os.pathsep.join([str(deecho_bin.parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env["HOME"] = str(tmp_path / "home")
    env["TMPDIR"] = str(tmp_path)
    # the workspace and settings of this test, not the user's
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    return env


def lua_binary() -> str:
    found = shutil.which("lua5.4")
    assert found, "lua5.4 is missing: `make system-deps` installs it"
    return found


def lua_literal(value: Any) -> str:
    """A Python value written as a Lua table constructor."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str | Path):
        # with ensure_ascii off, JSON's escapes (\" \\ \n) are valid Lua escapes too
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, dict):
        fields = (f"[{json.dumps(k)}] = {lua_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(fields) + "}"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    raise TypeError(f"no Lua literal for {value!r}")


RunHost = Callable[..., dict[str, Any]]


def run_lua_host(
    harness: str,
    script: Path,
    scenario: dict[str, Any],
    env: dict[str, str],
    workdir: Path,
) -> dict[str, Any]:
    """Runs a plugin script under lua5.4 with a fake host; returns what it did."""
    scenario_file = workdir / f"scenario-{harness}.lua"
    scenario_file.write_text("return " + lua_literal(scenario) + "\n", encoding="utf-8")
    result_file = workdir / f"result-{harness}.json"
    done = subprocess.run(
        [
            lua_binary(),
            str(LUA_HARNESS / f"run_{harness}.lua"),
            str(scenario_file),
            str(script),
            str(result_file),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"harness crashed: {done.stderr}"
    result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    return result
