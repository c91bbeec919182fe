"""Fixtures for the workspace tests: an isolated settings file and history, a sample copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deecho.config import Settings
from deecho.history import History

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never read or write the user's own settings or data from a test."""
    config = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("DEECHO_CONFIG_FILE", str(config))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    for name in ("DEECHO_API_KEY", "DEECHO_MUSICGPT_API_KEY", "DEECHO_WORKSPACE__BACKEND"):
        monkeypatch.delenv(name, raising=False)
    return config


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "data")


@pytest.fixture
def take(tmp_path: Path) -> Path:
    """A copy of the bundled echoey speech in a folder of its own (results land beside it)."""
    folder = tmp_path / "session"
    folder.mkdir()
    return Path(shutil.copy(SAMPLES / "speech_echo.wav", folder / "take.wav"))


@pytest.fixture
def long_take(tmp_path: Path) -> Path:
    """The bundled sample repeated to five minutes: a job that is still running when a
    test presses its next key (the 12 s sample is cleaned in a few tenths of a second)."""
    import numpy as np
    import soundfile as sf

    audio, rate = sf.read(SAMPLES / "speech_echo.wav", dtype="float32")
    folder = tmp_path / "session"
    folder.mkdir()
    path = folder / "take.wav"
    sf.write(path, np.tile(audio, round(300 * rate / audio.size) + 1), rate, subtype="PCM_16")
    return path


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests are async: anyio's pytest plugin runs them on asyncio."""
    return "asyncio"
