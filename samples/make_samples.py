"""Make the bundled samples: small recordings with known echoes, generated here.

    .venv/bin/python samples/make_samples.py

Needs espeak-ng (Debian package) for the speech. Every sample is deterministic,
and its dry source is written beside it so a listener (or `deecho compare`)
can check what the engine should give back.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pedalboard
import soundfile as sf
from scipy.signal import resample_poly

HERE = Path(__file__).resolve().parent
SPEECH = (
    "Room echo is the enemy of a clean recording. "
    "This sample was spoken by a machine, then sent through a digital delay, "
    "so that deecho has something real to take away."
)


def speak(text: str, rate: int) -> np.ndarray:
    """espeak-ng speech as mono float32 at `rate`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
        audio, source_rate = sf.read(path, dtype="float32")
    audio = resample_poly(audio, rate, source_rate).astype(np.float32)
    return audio / np.max(np.abs(audio)) * 0.5


def music(rate: int, seconds: float) -> np.ndarray:
    """Plucked chords with a noise-burst beat: stereo float32."""
    rng = np.random.default_rng(7)
    t = np.arange(int(rate * seconds)) / rate
    left, right = np.zeros_like(t), np.zeros_like(t)
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6)]
    for index, start in enumerate(np.arange(0.0, seconds - 0.5, 1.0)):
        span = (t >= start) & (t < start + 0.95)
        tt = t[span] - start
        envelope = np.exp(-tt * 3.0) * (1 - np.exp(-tt * 200.0))
        for voice, pitch in enumerate(chords[index % len(chords)]):
            tone = sum(np.sin(2 * np.pi * pitch * h * tt) / h for h in (1, 2, 3, 4))
            pan = 0.3 + 0.2 * voice
            left[span] += (1 - pan) * envelope * tone
            right[span] += pan * envelope * tone
    for start in np.arange(0.5, seconds - 0.2, 1.0):
        span = (t >= start) & (t < start + 0.08)
        burst = rng.standard_normal(span.sum()) * np.exp(-(t[span] - start) * 60.0)
        left[span] += 0.6 * burst
        right[span] += 0.6 * burst
    stereo = np.stack([left, right]).astype(np.float32)
    return stereo / np.max(np.abs(stereo)) * 0.5


def ping_pong(dry: np.ndarray, rate: int, delay_s: float, gain: float) -> np.ndarray:
    """Each side's echo bounces to the other side after one delay, and back after two."""
    wet = dry.copy()
    shift = int(delay_s * rate)
    for repeat in range(1, 6):
        for target in (0, 1):
            source = dry[(target + repeat) % 2]
            wet[target, repeat * shift :] += gain**repeat * source[: dry.shape[1] - repeat * shift]
    return wet


def main() -> None:
    speech_rate = 22050
    dry = speak(SPEECH, speech_rate)[None, :]
    dry = np.pad(dry, ((0, 0), (speech_rate // 4, speech_rate)))
    delay = pedalboard.Pedalboard([pedalboard.Delay(delay_seconds=0.22, feedback=0.35, mix=0.4)])
    sf.write(HERE / "speech_dry.wav", dry.T, speech_rate, subtype="PCM_16")
    sf.write(HERE / "speech_echo.wav", delay(dry, speech_rate).T, speech_rate, subtype="PCM_16")

    music_rate = 44100
    band = music(music_rate, 8.0)
    sf.write(HERE / "music_dry.flac", band.T, music_rate, subtype="PCM_16")
    echoed = ping_pong(band, music_rate, 0.3, 0.45)
    echoed *= 0.5 / np.max(np.abs(echoed))
    sf.write(HERE / "music_pingpong.flac", echoed.T, music_rate, subtype="PCM_16")


if __name__ == "__main__":
    main()
