"""The comparison's picture: written atomically, a real PNG, with every panel drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from deecho.compare import CompareResult, align_and_compare
from deecho.compare.synthetic import SyntheticMusic

RATE = 16_000


@pytest.fixture(scope="module")
def result() -> CompareResult:
    music = SyntheticMusic(seed=3, channels=2, partials=48, top_hz=6000)
    original = music.render(RATE, 3 * RATE)
    processed = music.render(RATE, 3 * RATE, delay_s=0.01, drift_ppm=200.0, gain=-0.7)
    processed[:, RATE : RATE + 4000] *= 0.3
    return align_and_compare(original, RATE, processed, RATE, engine_estimates=False)


def test_png_is_written_and_non_empty(result: CompareResult, tmp_path: Path) -> None:
    from deecho.compare.plot import save_png

    path = tmp_path / "compare.png"
    save_png(result, path, "original.wav vs processed.wav")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 100_000  # six panels of waveforms and spectrograms, not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["compare.png"]  # no temp file left behind


def test_figure_has_every_panel(result: CompareResult) -> None:
    from deecho.compare.plot import draw

    figure = draw(result, "t")
    titles = [axes.get_title(loc="left") for axes in figure.axes]
    for wanted in (
        "Waveforms",
        "Difference",
        "Residual over time",
        "Original spectrogram",
        "Processed (aligned) spectrogram",
        "Per octave band",
        "Lag of processed",
    ):
        assert any(title.startswith(wanted) for title in titles), wanted


def test_failed_write_leaves_nothing(result: CompareResult, tmp_path: Path) -> None:
    from deecho.compare.plot import save_png

    with pytest.raises(OSError):
        save_png(result, tmp_path / "missing-folder" / "compare.png")
    assert list(tmp_path.iterdir()) == []


def test_compare_core_does_not_import_matplotlib() -> None:
    import subprocess
    import sys

    code = "import sys, deecho.compare; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
