"""Every Lua file we ship or test with compiles (`luac5.4 -p`), one file per call."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import LUA_HARNESS, PLUGINS

LUA_FILES = sorted([*PLUGINS.rglob("*.lua"), *LUA_HARNESS.glob("*.lua")])


def luac() -> str:
    found = shutil.which("luac5.4")
    assert found, "luac5.4 is missing: `make system-deps` installs the lua5.4 package"
    return found


def test_the_plugins_ship_lua_scripts_for_reaper_and_ardour() -> None:
    shipped = {p.relative_to(PLUGINS).as_posix() for p in PLUGINS.rglob("*.lua")}
    assert shipped == {
        "ardour/deecho_remove_echo.lua",
        "reaper/deecho_lib.lua",
        "reaper/deecho_open_in_workspace.lua",
        "reaper/deecho_remove_echo.lua",
    }


@pytest.mark.parametrize("path", LUA_FILES, ids=lambda p: p.relative_to(PLUGINS.parent).as_posix())
def test_lua_file_compiles(path: Path) -> None:
    # one file per call: luac5.4 -p with several files crashes (double free) on Debian
    done = subprocess.run(
        [luac(), "-p", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr


def test_luac_rejects_broken_lua(tmp_path: Path) -> None:
    broken = tmp_path / "broken.lua"
    broken.write_text("local function f(\n  return 1\nend\n")
    done = subprocess.run([luac(), "-p", str(broken)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
