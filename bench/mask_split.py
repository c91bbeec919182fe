"""Where the ideal mask's gain comes from: bins that are dying away, or bins that hold.

    python -m bench.mask_split [--only room,sox]

A blind method can tell reverb from sound where the sound stops: after a note or a
syllable ends, what is left falls at the room's pace and is all reverb. While a note
holds, the late reverb of that same note sits in the same bins, with the note's own
frequency, and only a method that knows the room's response at that frequency can
take it out. This splits the ideal ratio mask (bench/oracle.py, power form) into the
two: applied only to bins whose power fell over 64 ms by at least half the room's
decay (in dB), and only to the others. The room's decay is the Schroeder T30 of the
case's RIR where there is one, else deecho's blind RT60 of the input.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d

from bench import report
from bench.metrics import as_channels, si_sdr
from bench.oracle import STFT_HOP, _istft, _stft, placed_reference, schroeder_rt60
from bench.reverb_cases import ReverbCase, find_reverb_cases, reverb_cases

FALL_S = 0.064  # the engine's prediction delay: how far back "dying away" is judged
_TINY = 1e-12


def split_gains(wet: np.ndarray, reference: np.ndarray, rate: int, rt60_s: float) -> list[float]:
    """SI-SDR gains of the whole ideal mask, of its falling bins alone, of its holding bins."""
    wet, reference = as_channels(wet), as_channels(reference)
    spectrum_wet = _stft(wet)
    spectrum_dry = _stft(placed_reference(wet, reference))
    dry_power = np.abs(spectrum_dry) ** 2
    mask = dry_power / (dry_power + np.abs(spectrum_wet - spectrum_dry) ** 2 + _TINY)
    power = uniform_filter1d(np.abs(spectrum_wet) ** 2, 5, axis=-2)  # (channels, bins, frames)
    lag = max(1, round(FALL_S * rate / STFT_HOP))
    earlier = np.concatenate([power[..., :lag], power[..., :-lag]], axis=-1)
    room_fall = 10.0 ** (-6.0 * lag * STFT_HOP / rate / rt60_s)
    falling = power < np.sqrt(room_fall) * earlier
    before = si_sdr(wet, reference)
    gains = []
    for applied in (mask, np.where(falling, mask, 1.0), np.where(falling, 1.0, mask)):
        gains.append(si_sdr(_istft(applied * spectrum_wet, wet.shape[-1]), reference) - before)
    return gains


def _rt60(case: ReverbCase, audio: np.ndarray, rate: int) -> float:
    rir = case.impulse_response()
    if rir is not None:
        return schroeder_rt60(rir, rate)
    from deecho.engine import estimate_rt60

    return estimate_rt60(audio, rate) or 0.6


def rows(cases: Sequence[ReverbCase]) -> list[list[str]]:
    table = []
    for case in cases:
        if case.group in ("dry", "echo_only"):
            continue
        audio, reference, rate = case.generate()
        whole, falling, holding = split_gains(audio, reference, rate, _rt60(case, audio, rate))
        share = 100 * falling / whole if whole > 0.1 else float("nan")
        table.append(
            [
                case.name,
                case.kind,
                *(report.fmt(g) for g in (whole, falling, holding)),
                f"{share:.0f} %",
            ]
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NAMES", help="cases whose group, material or name match")
    args = parser.parse_args(argv)
    cases = list(find_reverb_cases(args.only)) if args.only else reverb_cases()
    header = (
        "case",
        "kind",
        "ideal mask",
        "falling bins only",
        "holding bins only",
        "falling share",
    )
    print(report.markdown_table(header, rows(cases)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
