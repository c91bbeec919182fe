"""Offset-tail suppression on music, tried with the room's own RT60 (issue 10).

The tempting first step for music in a room is a conservative offset-tail suppressor:
a gain below 1 only in the time-frequency cells whose energy falls at about the room's
pace (0.7-1.5 times its decay, read over DELAY_FRAMES), Lebart's spectral subtraction
there (the late power is the cell's power DELAY_FRAMES earlier, decayed at the room's
rate) with a floor and smoothing, and nothing where the energy holds or rises. This
runs exactly that, given the best information a blind method could hope for: the
room's true RT60 (Schroeder T30 of the case's impulse response) where there is one,
else deecho's blind reading of the input (bench/reverb's rt60 column). Dry cases show
output vs input SI-SDR (the do-no-harm guard, >= 30 dB).

It also splits the ideal ratio mask (bench/oracle.py, power form) by spectral shape,
beside bench/mask_split.py's split by time: applied only on partials (cells within
3 dB of the loudest of their +/- PEAK_BINS neighbours) and only between them.

    python -m bench.reverb_tails --only room,dry,sox_cello_80,freeverb_guitar_r0.9_w0.35
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from bench import report
from bench.metrics import as_channels, si_sdr
from bench.oracle import STFT_HOP, _istft, _stft, placed_reference, schroeder_rt60
from bench.reverb_cases import find_reverb_cases
from deecho.engine.rt60 import measure_decays

DELAY_FRAMES = 4  # the fall is read over 4 hops (46 ms at 44.1 kHz)
ROOM_PACE = (0.7, 1.5)  # falls, as multiples of the room's, that count as its tail
FLOOR = 0.5  # the suppressor's lowest power gain (-3 dB in amplitude)
PEAK_BINS = 5  # a partial is near the loudest cell of its +/- 5 bins (+/- 108 Hz)
_TINY = 1e-30


def relative_fall(spectrum: np.ndarray, rt60_s: float, hop_s: float) -> np.ndarray:
    """Each cell's fall over DELAY_FRAMES as a multiple of the room's (frames on the last
    axis): 1 is a tail dying at the room's pace, 0 a held note, below 0 a rising one."""
    power = _power(spectrum)
    fall_db = 10.0 * np.log10(np.maximum(_earlier(power), _TINY) / np.maximum(power, _TINY))
    return np.asarray(fall_db / (60.0 * DELAY_FRAMES * hop_s / rt60_s))


def offset_tail_gain(spectrum: np.ndarray, rt60_s: float, hop_s: float) -> np.ndarray:
    """The conservative suppressor's power gain per cell (1 outside the room's tails)."""
    power = _power(spectrum)
    room_fall = 10.0 ** (-6.0 * DELAY_FRAMES * hop_s / rt60_s)
    late = room_fall * _earlier(power)
    lebart = np.clip(1.0 - late / np.maximum(power, _TINY), FLOOR, 1.0)
    fall = relative_fall(spectrum, rt60_s, hop_s)
    tail = (fall >= ROOM_PACE[0]) & (fall < ROOM_PACE[1])
    return np.asarray(uniform_filter1d(np.where(tail, lebart, 1.0), 3, axis=-1))


def suppressed(wet: np.ndarray, rt60_s: float, sample_rate: int) -> np.ndarray:
    spectrum = _stft(as_channels(wet))
    gain = offset_tail_gain(spectrum, rt60_s, STFT_HOP / sample_rate)
    return _istft(np.sqrt(gain) * spectrum, as_channels(wet).shape[-1])


def partial_split(wet: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """Ideal-mask gains (dB): everywhere, on partials only, between partials only."""
    wet, reference = as_channels(wet), as_channels(reference)
    spectrum_wet = _stft(wet)
    spectrum_dry = _stft(placed_reference(wet, reference))
    dry_power = np.abs(spectrum_dry) ** 2
    mask = dry_power / (dry_power + np.abs(spectrum_wet - spectrum_dry) ** 2 + 1e-12)
    power = np.abs(spectrum_wet) ** 2
    peak = maximum_filter1d(power, 2 * PEAK_BINS + 1, axis=-2)
    under_db = 10.0 * np.log10(np.maximum(peak, _TINY) / np.maximum(power, _TINY))
    before = si_sdr(wet, reference)
    gains = []
    for cells in (np.ones(power.shape, dtype=bool), under_db < 3.0, under_db > 10.0):
        output = _istft(np.where(cells, mask, 1.0) * spectrum_wet, wet.shape[-1])
        gains.append(si_sdr(output, reference) - before)
    return gains[0], gains[1], gains[2]


def _power(spectrum: np.ndarray) -> np.ndarray:
    return np.asarray(uniform_filter1d(np.abs(spectrum) ** 2, 3, axis=-2))  # +/- 1 bin


def _earlier(power: np.ndarray) -> np.ndarray:
    first = np.repeat(power[..., :1], DELAY_FRAMES, axis=-1)
    return np.concatenate([first, power[..., :-DELAY_FRAMES]], axis=-1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reverb_tails", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--only", default="room", help="cases whose group, material or name match")
    args = parser.parse_args(argv)
    rows = []
    for case in find_reverb_cases(args.only):
        wet, reference, rate = case.generate()
        rir = case.impulse_response()
        decay = measure_decays(wet, rate)
        if rir is not None:
            rt60, source = schroeder_rt60(rir, rate), "RIR T30"
        elif decay is not None:
            rt60, source = decay.rt60_s, "blind"
        else:
            rt60, source = 0.8, "none read: 0.8 s"
        output = suppressed(wet, rt60, rate)
        if case.group == "dry":
            row = [case.name, f"{rt60:.2f} s ({source})", f"{si_sdr(output, wet):.1f} (out vs in)"]
            row += ["—", "—", "—"]
        else:
            everywhere, partials, between = partial_split(wet, reference)
            gain = si_sdr(output, reference) - si_sdr(wet, reference)
            row = [case.name, f"{rt60:.2f} s ({source})", f"{gain:.2f}"]
            row += [f"{everywhere:.2f}", f"{partials:.2f}", f"{between:.2f}"]
        rows.append(row)
        print(f"  {' '.join(row)}", file=sys.stderr, flush=True)
    if not rows:
        print(f"no case matches {args.only!r}", file=sys.stderr)
        return 64
    header = (
        "case",
        "RT60 used",
        "offset-tail suppressor",
        "ideal mask",
        "ideal mask on partials",
        "ideal mask between partials",
    )
    print(report.markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
