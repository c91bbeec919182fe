"""A/B listening for the compare view: the core player, where sounddevice finds an output."""

from __future__ import annotations

from deecho.audio.player import Player, output_device_available

__all__ = ["Player", "output_device_available"]
