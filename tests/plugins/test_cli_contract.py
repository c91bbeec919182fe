"""The `deecho process` contract every plugin relies on, pinned through real subprocesses.

stdout: the output path only, or with --json one JSON object; progress and
errors on stderr; sysexits exit codes; never the input overwritten; an
existing output refused unless --force; atomic writes; --start/--end in
seconds or hh:mm:ss.mmm.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .conftest import RATE

JSON_KEYS = {
    "input",
    "output",
    "echo_output",
    "duration_s",
    "sample_rate",
    "channels",
    "echoes",
    "rt60_before_s",
    "rt60_after_s",
    "seconds",
}


def deecho(
    deecho_bin: Path, env: dict[str, str], *args: str | Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(deecho_bin), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """Errors are one line on stderr starting `deecho:`, never a traceback."""
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, "an error must say what happened"
    assert lines[-1].startswith("deecho:"), done.stderr
    return lines[-1]


def test_default_output_is_beside_the_input_and_stdout_is_its_path(
    deecho_bin: Path, plugin_env: dict[str, str], echo_wav: Path
) -> None:
    before = digest(echo_wav)
    done = deecho(deecho_bin, plugin_env, "process", echo_wav)
    assert done.returncode == 0, done.stderr
    expected = echo_wav.with_name("vocal take.no_echo.wav")
    assert done.stdout.splitlines() == [str(expected)] or Path(done.stdout.strip()) == expected
    assert done.stdout.count("\n") == 1
    assert expected.exists()
    assert digest(echo_wav) == before, "the input must never be written"
    out, rate = sf.read(expected, always_2d=True)
    assert rate == RATE
    assert out.shape == (4 * RATE, 2)


def test_json_is_one_object_with_the_agreed_keys(
    deecho_bin: Path, plugin_env: dict[str, str], echo_wav: Path, tmp_path: Path
) -> None:
    output = tmp_path / "clean.wav"
    done = deecho(deecho_bin, plugin_env, "process", echo_wav, "-o", output, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # the whole stdout is exactly one JSON object
    assert isinstance(result, dict)
    assert set(result) >= JSON_KEYS
    assert Path(result["output"]) == output
    assert Path(result["input"]) == echo_wav
    assert result["echo_output"] is None
    assert result["sample_rate"] == RATE
    assert result["channels"] == 2
    assert result["duration_s"] == pytest.approx(4.0, abs=1 / RATE)
    assert isinstance(result["echoes"], list)
    assert result["seconds"] >= 0
    assert output.exists()


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [("0.5", "2.25", 1.75), ("00:00:01.000", "0:02.500", 1.5)],
)
def test_start_and_end_cut_the_section_in_seconds_or_clock_time(
    deecho_bin: Path,
    plugin_env: dict[str, str],
    echo_wav: Path,
    tmp_path: Path,
    start: str,
    end: str,
    seconds: float,
) -> None:
    output = tmp_path / "section.wav"
    done = deecho(
        deecho_bin, plugin_env, "process", echo_wav, "-o", output, "--start", start, "--end", end
    )
    assert done.returncode == 0, done.stderr
    assert sf.info(output).frames == pytest.approx(seconds * RATE, abs=1)


def test_echo_output_is_exactly_input_minus_output(
    deecho_bin: Path, plugin_env: dict[str, str], echo_wav: Path, tmp_path: Path
) -> None:
    output, echo = tmp_path / "no_echo.wav", tmp_path / "echo.wav"
    done = deecho(
        deecho_bin,
        plugin_env,
        "process",
        echo_wav,
        "-o",
        output,
        "--echo-output",
        echo,
        "--start",
        "1",
        "--end",
        "3",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert Path(result["echo_output"]) == echo
    original, _ = sf.read(echo_wav, always_2d=True, dtype="float32")
    section = original[RATE : 3 * RATE]
    no_echo, _ = sf.read(output, always_2d=True, dtype="float32")
    removed, _ = sf.read(echo, always_2d=True, dtype="float32")
    np.testing.assert_allclose(no_echo + removed, section, atol=1e-5)
    # how much is removed is the engine's business; that the report and the
    # files agree is the contract's
    if result["echoes"]:
        assert np.max(np.abs(removed)) > 0, "echoes reported, so something was removed"


def test_an_existing_output_is_refused_unless_force(
    deecho_bin: Path, plugin_env: dict[str, str], echo_wav: Path, tmp_path: Path
) -> None:
    output = tmp_path / "taken.wav"
    output.write_bytes(b"someone else's file")
    done = deecho(deecho_bin, plugin_env, "process", echo_wav, "-o", output)
    assert done.returncode == 73
    assert done.stdout == ""
    one_line_error(done)
    assert output.read_bytes() == b"someone else's file"

    forced = deecho(deecho_bin, plugin_env, "process", echo_wav, "-o", output, "--force")
    assert forced.returncode == 0, forced.stderr
    assert sf.info(output).frames == 4 * RATE


def test_the_input_is_never_overwritten_even_with_force(
    deecho_bin: Path, plugin_env: dict[str, str], echo_wav: Path
) -> None:
    before = digest(echo_wav)
    done = deecho(deecho_bin, plugin_env, "process", echo_wav, "-o", echo_wav, "--force")
    assert done.returncode in (64, 73)
    one_line_error(done)
    assert digest(echo_wav) == before


def test_a_missing_input_exits_66(
    deecho_bin: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    done = deecho(deecho_bin, plugin_env, "process", tmp_path / "nowhere.wav")
    assert done.returncode == 66
    assert done.stdout == ""
    one_line_error(done)


def test_undecodable_audio_exits_65(
    deecho_bin: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio\n" * 50)
    done = deecho(deecho_bin, plugin_env, "process", fake)
    assert done.returncode == 65
    one_line_error(done)
    assert not (tmp_path / "notes.no_echo.wav").exists()


def test_an_output_that_cannot_be_created_exits_73_and_leaves_nothing(
    deecho_bin: Path, plugin_env: dict[str, str], echo_wav: Path
) -> None:
    # the parent "folder" is a file: no user, root included, can create this
    impossible = echo_wav / "clean.wav"
    done = deecho(deecho_bin, plugin_env, "process", echo_wav, "-o", impossible)
    assert done.returncode == 73
    one_line_error(done)
    assert sorted(p.name for p in echo_wav.parent.iterdir()) == ["vocal take.wav"]


def test_an_output_name_the_file_system_refuses_exits_73(
    deecho_bin: Path, plugin_env: dict[str, str], echo_wav: Path
) -> None:
    # 300 bytes: longer than any common file system allows for one name
    too_long = echo_wav.with_name("x" * 300 + ".wav")
    done = deecho(deecho_bin, plugin_env, "process", echo_wav, "-o", too_long)
    assert done.returncode == 73, done.stderr
    one_line_error(done)


@pytest.mark.parametrize(
    "bad_args",
    [
        ["--no-such-flag"],
        ["--normalize-peak", "-1", "--normalize-lufs", "-16"],
        ["--start", "soon"],
    ],
)
def test_usage_errors_exit_64(
    deecho_bin: Path, plugin_env: dict[str, str], echo_wav: Path, bad_args: list[str]
) -> None:
    done = deecho(deecho_bin, plugin_env, "process", echo_wav, *bad_args)
    assert done.returncode == 64, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert not echo_wav.with_name("vocal take.no_echo.wav").exists()


def test_local_backend_and_prep_flags_are_accepted_and_leave_no_temp_files(
    deecho_bin: Path, plugin_env: dict[str, str], echo_wav: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / "clean.wav"
    done = deecho(
        deecho_bin,
        plugin_env,
        "process",
        echo_wav,
        "-o",
        output,
        "--backend",
        "local",
        "--strength",
        "0.5",
        "--trim-silence",
        "-60",
        "--normalize-peak",
        "-3",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert [p.name for p in out_dir.iterdir()] == ["clean.wav"], "atomic: no temp files left"
    assert json.loads(done.stdout)["output"] == str(output)


def test_tui_subcommand_is_there_for_the_open_in_workspace_actions(
    deecho_bin: Path, plugin_env: dict[str, str]
) -> None:
    done = deecho(deecho_bin, plugin_env, "tui", "--help")
    assert done.returncode == 0, done.stderr
    assert "FILE" in done.stdout or "file" in done.stdout.lower()
