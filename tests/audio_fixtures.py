"""Helpers shared by the suite: generated audio, the CLI's command line, the repo's paths.

Imported by name (`from audio_fixtures import ...`): pytest puts tests/ on sys.path,
and a plain module cannot be shadowed the way several conftest.py files shadow each other.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


def deecho_command() -> list[str]:
    """The installed console script when present, else `python -m deecho`."""
    script = Path(sys.executable).with_name("deecho")
    if script.exists():
        return [str(script)]
    found = shutil.which("deecho")
    return [found] if found else [sys.executable, "-m", "deecho"]


def stop_process(process: subprocess.Popen[Any], timeout_s: float = 20.0) -> None:
    """SIGTERM a server subprocess and wait for it; SIGKILL it if it will not go."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tone_burst_signal(rate: int, seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Speech-like test audio: harmonic bursts with random pitch, gaps and noise onsets."""
    rng = np.random.default_rng(seed)
    frames = int(rate * seconds)
    out = np.zeros((channels, frames), dtype=np.float64)
    t = np.arange(frames) / rate
    position = 0.05
    while position < seconds - 0.3:
        length = rng.uniform(0.08, 0.25)
        pitch = rng.uniform(110, 300)
        span = (t >= position) & (t < position + length)
        tt = t[span] - position
        envelope = np.sin(np.pi * tt / length) ** 2
        voiced = sum(
            np.sin(2 * np.pi * pitch * h * tt + rng.uniform(0, 6)) / h for h in range(1, 8)
        )
        for channel in range(channels):
            out[channel, span] += envelope * (voiced + 0.3 * rng.standard_normal(span.sum()))
        position += length + rng.uniform(0.05, 0.3)
    return (0.3 * out / np.max(np.abs(out))).astype(np.float32)


def write_m4a(path: Path, audio: np.ndarray, rate: int) -> Path:
    """Encode (channels, samples) float32 as AAC in an MP4 container, as phones record."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "stereo" if audio.shape[0] == 2 else "mono"
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(audio), format="fltp", layout=stream.layout.name
        )
        frame.sample_rate = rate
        frame.pts = 0  # without it the encoder's priming samples are not marked for skipping
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def write_pcm_s64_w64(path: Path, audio: np.ndarray, rate: int) -> Path:
    """Encode (channels, samples) float32 as 64-bit integer PCM in Sony Wave64, through FFmpeg.

    libsndfile does not decode 64-bit integer PCM; FFmpeg does, as a sample format
    PyAV has no numpy type for.
    """
    import av

    layout = "stereo" if audio.shape[0] == 2 else "mono"
    as_int = np.round(np.clip(audio, -1.0, 1.0 - 2.0**-31) * 2.0**31).astype(np.int32)
    with av.open(str(path), "w", format="w64") as container:
        stream = container.add_stream("pcm_s64le", rate=rate)
        stream.layout = layout
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(as_int), format="s32p", layout=layout
        )
        frame.sample_rate = rate
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path
