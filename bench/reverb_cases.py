"""The reverb benchmark's cases: real recordings through the reverbs people use.

Groups and their references:
- freeverb: `pedalboard.Reverb` (Freeverb), room size 0.3-0.9, wet 0.2-0.5, dry 1 or 0.8;
  reference = the dry recording (Freeverb does not delay its dry path: checked on an impulse).
- sox: SoX `reverb` at reverberance 30/50/80 (default HF damping, dry path kept);
  reference = the dry recording (SoX's dry path is not delayed either).
- room: pyroomacoustics rooms as in bench/cases.py (RT60 0.4/0.7/1.0 s); reference =
  recording * (direct path + first 50 ms of the RIR). These cases carry their RIR.
- chain: stereo; `pedalboard.Delay` 250 ms, feedback 0.3, mix 0.3 into Freeverb (room 0.5,
  wet 0.25, dry 0.8); reference = the dry recording.
- echo_only: the same delay without the reverb, so a chain can be read against it.
- dry: the recording itself (an engine must leave it alone).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pedalboard
import soundfile as sf

from bench import cases, recordings
from bench.cases import CaseAudio

REVERB_GROUPS = ("freeverb", "sox", "room", "chain", "echo_only", "dry")
ROOMS = {0.4: (6.0, 5.0, 3.0), 0.7: (8.0, 6.0, 3.2), 1.0: (10.0, 7.5, 3.5)}
CHAIN_DELAY = {"delay_seconds": 0.25, "feedback": 0.3, "mix": 0.3}
CHAIN_REVERB = {"room_size": 0.5, "wet_level": 0.25, "dry_level": 0.8}


@dataclass(frozen=True)
class ReverbCase:
    """One input: real material through one effect, and the reference a perfect engine outputs."""

    name: str
    group: str
    material: str  # the recording's name (bench/recordings.py) or "speech" (espeak-ng)
    kind: str  # sustained, percussion, voice, speech, mix
    effect: str
    make: Callable[[np.ndarray], CaseAudio]
    room_rt60: float | None = None  # nominal (Sabine) RT60 of a room case

    def material_audio(self) -> np.ndarray:
        return material(self.material)

    def generate(self) -> CaseAudio:
        """(input, reference, sample_rate): (channels, samples) float32, input peak 0.5."""
        return self.make(self.material_audio())

    def echo_free_reference(self) -> np.ndarray | None:
        """A chain case's input without its echo (the reverb alone), else None."""
        if self.group != "chain":
            return None
        return reverb_without_delay(self.material_audio())

    def impulse_response(self) -> np.ndarray | None:
        """A room case's RIR (as convolved), else None."""
        if self.room_rt60 is None:
            return None
        return cases.room_impulse_response(self.room_rt60, ROOMS[self.room_rt60], recordings.RATE)


def material(name: str) -> np.ndarray:
    """A named dry source: a recording, its stereo form (NAME_stereo), or espeak-ng speech."""
    if name == "speech":
        return cases.source("speech", recordings.RATE, recordings.SECONDS, seed=31)
    if name == "ensemble":
        return recordings.stereo_ensemble()
    if name.endswith("_stereo"):
        mono = recordings.all_recordings()[name.removesuffix("_stereo")].load()
        return np.repeat(mono[:1], 2, axis=0)
    return recordings.all_recordings()[name].load()


def _kind(name: str) -> str:
    if name == "speech":
        return "speech"
    if name == "ensemble":
        return "mix"
    return recordings.all_recordings()[name.removesuffix("_stereo")].kind


# --- effects: each takes the dry (channels, samples) and returns (input, reference, rate) -----


def freeverb(
    room_size: float, wet: float, dry: float, damping: float = 0.5
) -> Callable[[np.ndarray], CaseAudio]:
    """pedalboard.Reverb at these settings (damping 0.5: pedalboard's default)."""

    def make(source: np.ndarray) -> CaseAudio:
        effect = pedalboard.Reverb(
            room_size=room_size, wet_level=wet, dry_level=dry, damping=damping, width=1.0
        )
        processed = effect(np.ascontiguousarray(source), recordings.RATE)
        return cases._scaled(processed, source, recordings.RATE)

    return make


