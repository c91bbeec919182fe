"""A real PulseAudio server with a null sink: an output device without a sound card.

Whatever is played to the sink comes out of its monitor source, sample for sample, so
`parec -d deecho_test.monitor` records exactly what the player played. The server runs in
the foreground as our own child (so we hold its pid and end it), with a runtime folder of
its own; sounddevice reaches it through ALSA's pulse plugin, which libpulse points at our
socket through PULSE_SERVER.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SINK = "deecho_test"
RATE = 48000
START_WAIT_S = 20.0


@dataclass
class NullSink:
    env: dict[str, str]
    log: Path

    @contextmanager
    def recording(self, path: Path) -> Iterator[None]:
        """Record the sink's monitor (mono s16 at RATE) into path while the block runs."""
        command = [
            "parec",
            "-d",
            f"{SINK}.monitor",
            "--format=s16le",
            f"--rate={RATE}",
            "--channels=1",
            "--raw",
            "--latency-msec=10",
        ]
        with path.open("wb") as sink:
            recorder = subprocess.Popen(command, env=self.env, stdout=sink, stderr=subprocess.PIPE)
            try:
                yield
            finally:
                recorder.terminate()
                try:
                    _, err = recorder.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    recorder.kill()
                    _, err = recorder.communicate()
        if recorder.returncode not in (0, -15) and path.stat().st_size == 0:
            raise AssertionError(f"parec failed ({recorder.returncode}): {err.decode()}")


def read_recording(path: Path) -> np.ndarray:
    """The monitor's samples, without the silence the sink filled in where the player was late.

    An underrun (the audio thread starved on a loaded machine) delays what follows without
    losing it; the sink plays exact zeros meanwhile. Dropping runs of zeros puts the played
    samples back end to end, so lags measure the player's positions, not the machine's load.
    """
    samples = np.frombuffer(path.read_bytes(), dtype="<i2")
    zero = samples == 0
    # Runs of at least 32 zeros: a noise at the tests' level has no such run of its own.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], zero.astype(np.int8), [0]])))
    keep = np.ones(len(samples), dtype=bool)
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= 32:
            keep[start:stop] = False
    return samples[keep].astype(np.float64) / 32768.0


