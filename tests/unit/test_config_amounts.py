"""The settings' echo and reverb defaults, each falling back on `strength`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from deecho.config import Settings
from deecho.engine import Amounts


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEECHO_CONFIG_FILE", str(tmp_path / "no-config.toml"))


def test_amounts_default_to_all() -> None:
    assert Settings().engine.amounts == Amounts(1.0, 1.0)


def test_strength_stands_for_both_unless_one_is_set() -> None:
    assert Settings(engine={"strength": 0.5}).engine.amounts == Amounts(0.5, 0.5)
    assert Settings(engine={"strength": 0.5, "echo": 0.0}).engine.amounts == Amounts(0.0, 0.5)


def test_reverb_default_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEECHO_ENGINE__REVERB", "0.25")
    assert Settings().engine.amounts == Amounts(1.0, 0.25)


@pytest.mark.parametrize("field", ["echo", "reverb"])
def test_out_of_range_defaults_are_refused(field: str) -> None:
    with pytest.raises(ValidationError):
        Settings(engine={field: 1.5})
