"""The settings file may hold API keys: it is written readable by its owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from deecho.config import load_settings, save_settings


def test_saved_settings_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        path = save_settings(load_settings(), tmp_path / "config.toml")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