@contextmanager
def null_sink(folder: Path) -> Iterator[NullSink]:
    """Start PulseAudio with the null sink as the default output; end it afterwards."""
    if os.geteuid() != 0:
        pytest.skip("starting a private PulseAudio server this way is only done as root (CI)")
    missing = [tool for tool in ("pulseaudio", "parec", "pactl") if shutil.which(tool) is None]
    if missing:
        raise AssertionError(f"missing {', '.join(missing)}: run `make system-deps`")
    runtime = folder / "pulse-runtime"
    runtime.mkdir(mode=0o700)
    socket = runtime / "native"
    log = folder / "pulseaudio.log"
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_RUNTIME_PATH": str(runtime),
        "PULSE_STATE_PATH": str(runtime),
        "HOME": str(folder),
        "PULSE_SERVER": f"unix:{socket}",
    }
    command = [
        "pulseaudio",
        "-n",  # no default.pa: nothing but the modules below (no card, no X11, no D-Bus)
        "--daemonize=no",
        "--exit-idle-time=-1",
        "--log-level=info",
        f"--log-target=file:{log}",
        f"--load=module-null-sink sink_name={SINK} rate={RATE} channels=1",
        f"--load=module-native-protocol-unix socket={socket}",
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_ready(server, env, log)
        subprocess.run(["pactl", "set-default-sink", SINK], env=env, check=True, timeout=10)
        with pytest.MonkeyPatch.context() as patch:
            for name in ("XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH", "PULSE_STATE_PATH"):
                patch.setenv(name, env[name])
            patch.setenv("PULSE_SERVER", env["PULSE_SERVER"])
            _rescan_portaudio()
            yield NullSink(env, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        _rescan_portaudio()


def _wait_ready(server: subprocess.Popen[bytes], env: dict[str, str], log: Path) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        probe = subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=10)
        if probe.returncode == 0:
            return
        time.sleep(0.2)
    text = log.read_text(errors="replace") if log.exists() else "(no log written)"
    raise AssertionError(f"PulseAudio did not start (exit {server.poll()}); its log:\n{text}")


def _rescan_portaudio() -> None:
    """PortAudio lists devices once; ALSA loads its pulse device only if the server runs."""
    from deecho.audio.player import sounddevice_module

    sd = sounddevice_module()
    if sd is None:
        raise AssertionError("sounddevice or PortAudio is missing: run `make system-deps`")
    sd._terminate()
    sd._initialize()


@dataclass
class SwitchHeard:
    """What a recording of an A/B switch shows, in file frames of the shared timeline."""

    lag_a: int  # recording index where frame 0 of take A would be
    lag_b: int
    strength_a: float  # normalized correlation peak: how clearly each take is in the recording
    strength_b: float
    gain: float
    first_b: int | None  # first frame (to the millisecond) at which take B was heard
    a_heard_ms: int  # milliseconds that matched take A before `before`
    b_heard_ms: int  # milliseconds that matched take B after the switch
    b_before_switch: bool  # take B heard anywhere before frame `before`
    a_after_switch: bool  # take A heard again between first_b and `until`


def _lag(recording: np.ndarray, take: np.ndarray) -> tuple[int, float]:
    """The lag L at which recording[i] best matches take[i - L], and that match's strength.

    L is negative when the recorder joined after the take had started.
    """
    size = 1 << int(np.ceil(np.log2(len(recording) + len(take))))
    spectrum = np.fft.rfft(recording, size) * np.conj(np.fft.rfft(take, size))
    correlation = np.fft.irfft(spectrum, size)
    index = int(np.argmax(correlation))
    lag = index if index < len(recording) else index - size
    # Against the part of the take as long as the recording: a stationary noise's norm.
    overlap = np.sqrt(min(1.0, len(recording) / len(take)))
    strength = correlation[index] / (np.linalg.norm(recording) * np.linalg.norm(take) * overlap)
    return lag, float(strength)


def _on_timeline(recording: np.ndarray, lag: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The recording moved onto the takes' timeline by `lag`, and where it has samples."""
    heard = np.zeros(frames)
    present = np.zeros(frames, dtype=bool)
    first, last = max(0, -lag), min(frames, len(recording) - lag)
    heard[first:last] = recording[first + lag : last + lag]
    present[first:last] = True
    return heard, present


def heard_switch(
    recording: np.ndarray, take_a: np.ndarray, take_b: np.ndarray, before: int, until: int
) -> SwitchHeard:
    """Which take each recorded millisecond matches, on the takes' timeline.

    Each take is read on the timeline at its own lag: were the switch to move the
    playhead, B would sit at another lag than A and the caller sees the two differ;
    either way each take's milliseconds are found where that take really is.
    """
    lag_a, strength_a = _lag(recording, take_a)
    lag_b, strength_b = _lag(recording, take_b)
    frames = len(take_a)
    heard_a, present_a = _on_timeline(recording, lag_a, frames)
    heard_b, present_b = _on_timeline(recording, lag_b, frames)
    a, b = take_a[:frames], take_b[:frames]
    gain_part = present_a[:before]
    gain = float(
        np.dot(heard_a[:before][gain_part], a[:before][gain_part])
        / max(np.dot(a[:before][gain_part], a[:before][gain_part]), 1e-12)
    )
    window = RATE // 1000
    windows = frames // window
    cut = slice(0, windows * window)

    def per_window(values: np.ndarray) -> np.ndarray:
        return np.asarray(values[cut].reshape(windows, window).sum(axis=1))

    # A millisecond counts as a take only when it matches that take (its residual 10 dB
    # under the take's energy there); one that matches neither (a dropout, the other
    # take) is not counted as either.
    is_a = per_window((heard_a - gain * a) ** 2) < 0.1 * per_window((gain * a) ** 2)
    is_b = per_window((heard_b - gain * b) ** 2) < 0.1 * per_window((gain * b) ** 2)
    is_a &= present_a[cut].reshape(windows, window).all(axis=1)
    is_b &= present_b[cut].reshape(windows, window).all(axis=1)
    first_b = int(np.argmax(is_b)) if is_b.any() else None
    switch = first_b if first_b is not None else windows
    return SwitchHeard(
        lag_a=lag_a,
        lag_b=lag_b,
        strength_a=strength_a,
        strength_b=strength_b,
        gain=gain,
        first_b=None if first_b is None else first_b * window,
        a_heard_ms=int(is_a[: before // window].sum()),
        b_heard_ms=int(is_b[switch:].sum()),
        b_before_switch=bool(is_b[: before // window].any()),
        a_after_switch=bool(is_a[switch : until // window].any()),
    )
