"""The A/B player's rendering, block by block, without an output device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from deecho.audio.player import Player
from deecho.errors import AudioError

RATE = 8000


def _ramp(path: Path, offset: float, frames: int = RATE, channels: int = 1) -> Path:
    # Distinct, position-coded signals: sample n of a source is offset + n / 2**16.
    values = (offset + np.arange(frames) / 2**16).astype(np.float32)
    sf.write(path, np.repeat(values[:, None], channels, axis=1), RATE, subtype="FLOAT")
    return path


@pytest.fixture
def takes(tmp_path: Path) -> list[Path]:
    return [_ramp(tmp_path / "a.wav", 0.0), _ramp(tmp_path / "b.wav", -0.5)]


def _position_and_source(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    source = (block < 0).astype(int)
    position = np.round((block + 0.5 * source) * 2**16).astype(int)
    return position, source


def test_a_switch_is_heard_at_the_same_position_from_the_next_block(takes: list[Path]) -> None:
    with Player(takes, block_s=0.01) as player:
        out = np.zeros((player.block_frames, 1), dtype=np.float32)
        player.fill(out)
        player.fill(out)
        player.switch(1)
        player.fill(out)
        position, source = _position_and_source(out[:, 0])
    assert list(source) == [1] * 80
    assert list(position) == list(range(160, 240))


def test_the_loop_wraps_inside_a_block(takes: list[Path]) -> None:
    with Player(takes, block_s=0.01) as player:
        player.set_loop(0.1, 0.105)  # frames [800, 840)
        player.seek(0.1)
        out = np.zeros((100, 1), dtype=np.float32)
        assert player.fill(out)
    position, _ = _position_and_source(out[:, 0])
    expected = [800 + n % 40 for n in range(100)]
    assert list(position) == expected


def test_the_end_of_the_take_ends_playing_with_silence(takes: list[Path]) -> None:
    with Player(takes) as player:
        player.seek(1.0 - 10 / RATE)
        out = np.ones((player.block_frames, 1), dtype=np.float32)
        assert not player.fill(out)
    assert np.count_nonzero(out[10:]) == 0
    assert np.count_nonzero(out[:10]) == 10


def test_a_mono_take_plays_on_both_channels_of_a_stereo_comparison(tmp_path: Path) -> None:
    paths = [_ramp(tmp_path / "a.wav", 0.1), _ramp(tmp_path / "b.wav", 0.2, channels=2)]
    with Player(paths) as player:
        assert player.channels == 2
        out = np.zeros((player.block_frames, 2), dtype=np.float32)
        player.fill(out)
    assert np.array_equal(out[:, 0], out[:, 1])


def test_takes_at_different_rates_are_refused(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", np.zeros(100, dtype=np.float32), 8000)
    sf.write(tmp_path / "b.wav", np.zeros(100, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="different sample rates"):
        Player([tmp_path / "a.wav", tmp_path / "b.wav"])
