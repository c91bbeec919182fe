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
class Amounts:
    """How much the engine removes, each from 0 (leave it) to 1 (remove all it finds).

    ``echo`` scales the discrete echoes' cancellation, ``reverb`` the late-reverb
    suppression; a single "strength" is both at once (`Amounts.both`).
    """

    echo: float = 1.0
    reverb: float = 1.0

    def __post_init__(self) -> None:
        for name in ("echo", "reverb"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:  # also refuses NaN
                raise ValueError(f"{name} amount {value}: use a value from 0 to 1")

    @classmethod
    def both(cls, strength: float) -> Amounts:
        return cls(echo=strength, reverb=strength)

    @property
    def strength(self) -> float | None:
        """The single strength these amounts stand for, or None when they differ."""
        return self.echo if self.echo == self.reverb else None


@dataclass(frozen=True)
class EngineReport:
    """Summary of one analysis: the echoes found, the reverb taken, the room around the cut.

    ``reverb_removed_db`` is how much energy the reverb suppression took out of the analysed
    excerpts (0 when it stood aside); ``drr_before_db`` / ``drr_after_db`` are the estimated
    direct-to-reverberant ratios (None when there is no room to measure).
    """

    echoes: list[Echo] = field(default_factory=list)
    rt60_before_s: float | None = None
    rt60_after_s: float | None = None
    amounts: Amounts = field(default_factory=Amounts)
    reverb_removed_db: float = 0.0
    drr_before_db: float | None = None
    drr_after_db: float | None = None

    @property
    def strength(self) -> float | None:
        return self.amounts.strength

    def to_dict(self) -> dict[str, Any]:
        return {
            "echoes": [echo.to_dict() for echo in self.echoes],
            "rt60_before_s": _rounded(self.rt60_before_s),
            "rt60_after_s": _rounded(self.rt60_after_s),
            "strength": self.strength,
            "echo_amount": self.amounts.echo,
            "reverb_amount": self.amounts.reverb,
            "reverb_removed_db": _rounded(self.reverb_removed_db),
            "drr_before_db": _rounded(self.drr_before_db),
            "drr_after_db": _rounded(self.drr_after_db),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
