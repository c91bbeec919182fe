"""The REAPER actions, run by lua5.4 against a strict fake of the ReaScript API.

The fake runs the real `deecho` CLI through its ExecProcess, so these tests
check the whole path: item section -> command line -> CLI -> new take.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from .conftest import PLUGINS, RATE, run_lua_host, speech_with_echo, write_wav

REMOVE_ECHO = PLUGINS / "reaper" / "deecho_remove_echo.lua"
OPEN_WORKSPACE = PLUGINS / "reaper" / "deecho_open_in_workspace.lua"


def item(file: Path, startoffs: float, length: float, **take: Any) -> dict[str, Any]:
    return {
        "position": 10.0,
        "length": length,
        "takes": [{"name": "vocal", "file": str(file), "startoffs": startoffs, **take}],
    }


def run_reaper(
    script: Path, scenario: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> dict[str, Any]:
    result = run_lua_host("reaper", script, scenario, env, tmp_path)
    assert result["violations"] == [], result["violations"]
    assert result.get("script_error") is None, result["script_error"]
    assert result["undo_depth"] == 0, "every Undo_BeginBlock needs its Undo_EndBlock"
    assert result["refresh_depth"] == 0, "PreventUIRefresh must be balanced"
    return result


def lag_of_best_match(reference: np.ndarray, candidate: np.ndarray, max_lag: int) -> int:
    """The shift (in samples) at which candidate lines up best with reference."""
    n = min(len(reference), len(candidate))
    ref, cand = reference[:n], candidate[:n]
    scores = [
        float(np.dot(ref[max(0, k) : n + min(0, k)], cand[max(0, -k) : n - max(0, k)]))
        for k in range(-max_lag, max_lag + 1)
    ]
    return int(np.argmax(scores)) - max_lag


@pytest.mark.parametrize("merge_stderr", [True, False], ids=["stderr-mixed", "stdout-only"])
def test_selected_item_gets_a_new_active_take_cut_from_its_section(
    echo_wav: Path,
    plugin_env: dict[str, str],
    tmp_path: Path,
    merge_stderr: bool,
    deecho_bin: Path,
) -> None:
    scenario = {"items": [item(echo_wav, 0.5, 2.0)], "merge_stderr": merge_stderr}
    result = run_reaper(REMOVE_ECHO, scenario, plugin_env, tmp_path)

    assert result["message_boxes"] == []
    assert result["undo_blocks"] == ["deecho: remove echo (1 item)"]
    [call] = result["exec_calls"]
    argv = call["argv"]
    assert argv[:3] == [str(deecho_bin), "process", str(echo_wav)]
    assert argv[argv.index("--start") + 1] == "0.500000"
    assert argv[argv.index("--end") + 1] == "2.500000"
    assert "--json" in argv
    assert call["timeout"] == 0 and call["status"] == 0

    old, new = result["items"][0]["takes"]
    assert old == {**old, "file": str(echo_wav), "startoffs": 0.5, "active": False}
    assert new["active"] and new["name"] == "vocal (deecho)"
    assert new["peaks"] == "built"
    assert new["startoffs"] == 0 and new["playrate"] == 1
    assert Path(new["file"]).parent == echo_wav.parent, "the result sits beside its source"
    assert Path(new["file"]).name == "vocal take.no_echo.0.500-2.500s.wav"
    assert new["source_length"] == pytest.approx(2.0, abs=1 / RATE)

    # the new take plays the same moment the old one did: no shift against the source
    original, _ = sf.read(echo_wav, always_2d=True)
    section = original[RATE // 2 : RATE // 2 + 2 * RATE, 0]
    cleaned, _ = sf.read(new["file"], always_2d=True)
    assert abs(lag_of_best_match(section, cleaned[:, 0], max_lag=400)) <= 2


def test_play_rate_scales_the_section_and_is_kept_on_the_new_take(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    scenario = {"items": [item(echo_wav, 1.0, 1.0, playrate=2.0, vol=0.5)]}
    result = run_reaper(REMOVE_ECHO, scenario, plugin_env, tmp_path)
    new = result["items"][0]["takes"][1]
    assert new["playrate"] == 2.0
    assert new["volume"] == 0.5, "take volume carries over, so A/B between takes is fair"
    assert new["source_length"] == pytest.approx(2.0, abs=1 / RATE)  # 1 s at 2x plays 2 s
    assert Path(new["file"]).name.endswith(".1.000-3.000s.wav")


def test_section_sources_offset_the_range_in_the_parent_file(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    section = {"offset": 1.0, "length": 2.0}
    scenario = {"items": [item(echo_wav, 0.25, 1.0, section=section)]}
    result = run_reaper(REMOVE_ECHO, scenario, plugin_env, tmp_path)
    argv = result["exec_calls"][0]["argv"]
    assert argv[2] == str(echo_wav), "the parent's file, not the section"
    assert argv[argv.index("--start") + 1] == "1.250000"
    assert argv[argv.index("--end") + 1] == "2.250000"
    assert result["items"][0]["takes"][1]["source_type"] == "WAVE"


def test_reversed_sections_are_refused_with_a_message(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    section = {"offset": 0.0, "length": 4.0, "reversed": True}
    result = run_reaper(
        REMOVE_ECHO, {"items": [item(echo_wav, 0.0, 1.0, section=section)]}, plugin_env, tmp_path
    )
    assert result["exec_calls"] == []
    [box] = result["message_boxes"]
    assert "reversed" in box["message"]
    assert len(result["items"][0]["takes"]) == 1


def test_item_reaching_past_the_file_uses_only_the_audio_there(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    # starts 0.5 s before the file and (looped) runs past its end
    scenario = {"items": [item(echo_wav, -0.5, 6.0)]}
    result = run_reaper(REMOVE_ECHO, scenario, plugin_env, tmp_path)
    argv = result["exec_calls"][0]["argv"]
    assert argv[argv.index("--start") + 1] == "0.000000"
    assert argv[argv.index("--end") + 1] == "4.000000"
    new = result["items"][0]["takes"][1]
    assert new["startoffs"] == -0.5, "the new take keeps the item's lead-in silence"
    assert new["source_length"] == pytest.approx(4.0, abs=1 / RATE)


def test_several_items_share_one_undo_block_and_failures_are_listed(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    midi = item(echo_wav, 0.0, 1.0, midi=True, name="drums")
    scenario = {"items": [item(echo_wav, 0.0, 1.0), midi, item(echo_wav, 2.0, 1.5)]}
    result = run_reaper(REMOVE_ECHO, scenario, plugin_env, tmp_path)
    assert result["undo_blocks"] == ["deecho: remove echo (2 items)"]
    assert [len(i["takes"]) for i in result["items"]] == [2, 1, 2]
    [box] = result["message_boxes"]
    assert "1 of 3" in box["message"] and "drums: it is a MIDI take" in box["message"]


def test_running_twice_never_overwrites_the_first_result(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    first = run_reaper(REMOVE_ECHO, {"items": [item(echo_wav, 0.0, 1.0)]}, plugin_env, tmp_path)
    first_file = Path(first["items"][0]["takes"][1]["file"])
    first_bytes = first_file.read_bytes()
    second = run_reaper(REMOVE_ECHO, {"items": [item(echo_wav, 0.0, 1.0)]}, plugin_env, tmp_path)
    second_file = Path(second["items"][0]["takes"][1]["file"])
    assert second_file != first_file
    assert second_file.name == "vocal take.no_echo.0.000-1.000s-2.wav"
    assert first_file.read_bytes() == first_bytes


def test_non_ascii_paths_survive_the_json_round_trip(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "prises café ünïcode"
    folder.mkdir()
    source = write_wav(folder / "voix été.wav", speech_with_echo(2.0, 1))
    result = run_reaper(REMOVE_ECHO, {"items": [item(source, 0.0, 1.0)]}, plugin_env, tmp_path)
    new = result["items"][0]["takes"][1]
    assert new["file"] == str(folder / "voix été.no_echo.0.000-1.000s.wav")
    assert Path(new["file"]).exists()


def undecodable_wav(path: Path) -> Path:
    """A RIFF/WAVE header announcing a codec nobody decodes, then noise."""
    data = bytes(range(256)) * 64
    fmt = struct.pack("<HHIIHH", 0x1234, 1, RATE, RATE * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize("merge_stderr", [True, False], ids=["stderr-mixed", "stdout-only"])
def test_deecho_failures_end_in_a_message_box_and_no_take(
    plugin_env: dict[str, str], tmp_path: Path, merge_stderr: bool
) -> None:
    broken = undecodable_wav(tmp_path / "broken.wav")
    scenario = {"items": [item(broken, 0.0, 1.0)], "merge_stderr": merge_stderr}
    result = run_reaper(REMOVE_ECHO, scenario, plugin_env, tmp_path)
    assert result["exec_calls"][0]["status"] == 65
    [box] = result["message_boxes"]
    reason = "deecho:" if merge_stderr else "the audio could not be decoded"
    assert reason in box["message"]
    assert len(result["items"][0]["takes"]) == 1
    assert result["undo_blocks"] == ["deecho: remove echo (0 items)"]


def test_without_deecho_on_path_it_asks_once_and_remembers(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path, deecho_bin: Path
) -> None:
    env = {**plugin_env, "PATH": "/usr/bin:/bin"}
    scenario = {"items": [item(echo_wav, 0.0, 1.0)], "user_inputs": [str(deecho_bin)]}
    result = run_reaper(REMOVE_ECHO, scenario, env, tmp_path)
    assert len(result["user_input_calls"]) == 1
    assert result["ext_state"] == {"deecho/command": str(deecho_bin)}
    assert result["exec_calls"][0]["argv"][0] == str(deecho_bin)
    assert len(result["items"][0]["takes"]) == 2


def test_without_deecho_and_no_answer_it_says_so_and_changes_nothing(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**plugin_env, "PATH": "/usr/bin:/bin"}
    result = run_reaper(REMOVE_ECHO, {"items": [item(echo_wav, 0.0, 1.0)]}, env, tmp_path)
    assert result["exec_calls"] == [] and result["undo_blocks"] == []
    [box] = result["message_boxes"]
    assert "deecho command was not found" in box["message"]


def test_nothing_selected_says_what_to_do(plugin_env: dict[str, str], tmp_path: Path) -> None:
    result = run_reaper(REMOVE_ECHO, {"items": []}, plugin_env, tmp_path)
    assert result["message_boxes"] == [
        {"title": "deecho: remove echo", "message": "Select one or more audio items first."}
    ]


def recorder(path: Path, record: Path) -> Path:
    """A stand-in program that writes the arguments it got, one per line."""
    path.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    path.chmod(0o755)
    return path


def test_open_in_workspace_runs_deecho_tui_on_the_source_in_a_terminal(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    # `deecho tui` needs a person at a terminal, so a recorder stands in for
    # deecho here; /usr/bin/env stands in for the terminal program.
    record = tmp_path / "tui-args.txt"
    fake_deecho = recorder(tmp_path / "deecho-recorder", record)
    scenario = {
        "items": [item(echo_wav, 0.5, 1.0, section={"offset": 1.0, "length": 2.0})],
        "ext_state": {"deecho/command": str(fake_deecho), "deecho/terminal": '"/usr/bin/env"'},
    }
    result = run_reaper(OPEN_WORKSPACE, scenario, plugin_env, tmp_path)
    assert result["message_boxes"] == []
    [call] = result["exec_calls"]
    assert call["timeout"] == -1, "REAPER must not wait for the workspace to close"
    assert call["argv"][:2] == ["/usr/bin/env", "/bin/sh"]
    assert record.read_text().splitlines() == ["tui", str(echo_wav)]


def test_open_in_workspace_finds_a_linux_terminal_on_path(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path, deecho_bin: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "terminal-args.txt"
    recorder(bin_dir / "x-terminal-emulator", record)
    env = {**plugin_env, "PATH": f"{bin_dir}:{plugin_env['PATH']}"}
    result = run_reaper(OPEN_WORKSPACE, {"items": [item(echo_wav, 0.0, 1.0)]}, env, tmp_path)
    assert result["message_boxes"] == []
    args = record.read_text().splitlines()
    assert args[:2] == ["-e", "/bin/sh"]
    launcher = Path(args[2]).read_text()
    assert f"'{deecho_bin}' tui '{echo_wav}'" in launcher


def test_the_fake_api_fails_loudly_on_names_reaper_lacks(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "typo.lua"
    script.write_text('reaper.CountSelectedItems(0)\nreaper.ShowMessageBox("x", "y", 0)\n')
    result = run_lua_host("reaper", script, {"items": []}, plugin_env, tmp_path)
    assert "reaper.CountSelectedItems is not in REAPER's API" in result["violations"][0]
    assert result["script_error"]


def test_the_fake_api_rejects_unknown_parameter_names(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "parm.lua"
    script.write_text(
        "local item = reaper.GetSelectedMediaItem(0, 0)\n"
        'reaper.GetMediaItemInfo_Value(item, "D_LENGHT")\n'
    )
    result = run_lua_host("reaper", script, {"items": [item(echo_wav, 0, 1)]}, plugin_env, tmp_path)
    assert "unknown item parameter D_LENGHT" in result["violations"][0]


def test_strength_setting_is_passed_to_deecho(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    scenario = {"items": [item(echo_wav, 0.0, 1.0)], "ext_state": {"deecho/strength": "0.6"}}
    result = run_reaper(REMOVE_ECHO, scenario, plugin_env, tmp_path)
    argv = result["exec_calls"][0]["argv"]
    assert argv[argv.index("--strength") + 1] == "0.6"
    assert len(result["items"][0]["takes"]) == 2


def test_open_in_workspace_on_macos_uses_terminal_app_with_an_executable_launcher(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    fake_deecho = recorder(tmp_path / "deecho-recorder", tmp_path / "unused.txt")
    scenario = {
        "os": "macOS-arm64",
        "items": [item(echo_wav, 0.0, 1.0)],
        "ext_state": {"deecho/command": str(fake_deecho)},
    }
    result = run_reaper(OPEN_WORKSPACE, scenario, plugin_env, tmp_path)
    chmod, open_call = result["exec_calls"]
    launcher = Path(chmod["argv"][2])
    assert chmod["argv"][:2] == ["/bin/chmod", "+x"] and chmod["status"] == 0
    assert launcher.suffix == ".command" and launcher.stat().st_mode & 0o111
    assert open_call["argv"] == ["/usr/bin/open", "-a", "Terminal", str(launcher)]
    assert open_call["timeout"] == -1
    assert f"'{fake_deecho}' tui '{echo_wav}'" in launcher.read_text()


def test_open_in_workspace_on_windows_writes_a_cmd_launcher_for_a_new_console(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "100% take"  # cmd.exe would expand %...% without doubling
    folder.mkdir()
    source = write_wav(folder / "vox.wav", speech_with_echo(1.0, 1))
    fake_deecho = recorder(tmp_path / "deecho.exe", tmp_path / "unused.txt")
    temp = tmp_path / "temp"
    temp.mkdir()
    scenario = {
        "os": "Win64",
        "items": [item(source, 0.0, 1.0)],
        "ext_state": {"deecho/command": str(fake_deecho)},
    }
    env = {**plugin_env, "TEMP": str(temp) + "\\"}
    result = run_reaper(OPEN_WORKSPACE, scenario, env, tmp_path)
    [call] = result["exec_calls"]
    assert call["argv"][:4] == ["cmd.exe", "/c", "start", "deecho"]
    launcher = Path(call["argv"][4])  # "<TEMP>\\deecho-open-….cmd" (one name, on Linux)
    assert str(launcher).startswith(str(temp) + "\\") and launcher.suffix == ".cmd"
    text = launcher.read_bytes().decode()  # as written: no newline translation
    assert text.splitlines()[1] == f'"{fake_deecho}" tui "{str(source).replace("%", "%%")}"'
    assert "\r\n" in text


def test_when_the_source_folder_refuses_the_output_the_project_folder_is_tried(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    # A source name so long that "<name>.no_echo.<range>.wav" exceeds the file
    # system's limit: deecho cannot create the output (73) in either folder,
    # which shows both attempts without needing a read-only folder (tests run as root).
    folder = tmp_path / "sources"
    folder.mkdir()
    source = write_wav(folder / ("x" * 240 + ".wav"), speech_with_echo(1.0, 1))
    project = tmp_path / "project media"
    project.mkdir()
    scenario = {"items": [item(source, 0.0, 1.0)], "project_path": str(project)}
    result = run_reaper(REMOVE_ECHO, scenario, plugin_env, tmp_path)
    first, second = result["exec_calls"]
    assert first["status"] == 73 and second["status"] == 73
    assert Path(first["argv"][first["argv"].index("-o") + 1]).parent == folder
    assert Path(second["argv"][second["argv"].index("-o") + 1]).parent == project
    assert len(result["items"][0]["takes"]) == 1
    assert (
        "could not be created" in result["message_boxes"][0]["message"]
        or "deecho:" in (result["message_boxes"][0]["message"])
    )
