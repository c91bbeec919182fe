"""Real recorded material for the reverb benchmark, from Debian packages that ship recordings.

Three kinds of source, each a recipe written here (package, file, excerpt):

- sampled instruments: MuseScore's General SoundFont (`musescore-general-soundfont-small`,
  recorded samples of real instruments) played by `fluidsynth` from phrases written below,
  with fluidsynth's own reverb and chorus off, so the render is dry;
- recorded loops and notes from Sonic Pi (`sonic-pi-samples`): a drum break, tabla,
  guitar chords, a choir;
- a recorded human voice: the ALSA channel announcements (`alsa-utils`,
  /usr/share/sounds/alsa/*.wav: "Front left", "Rear right", ...), strung together.

Every clip is 44.1 kHz, about 9 s of material plus 1 s of silence, peak 0.9, and
cached in bench/.cache/recordings/ (rendering and decoding are the slow part).
`missing()` names the Debian packages a run needs and does not have.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.sources import CACHE_DIR, resample

RATE = 44100
SECONDS = 9.0
TAIL_S = 1.0
PEAK = 0.9
RECORDINGS_CACHE = CACHE_DIR / "recordings"
# Bumped when a recipe changes, so stale renders are not reused.
RECIPE_VERSION = 1

SOUNDFONT = Path("/usr/share/sounds/sf3/MuseScore_General.sf3")
SONIC_PI = Path("/usr/share/sonic-pi/samples")
ALSA_VOICE = Path("/usr/share/sounds/alsa")
DEBIAN_PACKAGES = (
    "fluidsynth",
    "musescore-general-soundfont-small",
    "sonic-pi-samples",
    "alsa-utils",
)


@dataclass(frozen=True)
class Recording:
    """One clip of real material: where it comes from and how to make it."""

    name: str
    kind: str  # sustained, percussion, voice
    package: str
    description: str
    make: Callable[[], np.ndarray]

    def load(self) -> np.ndarray:
        """(channels, samples) float32 at RATE, SECONDS of material plus TAIL_S of silence."""
        path = RECORDINGS_CACHE / f"{self.name}.v{RECIPE_VERSION}.wav"
        if path.exists():
            audio, _ = sf.read(str(path), dtype="float32", always_2d=True)
            return np.ascontiguousarray(audio.T)
        audio = _finished(self.make())
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.wav")
        sf.write(str(partial), audio.T, RATE, subtype="FLOAT")
        partial.replace(path)
        return audio


def _finished(audio: np.ndarray) -> np.ndarray:
    """Cut to SECONDS with a 50 ms fade-out, add the silent tail, scale to PEAK."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    frames = round(SECONDS * RATE)
    if audio.shape[1] < frames:
        audio = np.pad(audio, ((0, 0), (0, frames - audio.shape[1])))
    audio = audio[:, :frames]
    fade = round(0.05 * RATE)
    audio[:, -fade:] *= np.linspace(1.0, 0.0, fade)
    audio = np.pad(audio, ((0, 0), (0, round(TAIL_S * RATE))))
    return (PEAK * audio / (np.max(np.abs(audio)) + 1e-12)).astype(np.float32)


def missing() -> list[str]:
    """The Debian packages whose files or programs a run needs and this machine lacks."""
    needed = {
        "fluidsynth": shutil.which("fluidsynth") is not None,
        "musescore-general-soundfont-small": SOUNDFONT.exists(),
        "sonic-pi-samples": SONIC_PI.is_dir(),
        "alsa-utils": (ALSA_VOICE / "Front_Left.wav").exists(),
    }
    return [package for package, present in needed.items() if not present]


# --- sampled instruments through fluidsynth ---------------------------------------------

# (start_s, length_s, MIDI note, velocity)
Note = tuple[float, float, int, int]


def midi_file(program: int, notes: Sequence[Note]) -> bytes:
    """A one-track Standard MIDI File: one instrument (General MIDI program), these notes.

    Division 500 ticks per quarter at the default 120 bpm makes one tick one millisecond.
    """
    events: list[tuple[int, bytes]] = [(0, bytes([0xC0, program]))]
    for start, length, pitch, velocity in notes:
        on, off = round(start * 1000), round((start + length) * 1000)
        events += [(on, bytes([0x90, pitch, velocity])), (off, bytes([0x80, pitch, 0]))]
    events.sort(key=lambda event: (event[0], event[1][0] == 0x90))  # note-offs first
    track = bytearray()
    now = 0
    for tick, message in events:
        track += _variable_length(tick - now) + message
        now = tick
    track += _variable_length(0) + bytes([0xFF, 0x2F, 0x00])
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 500)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def _variable_length(value: int) -> bytes:
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(groups))


