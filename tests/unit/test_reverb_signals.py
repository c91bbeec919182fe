"""Generated test signals for the reverberation tests (speech-like sources, rooms).

Speech-like: voiced syllables (harmonic pulse trains with a gliding pitch through
random formant resonators) and fricative bursts, separated by pauses, so it has
the onsets, offsets and sparse spectra that dereverberation relies on, without
needing a speech synthesizer.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve, lfilter


def _resonator(
    freq_hz: float, bandwidth_hz: float, sample_rate: int
) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bandwidth_hz / sample_rate)
    theta = 2.0 * np.pi * freq_hz / sample_rate
    return np.array([1.0 - r]), np.array([1.0, -2.0 * r * np.cos(theta), r * r])


def _formant_track(glides: np.random.Generator, start: tuple[float, ...]) -> np.ndarray:
    """(4 points, 3 formants): where the formants are at the syllable's start, at its
    thirds and at its end: a syllable is a few phonemes, its formants moving from each to
    the next."""
    later = [glides.uniform((250, 700, 2300), (1000, 2700, 3600)) for _ in range(3)]
    return np.array([start, *later])


def _articulated(source: np.ndarray, track: np.ndarray, sample_rate: int) -> np.ndarray:
    """The source through a cascade of formant resonators whose frequencies follow
    `track`, 10 ms at a time. A voice's colour moves from phoneme to phoneme, and
    engine/voicing.py tells a voice from an instrument's melody by that."""
    step = max(1, round(0.01 * sample_rate))
    where = np.linspace(0.0, 1.0, len(track))
    for formant in range(track.shape[1]):
        filtered = np.empty_like(source)
        state = np.zeros(2)
        for begin in range(0, source.size, step):
            now = np.interp(begin / max(source.size - 1, 1), where, track[:, formant])
            b, a = _resonator(float(now), 80.0, sample_rate)
            part = slice(begin, begin + step)
            filtered[part], state = lfilter(b, a, source[part], zi=state)
        source = filtered
    return source


