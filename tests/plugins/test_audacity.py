"""The Audacity/Tenacity script against a fake mod-script-pipe server on real FIFOs.

The script runs as a subprocess, as a user would run it, and calls the real
`deecho` CLI on the audio the fake "Audacity" exports.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from .conftest import PLUGINS, RATE, speech_with_echo
from .fake_audacity import FakeAudacity, Project, Track

SCRIPT = PLUGINS / "audacity" / "deecho_audacity.py"


def load_script_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deecho_audacity", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def pipe_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "pipes"
    folder.mkdir()
    return folder


@pytest.fixture
def project() -> Project:
    vocal = Track("Vocal", speech_with_echo(4.0, 2), RATE, start=0.0, selected=True)
    return Project(tracks=[vocal], selection=(1.0, 3.0))


@pytest.fixture
def audacity(pipe_dir: Path, project: Project) -> Iterator[FakeAudacity]:
    host = FakeAudacity(pipe_dir, project)
    yield host
    host.stop()


def run_script(
    env: dict[str, str], pipe_dir: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={**env, "DEECHO_AUDACITY_PIPE_DIR": str(pipe_dir)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def command_names(project: Project) -> list[str]:
    return [c.partition(":")[0] for c in project.commands]


def test_the_selection_comes_back_as_a_new_track_lined_up_with_it(
    audacity: FakeAudacity, project: Project, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "kept"
    done = run_script(plugin_env, audacity.to_path.parent, "--output-dir", str(out_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deecho: added track 'Vocal (deecho)'")
    assert command_names(project) == [
        "GetInfo",
        "SelSave",
        "Export2",
        "Import2",
        "GetInfo",  # only the new track is selected: nothing else will move
        "SelRestore",
        "Align_StartToSelStart",
        "SetTrack",
    ]
    assert "NumChannels=2" in project.commands[2], "a stereo selection is exported in stereo"

    original, new = project.tracks
    assert original.name == "Vocal" and original.start == 0.0
    assert new.name == "Vocal (deecho)"
    assert new.start == pytest.approx(1.0)
    assert new.audio.shape == (2, 2 * RATE)
    assert project.selection == (1.0, 3.0), "the user's selection is given back"
    [kept] = out_dir.iterdir()
    assert kept.name.startswith("Vocal-") and kept.name.endswith(".no_echo.wav")
    assert not list(tmp_path.glob("deecho-audacity-*")), "the exported selection is cleaned up"

    # what came back is the selected moment, not some other stretch of the take
    section = original.audio[0, RATE : 3 * RATE]
    cleaned = new.audio[0]
    correlation = np.dot(section, cleaned) / (np.linalg.norm(section) * np.linalg.norm(cleaned))
    assert correlation > 0.5
    shifted = np.dot(original.audio[0, RATE + 2000 : 3 * RATE + 2000], cleaned)
    assert abs(shifted) < np.dot(section, cleaned)


def test_only_the_new_track_moves_even_if_the_import_kept_other_tracks_selected(
    audacity: FakeAudacity, project: Project, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    project.import_keeps_selection = True
    done = run_script(plugin_env, audacity.to_path.parent, "--output-dir", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert "SelectTracks: Track=1 TrackCount=1 Mode=Set" in project.commands
    original, new = project.tracks
    assert original.start == 0.0 and original.name == "Vocal"
    assert new.start == pytest.approx(1.0) and new.name == "Vocal (deecho)"


def test_tenacity_pipe_names_are_found_too(
    pipe_dir: Path, project: Project, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    host = FakeAudacity(pipe_dir, project, host="tenacity")
    try:
        done = run_script(plugin_env, pipe_dir, "--output-dir", str(tmp_path / "out"))
    finally:
        host.stop()
    assert done.returncode == 0, done.stderr
    assert project.tracks[-1].name == "Vocal (deecho)"


def test_no_pipe_means_a_clear_message_not_a_hang(
    pipe_dir: Path, plugin_env: dict[str, str]
) -> None:
    done = run_script(plugin_env, pipe_dir, timeout=60)
    assert done.returncode == 69
    message = done.stderr.strip()
    assert message.count("\n") == 0 and message.startswith("deecho:")
    assert "mod-script-pipe" in message and "Preferences > Modules" in message
    uid = os.getuid()
    assert f"audacity_script_pipe.to.{uid}" in message
    assert f"tenacity_script_pipe.to.{uid}" in message


def test_a_pipe_left_by_a_closed_audacity_does_not_hang(
    pipe_dir: Path, plugin_env: dict[str, str]
) -> None:
    uid = os.getuid()
    os.mkfifo(pipe_dir / f"audacity_script_pipe.to.{uid}")
    os.mkfifo(pipe_dir / f"audacity_script_pipe.from.{uid}")
    done = run_script(plugin_env, pipe_dir, timeout=60)
    assert done.returncode == 69
    assert "is not listening" in done.stderr


def test_an_audacity_that_never_answers_times_out(
    pipe_dir: Path, plugin_env: dict[str, str]
) -> None:
    uid = os.getuid()
    to_path = pipe_dir / f"audacity_script_pipe.to.{uid}"
    from_path = pipe_dir / f"audacity_script_pipe.from.{uid}"
    os.mkfifo(to_path)
    os.mkfifo(from_path)
    listening = os.open(to_path, os.O_RDWR)  # reads nothing, answers nothing
    holder: list[int] = []
    opener = threading.Thread(target=lambda: holder.append(os.open(from_path, os.O_WRONLY)))
    opener.start()
    try:
        done = run_script(plugin_env, pipe_dir, "--timeout", "1", timeout=60)
    finally:
        opener.join(timeout=10)
        for fd in [listening, *holder]:
            os.close(fd)
    assert done.returncode == 69
    assert "did not answer within 1 s" in done.stderr


def test_nothing_selected_sends_no_export(
    audacity: FakeAudacity, project: Project, plugin_env: dict[str, str]
) -> None:
    project.tracks[0].selected = False
    done = run_script(plugin_env, audacity.to_path.parent)
    assert done.returncode == 69
    assert "select some audio" in done.stderr
    assert command_names(project) == ["GetInfo"]


def test_a_deecho_failure_is_reported_and_nothing_is_imported(
    audacity: FakeAudacity, project: Project, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    failing = tmp_path / "failing-deecho"
    failing.write_text("#!/bin/sh\necho 'deecho: cannot decode selection.wav' >&2\nexit 65\n")
    failing.chmod(0o755)
    done = run_script(plugin_env, audacity.to_path.parent, "--deecho", str(failing))
    assert done.returncode == 65, "deecho's own exit status passes through"
    assert "deecho failed: deecho: cannot decode selection.wav" in done.stderr
    assert "Import2" not in command_names(project)
    assert len(project.tracks) == 1


def test_refused_commands_are_reported_with_audacitys_words(
    audacity: FakeAudacity, project: Project, plugin_env: dict[str, str]
) -> None:
    project.selection = (2.0, 2.0)  # an empty selection: Export2 fails
    done = run_script(plugin_env, audacity.to_path.parent)
    assert done.returncode == 69
    assert "refused `Export2:" in done.stderr and "Nothing to export" in done.stderr


def test_pipe_names_for_each_platform_and_host() -> None:
    module = load_script_module()
    windows = module.candidate_pipes("win32", None)
    assert [(p.to_host, p.from_host) for p in windows] == [
        (r"\\.\pipe\ToSrvPipe", r"\\.\pipe\FromSrvPipe")
    ]
    unix = module.candidate_pipes("linux", 1000)
    assert [(p.host, p.to_host, p.from_host) for p in unix] == [
        (
            "Audacity",
            "/tmp/audacity_script_pipe.to.1000",
            "/tmp/audacity_script_pipe.from.1000",
        ),
        (
            "Tenacity",
            "/tmp/tenacity_script_pipe.to.1000",
            "/tmp/tenacity_script_pipe.from.1000",
        ),
    ]
