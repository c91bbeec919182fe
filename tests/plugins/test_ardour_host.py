"""The Ardour editor action inside real Ardour (Debian's 7.3, headless: ardour7-lua).

A new session on the Dummy backend records a take from the backend's noise
input, so the region, its file, its start in that file and its place on the
timeline are Ardour's own. The action runs on it with the real deecho (through a
wrapper that notes the command line), and the test checks what deecho was asked
to cut and what the action asked Ardour to import where.

Not run: Editor:do_import itself (the import, the new track's name, undo). It is
editor (GUI) code, absent from the headless session, and Ardour's window could
not be driven here; see plugins/ardour/README.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .conftest import LUA_HARNESS, PLUGINS

ACTION = PLUGINS / "ardour" / "deecho_remove_echo.lua"
SESSION_RATE = 48000


def recording_deecho(tmp_path: Path, deecho_bin: Path) -> tuple[Path, Path]:
    """A deecho that writes its arguments, one a line, then runs the real one."""
    calls = tmp_path / "deecho-calls.txt"
    wrapper = tmp_path / "deecho"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{calls}"\nexec "{deecho_bin}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, calls


def test_the_action_cuts_the_region_out_of_its_file_and_imports_it_at_its_place(
    plugin_env: dict[str, str], deecho_bin: Path, tmp_path: Path
) -> None:
    host = shutil.which("ardour7-lua")
    assert host, "ardour7-lua is missing: `make system-deps` installs ardour"
    wrapper, calls = recording_deecho(tmp_path, deecho_bin)
    result_path = tmp_path / "result.json"
    session = tmp_path / "session"
    done = subprocess.run(
        [
            host,
            str(LUA_HARNESS / "run_ardour_session.lua"),
            str(ACTION),
            str(session),
            str(result_path),
        ],
        env={**plugin_env, "DEECHO_BIN": str(wrapper)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result_path.exists(), f"ardour7-lua wrote no result:\n{done.stdout}\n{done.stderr}"
    result = json.loads(result_path.read_text())
    assert "host_error" not in result, f"{result['host_error']}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, done.stderr
    assert result["descriptor"] == {"type": "EditorAction", "name": "deecho: Remove Echo"}
    assert result.get("script_error") is None
    assert result["messages"] == [], "the action reported a failure"

    region = result["region"]
    assert region["start_samples"] == SESSION_RATE // 2
    assert region["position_samples"] == 2 * SESSION_RATE
    source = Path(region["file"])
    assert source.is_relative_to(session), "a recorded take lives in the session"

    # what deecho was asked: the region's part of its file, in seconds
    argv = calls.read_text().splitlines()
    assert argv[:2] == ["process", str(source)]
    start = float(argv[argv.index("--start") + 1])
    end = float(argv[argv.index("--end") + 1])
    assert start == pytest.approx(0.5, abs=1e-6)
    assert end - start == pytest.approx(region["length_samples"] / SESSION_RATE, abs=1e-6)

    [imported] = result["imports"]
    [output] = imported["files"]
    assert output == argv[argv.index("-o") + 1]
    assert imported["position_samples"] == region["position_samples"], "lined up with the region"
    assert imported["disposition"] == 0 and imported["mode"] == 0  # distinct files, as a track
    assert imported["src_best"] and imported["track_name_from_file"] and imported["tempo_ignored"]
    assert imported["no_instrument"] and imported["no_target_track"]
    assert imported["with_markers"] is False

    # the cleaned file is that stretch of the take (noise has no echo to remove)
    cleaned, rate = sf.read(output)
    take, _ = sf.read(source)
    assert rate == SESSION_RATE and len(cleaned) == region["length_samples"]
    first = region["start_samples"]
    stretch = take[first : first + len(cleaned)]
    correlation = np.dot(stretch, cleaned) / (np.linalg.norm(stretch) * np.linalg.norm(cleaned))
    assert correlation > 0.9
    shifted = take[first - 100 : first - 100 + len(cleaned)]
    assert abs(np.dot(shifted, cleaned)) < 0.2 * np.dot(stretch, cleaned)