def sox_reverb(reverberance: int) -> Callable[[np.ndarray], CaseAudio]:
    def make(source: np.ndarray) -> CaseAudio:
        with tempfile.TemporaryDirectory() as folder:
            dry_path, wet_path = Path(folder) / "dry.wav", Path(folder) / "wet.wav"
            # Half level in, float out: SoX's reverb adds energy and would clip at full scale.
            sf.write(str(dry_path), 0.5 * source.T, recordings.RATE, subtype="FLOAT")
            subprocess.run(
                [
                    *("sox", "-q", str(dry_path), "-e", "floating-point", str(wet_path)),
                    *("reverb", str(reverberance)),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            wet, _ = sf.read(str(wet_path), dtype="float32", always_2d=True)
        return cases._scaled(np.ascontiguousarray(wet.T), source, recordings.RATE)

    return make


def room(rt60_s: float) -> Callable[[np.ndarray], CaseAudio]:
    def make(source: np.ndarray) -> CaseAudio:
        return cases.room(source, recordings.RATE, rt60_s, ROOMS[rt60_s])

    return make


def _through(source: np.ndarray, delay: bool, reverb: bool) -> np.ndarray:
    chain: list[pedalboard.Plugin] = []
    if delay:
        chain.append(pedalboard.Delay(**CHAIN_DELAY))
    if reverb:
        chain.append(pedalboard.Reverb(**CHAIN_REVERB, width=1.0))
    return np.asarray(pedalboard.Pedalboard(chain)(np.ascontiguousarray(source), recordings.RATE))


def delay_into_reverb(with_reverb: bool) -> Callable[[np.ndarray], CaseAudio]:
    def make(source: np.ndarray) -> CaseAudio:
        processed = _through(source, delay=True, reverb=with_reverb)
        return cases._scaled(processed, source, recordings.RATE)

    return make


def reverb_without_delay(source: np.ndarray) -> np.ndarray:
    """A chain's input with its echo removed, on the input's scale.

    Both the delay and Freeverb are linear and time-invariant (the delay acts alike on
    each channel), so they commute: removing the delay from the chain leaves the reverb
    of the dry source. This is the reference for the echo-removal half of a chain.
    """
    chained = _through(source, delay=True, reverb=True)
    scale = cases.INPUT_PEAK / (float(np.max(np.abs(chained))) + 1e-12)
    return (_through(source, delay=False, reverb=True) * scale).astype(np.float32)


def unchanged(source: np.ndarray) -> CaseAudio:
    return cases._scaled(source, source, recordings.RATE)


# --- the case list ----------------------------------------------------------------------

_FREEVERB = (
    ("flute", 0.6, 0.35, 1.0),
    ("violin", 0.9, 0.5, 0.8),
    ("organ", 0.3, 0.2, 1.0),
    ("piano", 0.6, 0.35, 1.0),
    ("guitar", 0.9, 0.35, 1.0),
    ("drums", 0.6, 0.35, 1.0),
    ("voice", 0.3, 0.2, 1.0),
    ("voice", 0.6, 0.35, 1.0),
    ("voice", 0.9, 0.5, 0.8),
    ("speech", 0.6, 0.35, 1.0),
    ("ensemble", 0.6, 0.35, 1.0),
)
_SOX = (
    ("flute", 50),
    ("cello", 80),
    ("piano", 30),
    ("guitar_chords", 50),
    ("tabla", 50),
    ("choir", 50),
    ("voice", 30),
    ("voice", 80),
)
_ROOMS = (
    ("voice", 0.4),
    ("voice", 1.0),
    ("speech", 0.7),
    ("flute", 0.7),
    ("piano", 0.4),
    ("clarinet", 1.0),
    ("drums", 0.7),
)
_CHAINS = ("voice_stereo", "ensemble", "guitar_stereo")
_DRY = ("flute", "cello", "organ", "piano", "choir", "drums", "voice", "ensemble")
QUICK = (
    "freeverb_flute_r0.6_w0.35",
    "freeverb_voice_r0.6_w0.35",
    "sox_cello_80",
    "room_voice_rt0.4",
    "chain_voice_stereo",
    "echo_only_voice_stereo",
    "dry_flute",
)


def reverb_cases(quick: bool = False) -> list[ReverbCase]:
    """Every case in a fixed order; `quick`: the QUICK subset."""
    found: list[ReverbCase] = []
    for name, size, wet, dry in _FREEVERB:
        found.append(
            ReverbCase(
                f"freeverb_{name}_r{size:g}_w{wet:g}",
                "freeverb",
                name,
                _kind(name),
                f"Freeverb room {size:g}, wet {wet:g}, dry {dry:g}",
                freeverb(size, wet, dry),
            )
        )
    for name, reverberance in _SOX:
        found.append(
            ReverbCase(
                f"sox_{name}_{reverberance}",
                "sox",
                name,
                _kind(name),
                f"SoX reverb {reverberance}",
                sox_reverb(reverberance),
            )
        )
    for name, rt60 in _ROOMS:
        size = "x".join(f"{side:g}" for side in ROOMS[rt60])
        found.append(
            ReverbCase(
                f"room_{name}_rt{rt60:.1f}",
                "room",
                name,
                _kind(name),
                f"{size} m room, RT60 {rt60:g} s (Sabine)",
                room(rt60),
                room_rt60=rt60,
            )
        )
    delay = CHAIN_DELAY
    delay_text = (
        f"Delay {delay['delay_seconds'] * 1000:.0f} ms "
        f"fb {delay['feedback']:g} mix {delay['mix']:g}"
    )
    for name in _CHAINS:
        reverb = CHAIN_REVERB
        found.append(
            ReverbCase(
                f"chain_{name}",
                "chain",
                name,
                _kind(name),
                f"{delay_text} -> Freeverb room {reverb['room_size']:g} wet "
                f"{reverb['wet_level']:g} dry {reverb['dry_level']:g}",
                delay_into_reverb(True),
            )
        )
        found.append(
            ReverbCase(
                f"echo_only_{name}",
                "echo_only",
                name,
                _kind(name),
                delay_text,
                delay_into_reverb(False),
            )
        )
    for name in _DRY:
        found.append(ReverbCase(f"dry_{name}", "dry", name, _kind(name), "none", unchanged))
    if quick:
        found = [case for case in found if case.name in QUICK]
    return found


def find_reverb_cases(selector: str, quick: bool = False) -> Iterator[ReverbCase]:
    """Cases whose name, group or material equals one of the comma-separated words, or
    whose name contains it."""
    words = [word.strip() for word in selector.split(",") if word.strip()]
    for case in reverb_cases(quick):
        if any(word in (case.group, case.material) or word in case.name for word in words):
            yield case


__all__ = ["REVERB_GROUPS", "ReverbCase", "find_reverb_cases", "material", "reverb_cases"]
