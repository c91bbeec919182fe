"""Real file-system faults under `deecho process`: a full disk, a read-only folder, files
that change under a running job. Each ends with the documented exit code, one line on
stderr, and no partial file anywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from audio_fixtures import deecho_command, tone_burst_signal
from deecho.errors import AudioDecodeError, OutputError
from deecho.pipeline import ProcessRequest, process_file
from fault_fixtures import files_under, fill, tmpfs

RATE = 44100


def _take(path: Path, seconds: float, channels: int = 2) -> Path:
    sf.write(path, tone_burst_signal(RATE, seconds, channels=channels).T, RATE, subtype="PCM_16")
    return path


def _process(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*deecho_command(), "process", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_output_larger_than_the_disk_is_exit_73_and_leaves_nothing(tmp_path: Path) -> None:
    take = _take(tmp_path / "take.wav", 8.0)  # float output: about 2.8 MB
    with tmpfs(tmp_path / "disk", 2 << 20) as disk:
        result = _process(take, "-o", disk / "take.no_echo.wav")
        assert result.returncode == 73, result.stderr
        assert "disk is full" in _one_line(result)
        assert files_under(disk) == []
        # nothing was kept: a job that fits goes through on the same disk
        small = _take(tmp_path / "small.wav", 1.0)
        assert _process(small, "-o", disk / "small.no_echo.wav").returncode == 0
        assert files_under(disk) == ["small.no_echo.wav"]


def test_echo_output_on_a_full_disk_is_exit_73_and_writes_neither(tmp_path: Path) -> None:
    take = _take(tmp_path / "take.wav", 2.0)
    no_echo = tmp_path / "take.no_echo.wav"
    with tmpfs(tmp_path / "disk", 1 << 20) as disk:
        filler = fill(disk)
        result = _process(take, "-o", no_echo, "--echo-output", disk / "take.echo.wav")
        assert result.returncode == 73, result.stderr
        assert "disk is full" in _one_line(result)
        assert files_under(disk) == []
        assert sorted(path.name for path in tmp_path.iterdir()) == ["disk", "take.wav"]
        filler.unlink()  # space freed: the same command now works
        again = _process(take, "-o", no_echo, "--echo-output", disk / "take.echo.wav")
        assert again.returncode == 0, again.stderr
        assert no_echo.exists() and files_under(disk) == ["take.echo.wav"]


def test_read_only_output_folder_is_exit_73(tmp_path: Path) -> None:
    take = _take(tmp_path / "take.wav", 1.0)
    with tmpfs(tmp_path / "disk", 1 << 20, read_only=True) as disk:
        result = _process(take, "-o", disk / "take.no_echo.wav")
        assert result.returncode == 73, result.stderr
        assert "read-only" in _one_line(result)


def _when_writing(action: object) -> object:
    """A progress callback that runs `action` once, when the first output block is written."""
    done = [False]

    def progress(fraction: float, stage: str) -> None:
        if 0.1 < fraction < 1.0 and not done[0]:
            done[0] = True
            action()  # type: ignore[operator]

    return progress


def test_input_truncated_while_being_read_is_a_data_error(tmp_path: Path) -> None:
    take = _take(tmp_path / "take.wav", 20.0, channels=1)
    out = tmp_path / "out"
    out.mkdir()
    request = ProcessRequest(input=take, output=out / "no_echo.wav", echo_output=out / "echo.wav")
    cut = _when_writing(lambda: os.truncate(take, take.stat().st_size // 2))
    with pytest.raises(AudioDecodeError, match="ends early") as raised:
        process_file(request, progress=cut)  # type: ignore[arg-type]
    assert raised.value.exit_code == 65
    assert list(out.iterdir()) == []


def test_output_folder_removed_mid_run_is_an_output_error(tmp_path: Path) -> None:
    take = _take(tmp_path / "take.wav", 20.0, channels=1)
    out = tmp_path / "out"
    out.mkdir()
    request = ProcessRequest(input=take, output=out / "no_echo.wav")
    vanish = _when_writing(lambda: shutil.rmtree(out))
    with pytest.raises(OutputError, match=r"no_echo\.wav: cannot write") as raised:
        process_file(request, progress=vanish)  # type: ignore[arg-type]
    assert raised.value.exit_code == 73
    assert not out.exists()
