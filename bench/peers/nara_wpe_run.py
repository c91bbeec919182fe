"""Run nara_wpe (offline WPE dereverberation) on one WAV file: the benchmark's peer.

Usage: python bench/peers/nara_wpe_run.py INPUT.wav OUTPUT.wav

Its strongest setting here (issue 2): STFT 2048/512, 40 taps, prediction delay 2,
3 iterations, each channel on its own. The benchmark runs this file as a whole
process with OMP_NUM_THREADS=1, nara_wpe's fastest setting on this machine.
`wpe_v8` is nara_wpe's loop-over-frequency implementation: the same algorithm as
its default `wpe`, but it never builds the (bins x taps x frames) matrix, so
a 3-minute 44.1 kHz file fits in memory.
"""

from __future__ import annotations

import sys

import numpy as np
import soundfile as sf
from nara_wpe.utils import istft, stft
from nara_wpe.wpe import wpe_v8

STFT_SIZE = 2048
STFT_SHIFT = 512
TAPS = 40
DELAY = 2
ITERATIONS = 3


def dereverberate(audio: np.ndarray) -> np.ndarray:
    """(channels, samples) in, (channels, samples) out: each channel alone, same length."""
    frames = audio.shape[1]
    no_reverb = np.empty_like(audio)
    for channel, signal in enumerate(audio):
        spectrum = stft(signal.astype(np.float64), size=STFT_SIZE, shift=STFT_SHIFT)
        # nara_wpe wants (..., sensors, frames): here (bins, 1, frames).
        observed = spectrum.T[:, None, :]
        estimate = wpe_v8(observed, taps=TAPS, delay=DELAY, iterations=ITERATIONS)
        restored = istft(estimate[:, 0, :].T, size=STFT_SIZE, shift=STFT_SHIFT)
        no_reverb[channel] = restored[:frames]
    return no_reverb


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: nara_wpe_run.py INPUT.wav OUTPUT.wav", file=sys.stderr)
        return 64
    audio, rate = sf.read(argv[0], dtype="float32", always_2d=True)
    no_reverb = dereverberate(audio.T)
    sf.write(argv[1], no_reverb.T, rate, subtype="FLOAT")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
