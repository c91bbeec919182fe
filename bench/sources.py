"""Dry source material for the benchmark: espeak-ng speech and synthesized music.

Everything is deterministic: the same arguments give the same samples on every
run. espeak-ng's output is cached under bench/.cache/ (keyed by voice, speed and
text), since the synthesizer is the slow part.
"""

from __future__ import annotations

import hashlib
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
ESPEAK_RATE = 22050
SPEECH_WPM = 150

# Several voices (espeak-ng voice+variant) and sentences, so the cases do not all
# share one pitch and one rhythm.
VOICES = ("en-us", "en-gb+f3", "en-us+m3", "en+f4", "en-gb-x-rp+m5")
SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "Six spoons of fresh snow peas, five thick slabs of blue cheese, and a snack.",
    "We also need a small plastic snake and a big toy frog for the kids.",
    "She can scoop these things into three red bags, and we will go meet her.",
    "A large size in stockings is hard to sell, said the clerk with a smile.",
    "The birch canoe slid on the smooth planks while the wind rose in the west.",
    "Glue the sheet to the dark blue background before the paint is dry.",
)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling along the last axis (exact ratio, no drift)."""
    if from_rate == to_rate:
        return audio.astype(np.float32)
    ratio = Fraction(to_rate, from_rate)
    resampled = signal.resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1)
    return np.asarray(resampled, dtype=np.float32)


def espeak(text: str, voice: str, words_per_minute: int = SPEECH_WPM) -> np.ndarray:
    """One utterance from espeak-ng at its native 22.05 kHz, mono float32, cached on disk."""
    key = hashlib.sha256(f"{voice}|{words_per_minute}|{text}".encode()).hexdigest()[:16]
    cached = CACHE_DIR / f"espeak-{key}.wav"
    if not cached.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial.wav")
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(partial), text],
            check=True,
            capture_output=True,
        )
        partial.replace(cached)  # atomic: a killed run never leaves half a file in the cache
    audio, rate = sf.read(cached, dtype="float32")
    if rate != ESPEAK_RATE:
        audio = resample(audio, rate, ESPEAK_RATE)
    return np.asarray(audio, dtype=np.float32)


def speech(sample_rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Mono speech, (samples,) float32, exactly `seconds` long: sentences with pauses between.

    The seed picks the voice order and the sentence order, so two seeds give two
    different talkers' sequences.
    """
    rng = np.random.default_rng(seed)
    total = round(seconds * ESPEAK_RATE)
    pieces: list[np.ndarray] = []
    length = 0
    voices = rng.permutation(len(VOICES))
    sentences = rng.permutation(len(SENTENCES))
    turn = 0
    while length < total:
        voice = VOICES[voices[turn % len(voices)]]
        text = SENTENCES[sentences[turn % len(sentences)]]
        utterance = espeak(text, voice)
        utterance = utterance / (np.max(np.abs(utterance)) + 1e-9) * rng.uniform(0.6, 1.0)
        pause = np.zeros(round(rng.uniform(0.25, 0.6) * ESPEAK_RATE), dtype=np.float32)
        pieces += [utterance, pause]
        length += utterance.size + pause.size
        turn += 1
    native = np.concatenate(pieces)[:total]
    return resample(native, ESPEAK_RATE, sample_rate)[: round(seconds * sample_rate)]


# --- music -----------------------------------------------------------------------------

_A4 = 440.0
# Chord progressions as semitone offsets of each chord's notes from the key's tonic.
_PROGRESSIONS = (
    ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)),  # I  V  vi IV
    ((9, 12, 16), (5, 9, 12), (0, 4, 7), (7, 11, 14)),  # vi IV I  V
    ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)),  # I  IV V  I
)
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11, 12, 14, 16)


def _frequency(midi_note: float) -> float:
    return _A4 * 2.0 ** ((midi_note - 69) / 12)


def _harmonic_tone(
    frequency: float, length: int, sample_rate: int, brightness: float, rng: np.random.Generator
) -> np.ndarray:
    """A tone with harmonics falling off as 1/k**brightness, each slightly detuned and phased."""
    t = np.arange(length) / sample_rate
    tone = np.zeros(length)
    harmonic = 1
    while harmonic <= 12 and harmonic * frequency < 0.45 * sample_rate:
        detune = 1.0 + rng.uniform(-0.0015, 0.0015)
        phase = rng.uniform(0, 2 * np.pi)
        tone += np.sin(2 * np.pi * frequency * harmonic * detune * t + phase) / harmonic**brightness
        harmonic += 1
    return tone


def _envelope(
    length: int, sample_rate: int, attack_s: float, decay_s: float, sustain: float, release_s: float
) -> np.ndarray:
    """ADSR: linear attack, exponential decay to the sustain level, linear release at the end."""
    t = np.arange(length) / sample_rate
    attack = np.clip(t / max(attack_s, 1e-4), 0.0, 1.0)
    decay = sustain + (1.0 - sustain) * np.exp(-np.maximum(t - attack_s, 0.0) / max(decay_s, 1e-4))
    release_frames = min(length, round(release_s * sample_rate))
    release = np.ones(length)
    if release_frames:
        release[-release_frames:] = np.linspace(1.0, 0.0, release_frames)
    return attack * decay * release