def speech_like(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """(n,) float64 speech-like signal, peak 0.5."""
    rng = np.random.default_rng(seed)
    glides = np.random.default_rng([seed, 1])  # its own stream: the rest is as it was
    total = int(seconds * sample_rate)
    out = np.zeros(total)
    pos = int(0.1 * sample_rate)
    while pos < total:
        length = int(rng.uniform(0.12, 0.3) * sample_rate)
        t = np.arange(length) / sample_rate
        if rng.random() < 0.8:
            f0 = rng.uniform(100.0, 220.0) * (1.0 + rng.uniform(-0.2, 0.2) * t / t[-1])
            phase = 2.0 * np.pi * np.cumsum(f0) / sample_rate
            # The spectral tilt glides too (a nasal into an open vowel, effort rising).
            tilt = np.linspace(*glides.uniform(0.5, 2.0, size=2), length)
            source = np.zeros(length)
            for h in range(1, 30):
                source += np.sin(h * phase) / h**tilt * (h * f0 < sample_rate / 2 - 500)
            start = (rng.uniform(300, 900), rng.uniform(900, 2400), rng.uniform(2400, 3500))
            source = _articulated(source, _formant_track(glides, start), sample_rate)
        else:
            source = rng.standard_normal(length)
            b, a = _resonator(rng.uniform(3000, 6000), 1500.0, sample_rate)
            source = lfilter(b, a, source)
        envelope = np.minimum(1.0, np.minimum(t / 0.015, (t[-1] - t) / 0.03))
        piece = source * envelope * rng.uniform(0.3, 1.0)
        stop = min(total, pos + length)
        out[pos:stop] += piece[: stop - pos] / (np.max(np.abs(piece)) + 1e-12)
        pos += length + int(
            rng.choice([rng.uniform(0.03, 0.12), rng.uniform(0.25, 0.6)]) * sample_rate
        )
    return 0.5 * out / np.max(np.abs(out))


def drum_loop(seconds: float, sample_rate: int, seed: int = 0, bpm: float = 100.0) -> np.ndarray:
    """(n,) float64 drum loop, peak 0.5: a kick that drops in pitch, a snare (noise and a
    ringing 190 Hz head), closed hi-hats on the eighths, one bar repeated."""
    rng = np.random.default_rng(seed)
    total = int(seconds * sample_rate)
    length = int(0.35 * sample_rate)
    t = np.arange(length) / sample_rate

    def hit(kind: str) -> np.ndarray:
        if kind == "kick":
            pitch = 45.0 + 90.0 * np.exp(-t / 0.03)
            sound = np.sin(2.0 * np.pi * np.cumsum(pitch) / sample_rate) * np.exp(-t / 0.12)
        elif kind == "snare":
            b, a = _resonator(190.0, 30.0, sample_rate)
            head = lfilter(b, a, rng.standard_normal(length)) * np.exp(-t / 0.09)
            sound = 0.6 * rng.standard_normal(length) * np.exp(-t / 0.06) + 3.0 * head
        else:
            b, a = _resonator(min(8000.0, 0.4 * sample_rate), 3000.0, sample_rate)
            sound = 0.5 * lfilter(b, a, rng.standard_normal(length)) * np.exp(-t / 0.025)
        return sound / np.max(np.abs(sound))

    bar = {0: "kick", 4: "snare", 8: "kick", 10: "kick", 12: "snare"}
    out = np.zeros(total)
    sixteenth = 60.0 / bpm / 4
    step = 0
    while (start := int(step * sixteenth * sample_rate)) < total - length:
        kind = bar.get(step % 16, "hat" if step % 2 == 0 else "")
        if kind:
            out[start : start + length] += hit(kind) * rng.uniform(0.7, 1.0)
        step += 1
    return 0.5 * out / np.max(np.abs(out))


def exponential_rir(rt60_s: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Direct impulse plus an exponentially decaying noise tail (60 dB in rt60_s)."""
    rng = np.random.default_rng(seed)
    n = int(1.2 * rt60_s * sample_rate)
    t = np.arange(n) / sample_rate
    rir = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60_s) * 0.3
    rir[0] = 1.0
    return rir


def reverberate(dry: np.ndarray, rir: np.ndarray) -> np.ndarray:
    return fftconvolve(dry, rir)[: dry.size]


def shoebox_room(rt60_s: float, sample_rate: int) -> np.ndarray:
    """One-microphone RIR of a 6 x 5 x 3 m room simulated with pyroomacoustics."""
    import pyroomacoustics as pra

    dims = [6.0, 5.0, 3.0]
    absorption, max_order = pra.inverse_sabine(rt60_s, dims)
    room = pra.ShoeBox(
        dims, fs=sample_rate, materials=pra.Material(absorption), max_order=max_order
    )
    room.add_source([1.7, 1.6, 1.6])
    room.add_microphone([4.2, 3.4, 1.5])
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


def early_part(rir: np.ndarray, sample_rate: int, early_s: float = 0.05) -> np.ndarray:
    """Direct path plus the first early_s seconds: the dereverberation reference."""
    direct = int(np.argmax(np.abs(rir)))
    return rir[: direct + int(early_s * sample_rate)]


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    estimate = estimate - estimate.mean()
    reference = reference - reference.mean()
    scale = np.dot(estimate, reference) / np.dot(reference, reference)
    target = scale * reference
    error = estimate - target
    return float(10.0 * np.log10(np.dot(target, target) / np.dot(error, error)))


def test_speech_like_is_deterministic_and_has_pauses() -> None:
    a = speech_like(3.0, 16000, seed=3)
    b = speech_like(3.0, 16000, seed=3)
    np.testing.assert_array_equal(a, b)
    frames = a[: a.size // 160 * 160].reshape(-1, 160)
    silent = np.mean(np.max(np.abs(frames), axis=1) < 1e-6)
    assert 0.1 < silent < 0.7


def test_exponential_rir_decays_60_db_in_rt60() -> None:
    rir = exponential_rir(0.5, 16000)
    tail = rir[1:] ** 2
    first = tail[:800].mean()
    at_rt60 = tail[7600:8400].mean()
    assert 55.0 < 10.0 * np.log10(first / at_rt60) < 65.0
