"""Unusual and damaged files through `deecho process` and the server: decoded, or refused.

A file deecho can decode comes out whole (every channel, every frame); one it cannot
is refused with exit 65 or HTTP 422 and a one-line reason. Never exit 70, never a 500.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from test_server_harness import LiveServer, live_server

from audio_fixtures import deecho_command
from deecho.api.models import TaskStatus
from deecho.audio.io import probe
from odd_corpus import FORMATS, SCIPY_DAMAGED, SCIPY_WAVS

pytestmark = pytest.mark.skipif(
    len(SCIPY_WAVS) < 20, reason="this scipy was installed without its test data"
)


@pytest.fixture(scope="module")
def formats(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    return {name: write(folder) for name, write in FORMATS.items()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("odd-server") / "data") as live:
        yield live


def _process(source: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    command = [*deecho_command(), "process", str(source), "-o", str(folder / "no_echo.wav")]
    command += ["--echo-output", str(folder / "echo.wav")]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _assert_decoded_whole(source: Path, folder: Path, result: subprocess.CompletedProcess[str]):
    assert result.returncode == 0, result.stderr
    expected = probe(source)
    for name in ("no_echo.wav", "echo.wav"):
        written = sf.info(folder / name)
        assert written.channels == expected.channels
        assert written.samplerate == expected.sample_rate
        if expected.frames and source.suffix not in (".m4a", ".mp4", ".mov"):
            assert written.frames == expected.frames


def _assert_refused(result: subprocess.CompletedProcess[str], folder: Path, words: str) -> None:
    assert result.returncode == 65, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert sorted(path.name for path in folder.iterdir()) == []


@pytest.mark.parametrize("source", SCIPY_WAVS, ids=lambda path: path.stem)
def test_scipy_wavs_through_process(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = _process(source, out)
    if source.name in SCIPY_DAMAGED:
        _assert_refused(result, out, SCIPY_DAMAGED[source.name])
    else:
        _assert_decoded_whole(source, out, result)


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_claimed_format_through_process(
    name: str, formats: dict[str, Path], tmp_path: Path
) -> None:
    _assert_decoded_whole(formats[name], tmp_path, _process(formats[name], tmp_path))


def _submit_and_finish(server: LiveServer, source: Path) -> tuple[int, str]:
    response = server.submit_file(source)
    if response.status_code != 200:
        return response.status_code, response.json()["error"]
    conversion = server.wait_done(response.json()["task_id"], timeout_s=120)
    return 200, f"{conversion.task_status.value}: {conversion.reason}"


@pytest.mark.parametrize("source", SCIPY_WAVS, ids=lambda path: path.stem)
def test_scipy_wavs_through_the_server(server: LiveServer, source: Path) -> None:
    status, outcome = _submit_and_finish(server, source)
    if source.name in SCIPY_DAMAGED:
        assert status == 422, outcome
        assert outcome.startswith(f"{source.name}: ") and SCIPY_DAMAGED[source.name] in outcome
    else:
        assert (status, outcome.split(":")[0]) == (200, TaskStatus.COMPLETED.value), outcome


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_claimed_format_through_the_server(
    server: LiveServer, formats: dict[str, Path], name: str
) -> None:
    status, outcome = _submit_and_finish(server, formats[name])
    assert (status, outcome.split(":")[0]) == (200, TaskStatus.COMPLETED.value), outcome
