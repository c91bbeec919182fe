"""deecho's local DSP engine: blind echo detection and cancellation, late-reverb suppression.

Arrays in, arrays out: audio is (channels, samples) float32 with its sample rate beside it.
Typical use on a file too long for memory: read the excerpt_spans(), analyze() them into a
plan, then stream every block of the file through EchoCanceller(plan, ...).run().
"""

from .canceller import (
    EchoCanceller,
    EchoPlan,
    EngineResult,
    Room,
    analyze,
    estimate_echoes,
    excerpt_spans,
    fit_room,
    remove_echo,
)
from .report import Amounts, Echo, EngineReport
from .rt60 import estimate_rt60

__all__ = [
    "Amounts",
    "Echo",
    "EchoCanceller",
    "EchoPlan",
    "EngineReport",
    "EngineResult",
    "Room",
    "analyze",
    "estimate_echoes",
    "estimate_rt60",
    "excerpt_spans",
    "fit_room",
    "remove_echo",
]
