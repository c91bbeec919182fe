"""Which lag, when more than one explains the audio: repeated material.

A looped beat repeated note for note matches itself one loop later, so the
whole-file correlation has a peak per repeat. With clock drift the right lag's
peak is smeared over many samples (the lag changes across the file) while a
lag that overlaps one loop barely smears, so the highest peak can be the wrong
one. Each strong peak is therefore tried: windows across its overlap say how
well it explains the audio (the residual after gain matching, from each
window's correlation), and among the lags that explain it equally well the one
that covers the most of the original wins. A second lag within `EQUAL_DB` means
the material repeats, and the result says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deecho.compare import align

#: Most peaks of the whole-file correlation tried.
MAX_CANDIDATES = 8
#: Peaks lower than this fraction of the highest are chance, not a repeat.
MIN_PEAK_FRACTION = 0.25
#: Windows measured per candidate (the winner is measured again in full).
CANDIDATE_WINDOWS = 16
#: Lags whose residuals are this close explain the audio equally well.
EQUAL_DB = 1.0
#: Residuals below this all explain the audio: deeper differences are the window
#: estimator's precision, not a better match.
RESIDUAL_FLOOR_DB = -40.0


@dataclass(frozen=True)
class Candidate:
    """One lag tried: where the processed take would sit, and how well that explains it."""

    lag: float  # processed position of original sample 0, samples (fitted line)
    slope: float  # lag change per original sample (clock drift)
    residual_db: float  # energy left after gain matching, relative to the original
    overlap: int  # original samples the processed take covers at this lag


@dataclass(frozen=True)
class LagChoice:
    """The coarse lag to refine, and what else was tried."""

    guess: float  # coarse lag of the chosen candidate, samples
    chosen: Candidate | None  # None when only one peak stood out (nothing to choose)
    candidates: tuple[Candidate, ...]  # every lag tried, strongest peak first

    @property
    def alternatives(self) -> tuple[Candidate, ...]:
        """The other lags that explain the audio within EQUAL_DB of the chosen one."""
        if self.chosen is None:
            return ()
        level = max(self.chosen.residual_db, RESIDUAL_FLOOR_DB) + EQUAL_DB
        return tuple(
            c
            for c in self.candidates
            if c is not self.chosen and max(c.residual_db, RESIDUAL_FLOOR_DB) <= level
        )

    @property
    def repeats(self) -> bool:
        """True when another lag explains the audio as well: the material repeats."""
        return bool(self.alternatives)


def _overlap(lag: float, slope: float, original_frames: int, processed_frames: int) -> int:
    """Original samples t with lag + (1 + slope) * t inside the processed take."""
    step = 1.0 + slope
    start = max(0, math.ceil(-lag / step))
    stop = min(original_frames, math.floor((processed_frames - 1 - lag) / step) + 1)
    return max(0, stop - start)


def _try(original: np.ndarray, processed: np.ndarray, rate: int, guess: float) -> Candidate:
    found = align.local_lags(original, processed, rate, guess, max_windows=CANDIDATE_WINDOWS)
    line = align.fit_lag_line(found, guess)
    slope = line.slope if line.windows_used >= 4 else 0.0
    # A window's correlation q leaves 1 - q^2 of its energy after gain matching.
    # Windows with q = 0 were silent (or of the other polarity): they say nothing.
    measured = found.quality[found.quality > 0]
    unexplained = float(np.mean(1.0 - np.minimum(measured, 1.0) ** 2)) if len(measured) else 1.0
    residual_db = 10.0 * math.log10(max(unexplained, 1e-12))
    overlap = _overlap(line.offset, slope, len(original), len(processed))
    return Candidate(line.offset, slope, residual_db, overlap)


def choose_lag(original: np.ndarray, processed: np.ndarray, rate: int) -> LagChoice:
    """The coarse lag of mono `processed` behind mono `original` that explains it best,
    preferring the greatest overlap among lags that explain it equally well."""
    lags = align.coarse_lags(
        original, processed, rate, count=MAX_CANDIDATES, min_height=MIN_PEAK_FRACTION
    )
    if len(lags) == 1:
        return LagChoice(float(lags[0]), None, ())
    candidates = tuple(_try(original, processed, rate, float(lag)) for lag in lags)
    best = min(max(c.residual_db, RESIDUAL_FLOOR_DB) for c in candidates)
    equal = [
        index
        for index, c in enumerate(candidates)
        if max(c.residual_db, RESIDUAL_FLOOR_DB) <= best + EQUAL_DB
    ]
    winner = max(equal, key=lambda index: (candidates[index].overlap, -index))
    return LagChoice(float(lags[winner]), candidates[winner], candidates)
