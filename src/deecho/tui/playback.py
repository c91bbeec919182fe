"""A/B listening through sounddevice, only where it is installed and finds an output device."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from deecho.audio.io import read_audio

__all__ = ["output_device_available", "play_file", "stop"]


@functools.cache
def _sounddevice() -> Any | None:
    try:
        import sounddevice
    except (ImportError, OSError):  # not installed, or PortAudio missing
        return None
    return sounddevice


def output_device_available() -> bool:
    """True when sounddevice is importable and the system has a default output device."""
    sd = _sounddevice()
    if sd is None:
        return False
    try:
        device = sd.query_devices(kind="output")
    except Exception:  # PortAudio raises its own error type when there is no device
        return False
    return bool(device) and int(device.get("max_output_channels", 0)) > 0


def play_file(path: Path) -> None:
    """Start playing a file on the default output (returns at once)."""
    sd = _sounddevice()
    if sd is None:
        return
    audio, rate = read_audio(path)
    sd.stop()
    sd.play(audio.T, rate)


def stop() -> None:
    sd = _sounddevice()
    if sd is not None:
        sd.stop()
