"""A/B player: several takes of one timeline, streamed from disk, one shared playhead.

An engineer comparing the original with the cleaned take switches between them at the
same moment, over and over, on a looped passage. So the player keeps one playhead (a
frame position) for all sources, and the output callback reads only the current source's
next block from disk at that position: a switch is heard from the next block on, at the
same place in the take. Nothing is loaded whole; each block is a seek and a short read.

The audio callback is the only code that touches the readers while the stream runs. The
current source is one int attribute, which the callback reads once per block (a plain
attribute read is atomic under the GIL), so switching from the UI thread needs no lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deecho.audio.readers import AudioReader, open_audio
from deecho.errors import AudioError

__all__ = ["BLOCK_S", "Player", "output_device_available", "sounddevice_module"]

#: Output block length: a switch is heard within one block.
BLOCK_S = 0.02
#: What the sound server buffers ahead: the delay from a key to the ear. Shorter buffers
#: drop out when the UI thread holds the GIL for a redraw (measured at 60 ms through PulseAudio).
LATENCY_S = 0.15


@functools.cache
def sounddevice_module() -> Any | None:
    """sounddevice, or None when it is not installed or PortAudio is missing."""
    try:
        import sounddevice
    except (ImportError, OSError):
        return None
    return sounddevice


def output_device_available() -> bool:
    """True when sounddevice is importable and the system has a default output device."""
    sd = sounddevice_module()
    if sd is None:
        return False
    try:
        device = sd.query_devices(kind="output")
    except Exception:  # PortAudio raises its own error type when there is no device
        return False
    return bool(device) and int(device.get("max_output_channels", 0)) > 0


class Player:
    """Plays one of several same-rate files at a shared playhead, optionally looping a range."""

    def __init__(self, sources: Sequence[Path], block_s: float = BLOCK_S) -> None:
        if not sources:
            raise ValueError("the player needs at least one source")
        self._stream: Any | None = None
        self._readers: list[AudioReader] = [open_audio(path) for path in sources]
        rates = {reader.info.sample_rate for reader in self._readers}
        if len(rates) != 1:
            self.close()
            names = ", ".join(path.name for path in sources)
            raise AudioError(f"{names}: the takes have different sample rates; cannot A/B them")
        self.sample_rate = rates.pop()
        self.channels = max(reader.info.channels for reader in self._readers)
        self.frames = max(reader.info.frames for reader in self._readers)
        self.block_frames = max(1, round(block_s * self.sample_rate))
        self._where = [0] * len(self._readers)  # each reader's own file position
        self.current = 0
        self.position = 0  # the shared playhead: next frame the callback renders
        self.played = 0  # frames rendered since the player was made, loops included
        self.loop: tuple[int, int] | None = None
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.underflows = 0  # blocks the output ran dry on (PortAudio's own count)

    # -- control (any thread) ------------------------------------------------------------

    def switch(self, source: int) -> None:
        """Hear `source` from the next block on, at the same playhead."""
        if not 0 <= source < len(self._readers):
            raise IndexError(f"no source {source}")
        self.current = source

    def set_loop(self, start_s: float | None, end_s: float | None) -> None:
        """Loop over [start_s, end_s); None for either end plays to the file's end, no loop."""
        if start_s is None or end_s is None:
            self.loop = None
            return
        start = min(max(0, round(start_s * self.sample_rate)), self.frames)
        end = min(max(start + 1, round(end_s * self.sample_rate)), self.frames)
        self.loop = (start, end) if end > start else None
        if self.loop is not None and not start <= self.position < end:
            self.position = start  # a new passage plays from its start

    def seek(self, seconds: float) -> None:
        self.position = min(max(0, round(seconds * self.sample_rate)), self.frames)

    @property
    def position_s(self) -> float:
        return self.position / self.sample_rate

    @property
    def heard_s(self) -> float:
        """Where the listener is: the playhead less what the output still buffers."""
        stream = self._stream
        behind = round(float(stream.latency) * self.sample_rate) if stream is not None else 0
        heard = self.position - behind
        if self.loop is not None and heard < self.loop[0]:
            heard += self.loop[1] - self.loop[0]  # the end of the loop's last pass
        return max(0, heard) / self.sample_rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def play(self, source: int | None = None, device: Any = None) -> None:
        """Open the output stream (if not open) and start at the playhead."""
        if source is not None:
            self.switch(source)
        if self.loop is not None and not self.loop[0] <= self.position < self.loop[1]:
            self.position = self.loop[0]
        if self.loop is None and self.position >= self.frames:
            self.position = 0
        if self.playing:
            return
        sd = sounddevice_module()
        if sd is None:
            raise AudioError("sounddevice is not installed; pip install 'deecho[playback]'")
        self.stop()
        self.finished.clear()
        self._stream = sd.OutputStream(
            samplerate=self.sample_rate,
            channels=self.channels,
            dtype="float32",
            blocksize=self.block_frames,
            latency=LATENCY_S,
            device=device,
            callback=self._callback,
            finished_callback=self.finished.set,
        )
        self._stream.start()

    def stop(self) -> None:
        """Stop the sound; the playhead stays where it was heard last."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.close()

    def close(self) -> None:
        self.stop()
        for reader in self._readers:
            reader.close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- rendering (the audio thread) -----------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        if status.output_underflow:
            self.underflows += 1
        try:
            more = self.fill(outdata)
        except Exception as exc:  # reported to the UI; never raised into PortAudio's thread
            self.error = exc
            outdata.fill(0)
            more = False
        if not more:
            sd = sounddevice_module()
            assert sd is not None  # the stream exists, so sounddevice was imported
            raise sd.CallbackStop

    def fill(self, out: np.ndarray) -> bool:
        """Render the next len(out) frames of the current source into out (frames, channels).

        Returns False once the end of the file (no loop) has been rendered.
        """
        source = self.current  # read once: the whole block comes from one source
        done = 0
        while done < len(out):
            end = self.loop[1] if self.loop is not None else self.frames
            if self.position >= end:
                if self.loop is None:
                    out[done:] = 0
                    return False
                self.position = self.loop[0]
                continue
            count = min(len(out) - done, end - self.position)
            block = self._read(source, self.position, count)
            got = block.shape[1]
            out[done : done + got] = _to_channels(block, out.shape[1])
            out[done + got : done + count] = 0  # a shorter source is silent past its end
            done += count
            self.position += count
            self.played += count
        return True

    def _read(self, source: int, frame: int, count: int) -> np.ndarray:
        reader = self._readers[source]
        if frame >= reader.info.frames:
            return np.zeros((reader.info.channels, 0), dtype=np.float32)
        if self._where[source] != frame:
            reader.seek(frame)
        block = reader.read(count)
        self._where[source] = frame + block.shape[1]
        return block


def _to_channels(block: np.ndarray, channels: int) -> np.ndarray:
    """(c, n) -> (n, channels): a mono source plays on every channel."""
    if block.shape[0] == channels:
        return block.T
    if block.shape[0] == 1:
        return np.repeat(block.T, channels, axis=1)
    return block[:channels].T
