"""The generality bench's verdicts and table (bench/generality.py); no recordings needed."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.generality import EFFECTS, Result, markdown  # noqa: E402


def test_each_effect_has_its_line() -> None:
    assert Result("x", "dry", 30.0, None).passed and not Result("x", "dry", 29.9, None).passed
    assert Result("x", "delay", 10.0, None).passed and not Result("x", "delay", 9.0, None).passed
    assert not Result("x", "slapback", 0.0, None).passed
    assert Result("x", "Freeverb", -0.5, 2.0).passed
    assert not Result("x", "room 0.7 s", -0.6, 4.0).passed


def test_the_table_marks_what_fell_below_its_line() -> None:
    results = [
        Result("oboe", "dry", 240.0, None),
        Result("oboe", "delay", 15.5, None),
        Result("oboe", "Freeverb", -2.1, 1.1),
    ]
    text = markdown(results, "test machine")
    assert "3 runs, 1 below their line (bold): oboe Freeverb -2.1." in text
    row = next(line for line in text.splitlines() if line.startswith("| oboe"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    by_effect = dict(zip(EFFECTS, cells[1:], strict=True))
    assert by_effect.pop("dry") == "identical" and by_effect.pop("delay") == "15.5"
    assert by_effect.pop("Freeverb") == "**-2.1 (1.1)**"
    assert set(by_effect.values()) == {"—"}
    assert len(cells) == 1 + len(EFFECTS)
