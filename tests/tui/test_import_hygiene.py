"""Layering, checked the way the imports really happen: each module in a fresh interpreter.

The core (engine, compare, audio, pipeline) imports no UI, web or HTTP library; the
workspace's modules import no HTTP library (remote backends are built in deecho.backends,
only when the user picks one).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE = ["deecho.engine", "deecho.compare", "deecho.audio", "deecho.audio.prep", "deecho.pipeline"]
UI = [
    "deecho.tui.app",
    "deecho.tui.workspace",
    "deecho.tui.compare_view",
    "deecho.tui.history_view",
    "deecho.tui.prep_panel",
    "deecho.tui.backend_panel",
    "deecho.tui.job_panel",
    "deecho.tui.folder_view",
    "deecho.tui.compare_panel",
    "deecho.tui.picker",
    "deecho.tui.download_line",
    "deecho.tui.tasks",
    "deecho.backends.reach",
    "deecho.tui.waveform",
    "deecho.overview",
    "deecho.history",
    "deecho.cli.tui",
]
UI_FRAMEWORKS = ["textual", "fastapi", "starlette", "uvicorn", "requests", "httpx"]
HTTP = ["requests", "httpx", "fastapi", "starlette", "uvicorn", "urllib3"]


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(result.stdout))


def top_levels(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("module", CORE)
def test_core_imports_no_ui_web_or_http(module: str) -> None:
    loaded = top_levels(loaded_after_import(module))
    assert loaded.isdisjoint(UI_FRAMEWORKS), sorted(loaded & set(UI_FRAMEWORKS))


@pytest.mark.parametrize("module", UI)
def test_workspace_modules_do_no_http(module: str) -> None:
    loaded = top_levels(loaded_after_import(module))
    assert loaded.isdisjoint(HTTP), sorted(loaded & set(HTTP))


def test_the_check_would_see_a_forbidden_import() -> None:
    # The probe itself must be able to fail: importing requests shows up.
    assert "requests" in top_levels(loaded_after_import("requests"))
