"""What the engine found, in the user's words: echo delays and gains, RT60 before and after."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Echo:
    """One echo (or echo train) the engine found.

    ``gain`` is the linear amplitude of the first repeat relative to the direct sound;
    ``feedback`` is each further repeat's gain relative to the previous one (0: a single
    reflection); ``channel`` is None when every channel showed the same echo.
    """

    delay_ms: float
    gain: float
    feedback: float = 0.0
    channel: int | None = None

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "delay_ms": round(self.delay_ms, 3),
            "gain": round(self.gain, 4),
            "feedback": round(self.feedback, 4),
            "channel": self.channel,
        }


@dataclass(frozen=True)
class EngineReport:
    """Summary of one analysis: the echoes found and the reverberation time around the cut."""

    echoes: list[Echo] = field(default_factory=list)
    rt60_before_s: float | None = None
    rt60_after_s: float | None = None
    strength: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "echoes": [echo.to_dict() for echo in self.echoes],
            "rt60_before_s": _rounded(self.rt60_before_s),
            "rt60_after_s": _rounded(self.rt60_after_s),
            "strength": self.strength,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