def _kick(sample_rate: int) -> np.ndarray:
    length = round(0.35 * sample_rate)
    t = np.arange(length) / sample_rate
    sweep = 50.0 + 90.0 * np.exp(-t / 0.04)  # pitch falls from 140 Hz to 50 Hz
    phase = 2 * np.pi * np.cumsum(sweep) / sample_rate
    return np.sin(phase) * np.exp(-t / 0.12)


def _snare(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    length = round(0.25 * sample_rate)
    t = np.arange(length) / sample_rate
    sos = signal.butter(
        2, [1200, min(7000, 0.45 * sample_rate)], "bandpass", fs=sample_rate, output="sos"
    )
    noise = signal.sosfilt(sos, rng.standard_normal(length))
    body = 0.5 * np.sin(2 * np.pi * 185 * t)
    return (1.6 * noise + body) * np.exp(-t / 0.07)


def _hat(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    length = round(0.08 * sample_rate)
    t = np.arange(length) / sample_rate
    sos = signal.butter(2, min(6000, 0.4 * sample_rate), "highpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, rng.standard_normal(length)) * np.exp(-t / 0.018)


def _place(track: np.ndarray, sound: np.ndarray, start: int) -> None:
    """Add `sound` into `track` at `start`, cut at the track's end."""
    stop = min(track.size, start + sound.size)
    if start < stop:
        track[start:stop] += sound[: stop - start]


def _pan(mono: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan: position -1 (left) .. +1 (right) -> (2, samples)."""
    angle = (position + 1.0) * np.pi / 4
    return np.stack([np.cos(angle) * mono, np.sin(angle) * mono])


def music(sample_rate: int, seconds: float, seed: int = 0, stereo: bool = False) -> np.ndarray:
    """A short band: pad chords, a plucked melody, bass, and kick/snare/hat noise bursts.

    Returns (channels, samples) float32 with 1 or 2 channels, peak 0.9. In
    stereo the instruments sit at different pan positions, so the two channels
    differ the way a real mix does.
    """
    rng = np.random.default_rng(1000 + seed)
    total = round(seconds * sample_rate)
    tonic = 48 + int(rng.integers(0, 12))  # a key between C3 and B3
    progression = _PROGRESSIONS[seed % len(_PROGRESSIONS)]
    beat = round(sample_rate * 60.0 / float(rng.uniform(92, 128)))
    bar = 4 * beat
    tracks = {name: np.zeros(total) for name in ("pad", "melody", "bass", "kick", "snare", "hat")}

    for bar_index, start in enumerate(range(0, total, bar)):
        chord = progression[bar_index % len(progression)]
        length = min(bar, total - start)
        envelope = _envelope(length, sample_rate, 0.03, 0.4, 0.55, 0.15)
        for note in chord:
            tone = _harmonic_tone(_frequency(tonic + note), length, sample_rate, 1.4, rng)
            _place(tracks["pad"], 0.18 * tone * envelope, start)
        for beat_index in range(4):
            onset = start + beat_index * beat
            bass_length = min(beat, max(total - onset, 0))
            if bass_length:
                bass = _harmonic_tone(
                    _frequency(tonic - 12 + chord[0]), bass_length, sample_rate, 1.8, rng
                )
                bass *= _envelope(bass_length, sample_rate, 0.005, 0.18, 0.3, 0.05)
                _place(tracks["bass"], 0.5 * bass, onset)
            _place(
                tracks["kick" if beat_index % 2 == 0 else "snare"],
                _kick(sample_rate) if beat_index % 2 == 0 else 0.5 * _snare(sample_rate, rng),
                onset,
            )
            for eighth in range(2):
                _place(
                    tracks["hat"],
                    (0.25 if eighth else 0.35) * _hat(sample_rate, rng),
                    onset + eighth * beat // 2,
                )

    onset = 0
    while onset < total:
        steps = int(rng.choice([1, 2, 2, 4]))  # eighth, quarter or half notes
        length = min(steps * beat // 2, total - onset)
        if rng.uniform() < 0.85:  # a few rests
            note = tonic + 12 + _MAJOR_SCALE[int(rng.integers(0, len(_MAJOR_SCALE)))]
            tone = _harmonic_tone(_frequency(note), length, sample_rate, 1.0, rng)
            tone *= _envelope(length, sample_rate, 0.004, 0.25, 0.15, 0.03)
            _place(tracks["melody"], 0.35 * tone, onset)
        onset += length

    if stereo:
        positions = {
            "pad": -0.5,
            "melody": 0.45,
            "bass": 0.0,
            "kick": 0.0,
            "snare": 0.2,
            "hat": -0.7,
        }
        mix = np.sum([_pan(tracks[name], position) for name, position in positions.items()], axis=0)
    else:
        mix = np.sum(list(tracks.values()), axis=0)[None, :]
    return (0.9 * mix / (np.max(np.abs(mix)) + 1e-9)).astype(np.float32)


def speech_stereo(sample_rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Two talkers, one left of centre and one right, taking turns: (2, samples) float32."""
    left = speech(sample_rate, seconds, seed)
    right = speech(sample_rate, seconds, seed + 101)
    # Offsets the second talker by half a second so the two overlap only partly.
    offset = round(0.5 * sample_rate)
    right = np.concatenate([np.zeros(offset, dtype=np.float32), right[: right.size - offset]])
    mix = _pan(left, -0.4) + _pan(0.8 * right, 0.5)
    return (0.9 * mix / (np.max(np.abs(mix)) + 1e-9)).astype(np.float32)