def fluidsynth(program: int, notes: Sequence[Note], gain: float = 0.5) -> np.ndarray:
    """The notes rendered dry (reverb and chorus off) from MuseScore's General SoundFont."""
    with tempfile.TemporaryDirectory() as folder:
        midi, wav = Path(folder) / "phrase.mid", Path(folder) / "phrase.wav"
        midi.write_bytes(midi_file(program, notes))
        subprocess.run(
            [
                *("fluidsynth", "-ni", "-q", "-R", "0", "-C", "0"),
                *("-g", str(gain), "-r", str(RATE), "-F", str(wav), str(SOUNDFONT), str(midi)),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    # fluidsynth renders stereo; the instruments here are centred, so the mean loses nothing.
    return resample(audio.T.mean(axis=0, keepdims=True), rate, RATE)


def legato(pitches: Sequence[int], lengths: Sequence[float], velocity: int = 90) -> list[Note]:
    """One note after another, each held for its length (slightly overlapped, as played)."""
    notes, start = [], 0.0
    for pitch, length in zip(pitches, lengths, strict=True):
        notes.append((start, length + 0.02, pitch, velocity))
        start += length
    return notes


def chords(voicings: Sequence[Sequence[int]], length: float, velocity: int = 80) -> list[Note]:
    """Block chords, each held for `length` seconds."""
    return [
        (index * length, length * 0.95, pitch, velocity)
        for index, voicing in enumerate(voicings)
        for pitch in voicing
    ]


def arpeggios(voicings: Sequence[Sequence[int]], step: float, ring: float) -> list[Note]:
    """Each chord's notes one after another, every note left to ring (a picked guitar)."""
    notes, start = [], 0.0
    for voicing in voicings:
        for pitch in voicing:
            notes.append((start, ring, pitch, 85))
            start += step
    return notes


# General MIDI programs (0-based).
PIANO, ORGAN, GUITAR, VIOLIN, CELLO, CHOIR, TRUMPET, CLARINET, FLUTE = (
    0,
    19,
    24,
    40,
    42,
    52,
    56,
    71,
    73,
)

_FLUTE = legato(
    [72, 74, 76, 79, 77, 76, 74, 72, 71, 72], [1.2, 0.6, 0.6, 1.5, 0.5, 0.5, 1.0, 0.8, 0.6, 1.6]
)
_CELLO = legato([48, 55, 52, 53, 50, 55, 48], [1.5, 1.2, 1.0, 1.5, 1.0, 1.2, 1.6])
_VIOLIN = legato(
    [76, 74, 72, 74, 76, 76, 76, 74, 74, 76, 79],
    [0.7, 0.5, 0.7, 0.5, 0.8, 0.6, 1.2, 0.7, 0.7, 1.0, 1.6],
)
_CLARINET = legato(
    [62, 65, 69, 67, 65, 64, 62, 60, 62], [1.0, 0.8, 1.2, 0.6, 0.6, 1.0, 0.8, 0.8, 2.2]
)
_PROGRESSION = ([48, 55, 64, 67], [45, 52, 60, 64], [41, 48, 57, 65], [43, 50, 59, 67])


def _piano() -> np.ndarray:
    melody = legato([76, 74, 72, 74, 76, 79, 77, 76, 74, 72], [0.45] * 9 + [1.2], velocity=80)
    return fluidsynth(PIANO, chords(_PROGRESSION, 2.25, velocity=60) + melody)


INSTRUMENTS: tuple[tuple[str, str, Callable[[], np.ndarray]], ...] = (
    ("flute", "flute melody, legato, held notes", lambda: fluidsynth(FLUTE, _FLUTE)),
    ("cello", "bowed cello line, long notes", lambda: fluidsynth(CELLO, _CELLO)),
    ("violin", "violin melody", lambda: fluidsynth(VIOLIN, _VIOLIN)),
    ("clarinet", "clarinet melody", lambda: fluidsynth(CLARINET, _CLARINET)),
    ("organ", "church organ chords, held", lambda: fluidsynth(ORGAN, chords(_PROGRESSION, 2.25))),
    ("piano", "piano chords and melody", _piano),
    (
        "guitar",
        "nylon guitar arpeggios, notes left to ring",
        lambda: fluidsynth(GUITAR, arpeggios(_PROGRESSION * 2, 0.28, 1.6)),
    ),
    ("choir", "choir 'aah' chords", lambda: fluidsynth(CHOIR, chords(_PROGRESSION, 2.25))),
)


# --- recorded samples: Sonic Pi and ALSA ------------------------------------------------


def read_clip(path: Path) -> np.ndarray:
    """A sound file as (channels, samples) float32 at RATE."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(np.ascontiguousarray(audio.T), rate, RATE)


def looped(path: Path, times: int) -> np.ndarray:
    """A loop played `times` times back to back (a drum break repeats as the drummer played it)."""
    clip = read_clip(path)
    return np.concatenate([clip] * times, axis=1)


def strung(paths: Sequence[Path], gap_s: float) -> np.ndarray:
    """Clips one after another, mixed to mono, with `gap_s` of silence between them."""
    parts = []
    for path in paths:
        clip = read_clip(path).mean(axis=0, keepdims=True)
        parts += [clip, np.zeros((1, round(gap_s * RATE)), dtype=np.float32)]
    return np.concatenate(parts, axis=1)


_ANNOUNCEMENTS = (
    "Front_Left",
    "Front_Right",
    "Front_Center",
    "Rear_Left",
    "Rear_Right",
    "Rear_Center",
    "Side_Left",
    "Side_Right",
    "Noise",
)


def _voice() -> np.ndarray:
    names = [name for name in _ANNOUNCEMENTS if name != "Noise"]
    return strung([ALSA_VOICE / f"{name}.wav" for name in names * 2], 0.25)


SAMPLES: tuple[tuple[str, str, str, str, Callable[[], np.ndarray]], ...] = (
    (
        "drums",
        "percussion",
        "sonic-pi-samples",
        "recorded drum break (loop_amen), looped",
        lambda: looped(SONIC_PI / "loop_amen.flac", 6),
    ),
    (
        "tabla",
        "percussion",
        "sonic-pi-samples",
        "recorded tabla (loop_tabla)",
        lambda: looped(SONIC_PI / "loop_tabla.flac", 2),
    ),
    (
        "guitar_chords",
        "sustained",
        "sonic-pi-samples",
        "recorded electric guitar chords (guit_em9, guit_e_fifths, guit_e_slide)",
        lambda: strung(
            [SONIC_PI / f"{name}.flac" for name in ("guit_em9", "guit_e_fifths", "guit_e_slide")]
            * 2,
            0.1,
        ),
    ),
    (
        "voice",
        "voice",
        "alsa-utils",
        "recorded female voice (ALSA channel announcements), strung together",
        _voice,
    ),
)


def all_recordings() -> dict[str, Recording]:
    """Every clip by name, in a fixed order."""
    found = {
        name: Recording(name, "sustained", "musescore-general-soundfont-small", text, make)
        for name, text, make in INSTRUMENTS
    }
    for name, kind, package, text, make in SAMPLES:
        found[name] = Recording(name, kind, package, text, make)
    return found


def stereo_ensemble() -> np.ndarray:
    """A stereo mix of real parts: cello left, flute right, drums centre (2, samples)."""
    clips = all_recordings()
    parts = {name: clips[name].load()[0] for name in ("cello", "flute", "drums", "piano")}
    positions = {"cello": -0.6, "flute": 0.5, "drums": 0.0, "piano": -0.2}
    levels = {"cello": 0.8, "flute": 0.7, "drums": 0.5, "piano": 0.6}
    mix = np.zeros((2, parts["cello"].size))
    for name, mono in parts.items():
        angle = (positions[name] + 1.0) * np.pi / 4
        mix += levels[name] * np.stack([np.cos(angle) * mono, np.sin(angle) * mono])
    return (PEAK * mix / np.max(np.abs(mix))).astype(np.float32)


__all__ = ["DEBIAN_PACKAGES", "RATE", "Recording", "all_recordings", "missing", "stereo_ensemble"]
