"""The Ardour editor action, run by lua5.4 against a strict fake of Ardour's Lua bindings.

The script runs the real `deecho` CLI (through io.popen, as in Ardour) and
the fake records the tracks Editor:do_import would add.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from .conftest import PLUGINS, RATE, run_lua_host, speech_with_echo, write_wav

ACTION = PLUGINS / "ardour" / "deecho_remove_echo.lua"


def run_ardour(scenario: dict[str, Any], env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    result = run_lua_host("ardour", ACTION, {"sample_rate": RATE, **scenario}, env, tmp_path)
    assert result["violations"] == [], result["violations"]
    assert result.get("script_error") is None, result["script_error"]
    assert result["descriptor"] == {"type": "EditorAction", "name": "deecho: Remove Echo"}
    return result


@pytest.fixture
def mono_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A stereo recording the way Ardour keeps it: one mono file per channel."""
    audio = speech_with_echo(4.0, 2)
    folder = tmp_path / "session" / "interchange" / "audiofiles"
    folder.mkdir(parents=True)
    return (
        write_wav(folder / "Vox-L.wav", audio[:1]),
        write_wav(folder / "Vox-R.wav", audio[1:]),
    )


def test_a_stereo_region_of_two_mono_files_becomes_one_new_stereo_track(
    mono_pair: tuple[Path, Path], plugin_env: dict[str, str], tmp_path: Path
) -> None:
    region = {
        "name": "Vox.1",
        "files": [str(p) for p in mono_pair],
        "start_s": 0.5,
        "length_s": 2.25,
        "position_s": 12.0,
    }
    result = run_ardour({"regions": [region]}, plugin_env, tmp_path)
    assert result["messages"] == []
    [imported] = result["imports"]
    assert imported["mode"] == "ImportAsTrack"
    assert imported["disposition"] == "ImportMergeFiles", "two mono files, one track"
    assert imported["position_s"] == pytest.approx(12.0)
    names = [Path(f["path"]).name for f in imported["files"]]
    assert names == ["Vox-L.no_echo.0.500-2.750s.wav", "Vox-R.no_echo.0.500-2.750s.wav"]
    for file in imported["files"]:
        assert file["info"]["channels"] == 1
        assert file["info"]["duration_s"] == pytest.approx(2.25, abs=1 / RATE)
        assert Path(file["path"]).parent == tmp_path, "results go to the temp folder"
    # each channel's result comes from its own file
    left, _ = sf.read(imported["files"][0]["path"])
    right, _ = sf.read(imported["files"][1]["path"])
    assert abs(left).max() > abs(right).max(), "the left channel is the louder one"


def test_an_embedded_multichannel_file_is_processed_once(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    region = {
        "name": "Take 3",
        "files": [str(echo_wav)],
        "embedded": True,
        "channels": 2,
        "start_s": 1.0,
        "length_s": 1.5,
        "position_s": 3.0,
    }
    scenario = {"regions": [region]}
    result = run_ardour(scenario, plugin_env, tmp_path)
    assert result["messages"] == []
    [imported] = result["imports"]
    assert imported["disposition"] == "ImportDistinctFiles"
    [file] = imported["files"]
    assert file["info"] == {"channels": 2, "sample_rate": RATE, "duration_s": pytest.approx(1.5)}
    assert imported["position_s"] == pytest.approx(3.0)


def test_each_selected_region_gets_its_own_track_and_failures_are_reported(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    good = {"name": "A", "files": [str(echo_wav)], "embedded": True, "channels": 2}
    regions = [
        {**good, "start_s": 0.0, "length_s": 1.0, "position_s": 0.0},
        {"name": "Beat", "midi": True, "files": [], "start_s": 0, "length_s": 1, "position_s": 0},
        {**good, "name": "B", "start_s": 2.0, "length_s": 1.0, "position_s": 8.0},
    ]
    result = run_ardour({"regions": regions}, plugin_env, tmp_path)
    assert [i["position_s"] for i in result["imports"]] == [pytest.approx(0.0), pytest.approx(8.0)]
    [message] = result["messages"]
    assert message["kind"] == "Error"
    assert "1 of 3" in message["text"] and "Beat: it is not an audio region" in message["text"]


def test_the_sandbox_without_os_and_io_gets_a_clear_message(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    region = {"name": "A", "files": [str(echo_wav)], "start_s": 0, "length_s": 1, "position_s": 0}
    result = run_ardour({"regions": [region], "sandbox_all": True}, plugin_env, tmp_path)
    assert result["imports"] == []
    [message] = result["messages"]
    assert "sandbox" in message["text"] and "Sandbox all Lua scripts" in message["text"]


def test_deecho_missing_from_path_is_explained(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**plugin_env, "PATH": "/usr/bin:/bin"}
    region = {"name": "A", "files": [str(echo_wav)], "start_s": 0, "length_s": 1, "position_s": 0}
    result = run_ardour({"regions": [region]}, env, tmp_path)
    assert result["imports"] == []
    assert "deecho command was not found" in result["messages"][0]["text"]


def test_deecho_bin_overrides_path(
    echo_wav: Path, plugin_env: dict[str, str], tmp_path: Path, deecho_bin: Path
) -> None:
    env = {**plugin_env, "PATH": "/usr/bin:/bin", "DEECHO_BIN": str(deecho_bin)}
    region = {
        "name": "A",
        "files": [str(echo_wav)],
        "embedded": True,
        "channels": 2,
        "start_s": 0.0,
        "length_s": 1.0,
        "position_s": 0.0,
    }
    result = run_ardour({"regions": [region]}, env, tmp_path)
    assert result["messages"] == [] and len(result["imports"]) == 1


def test_a_file_deecho_cannot_decode_is_reported_with_deechos_words(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "not audio.wav"
    bad.write_text("plain text, not a recording\n" * 20)
    region = {"name": "Bad", "files": [str(bad)], "start_s": 0, "length_s": 1, "position_s": 0}
    result = run_ardour({"regions": [region]}, plugin_env, tmp_path)
    assert result["imports"] == []
    [message] = result["messages"]
    assert "Bad: deecho:" in message["text"]


def test_nothing_selected_says_what_to_do(plugin_env: dict[str, str], tmp_path: Path) -> None:
    result = run_ardour({"regions": []}, plugin_env, tmp_path)
    assert result["messages"] == [
        {
            "title": "deecho: Remove Echo",
            "text": "Select one or more audio regions first.",
            "kind": "Info",
        }
    ]


def test_the_fake_bindings_fail_loudly_on_methods_ardour_lacks(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "typo.lua"
    script.write_text(
        'ardour { ["type"] = "EditorAction", name = "t" }\n'
        "function factory() return function()\n"
        "  for r in Editor:get_selection().regions:regionlist():iter() do\n"
        "    local p = r:position_samples()\n"
        "  end\n"
        "end end\n"
    )
    region = {"name": "A", "files": ["x.wav"], "start_s": 0, "length_s": 1, "position_s": 0}
    result = run_lua_host("ardour", script, {"regions": [region]}, plugin_env, tmp_path)
    assert "ARDOUR:Region has no member 'position_samples'" in result["violations"][0]
    assert result["script_error"]


def test_the_fake_bindings_insist_on_colon_calls(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "dot.lua"
    script.write_text(
        'ardour { ["type"] = "EditorAction", name = "t" }\n'
        "function factory() return function() Editor.get_selection() end end\n"
    )
    result = run_lua_host("ardour", script, {"regions": []}, plugin_env, tmp_path)
    assert "get_selection must be called with ':'" in result["violations"][0]
