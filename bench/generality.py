"""Generality: deecho on recordings no other bench case uses, so that a rule tuned to the
bench's own material shows up as harm here.

    python -m bench.generality                 # every material and effect; writes the README
    python -m bench.generality --only kit,oboe # by part of a material's name

Material (the reverb bench's Debian packages, bench/recordings.py): twenty more sampled
instruments from MuseScore's General SoundFont played by fluidsynth (brass, reeds, strings,
harp, mallets, bass, electric piano, accordion, steel guitar, pan flute; kalimba, steel
drums, pizzicato strings, xylophone, soprano sax, banjo, tuba, timpani), eight recorded
Sonic Pi loops (drum breaks, percussion, synth loops), two ambient pads, guitar harmonics,
vinyl hiss (noise), a kit strung from one-shot drum samples, and a second espeak-ng voice.
Effects: none (dry), a 300 ms delay (feedback 0.3, mix 0.3), Freeverb (room 0.5, wet 0.3;
light: room 0.3, wet 0.2; long: room 0.9, wet 0.5, dry 0.8; bright: room 0.75, wet 0.4,
dry 0.9, damping 0.2), SoX `reverb 50` and `reverb 80`, and a 0.7 s pyroomacoustics room,
as in bench/reverb_cases.py.

deecho runs in this process (`deecho.engine.remove_echo`): these are quality figures, no
times. Verdicts: a dry take must come back within 30 dB of itself, a reverb must not be
made worse by more than 0.5 dB SI-SDR, a delay must gain at least 10 dB.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pedalboard

from bench import recordings, report
from bench.cases import CaseAudio, _scaled
from bench.metrics import si_sdr, si_sdr_gain
from bench.oracle import ideal_mask_gain
from bench.reverb_cases import freeverb, room, sox_reverb, unchanged

OUT = Path(__file__).resolve().parent / "out" / "generality" / "results.json"
DRY_MIN_DB = 30.0
REVERB_MIN_DB = -0.5
DELAY_MIN_DB = 10.0

_MELODY = recordings.legato(
    [67, 69, 71, 72, 74, 72, 71, 69, 67], [0.8, 0.6, 0.6, 1.2, 0.8, 0.6, 1.0, 0.8, 2.0]
)
_LOW = recordings.legato(
    [43, 45, 47, 48, 50, 48, 47, 45, 43], [0.8, 0.6, 0.6, 1.2, 0.8, 0.6, 1.0, 0.8, 2.0]
)
_CHORDS = recordings.chords(recordings._PROGRESSION, 2.25)
_PICKED = recordings.arpeggios(recordings._PROGRESSION * 2, 0.28, 1.6)
_STACCATO = [
    (index * 0.35, 0.12, pitch, 90)
    for index, pitch in enumerate(
        [60, 64, 67, 72, 67, 64, 60, 64, 67, 72, 76, 72, 67, 64, 60, 55, 60, 64, 67, 72, 67, 64]
    )
]
_TIMPANI = recordings.legato([41, 41, 43, 45, 41, 41, 43, 36], [0.5] * 7 + [1.5])
_RUN = recordings.legato([60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 72, 67], [0.25] * 11 + [1.5])
_KIT = (
    "drum_heavy_kick",
    "drum_snare_hard",
    "drum_tom_hi_hard",
    "drum_cymbal_closed",
    "drum_snare_soft",
    "drum_tom_lo_hard",
    "drum_cymbal_open",
)


def _played(program: int, notes: Sequence[recordings.Note]) -> Callable[[], np.ndarray]:
    return lambda: recordings.fluidsynth(program, notes)


def _sample(name: str) -> Callable[[], np.ndarray]:
    return lambda: recordings.read_clip(recordings.SONIC_PI / f"{name}.flac")


MATERIALS: dict[str, Callable[[], np.ndarray]] = {
    "trumpet": _played(56, _MELODY),
    "oboe": _played(68, _MELODY),
    "tenor sax": _played(65, _LOW),
    "french horn": _played(60, _LOW),
    "string section": _played(48, _CHORDS),
    "harp": _played(46, _PICKED),
    "marimba": _played(12, recordings.arpeggios(recordings._PROGRESSION * 2, 0.2, 0.5)),
    "vibraphone": _played(11, recordings.arpeggios(recordings._PROGRESSION * 2, 0.28, 1.2)),
    "double bass": _played(32, _LOW),
    "electric piano": _played(4, _CHORDS),
    "accordion": _played(21, _MELODY),
    "steel guitar": _played(25, _PICKED),
    "pan flute": _played(75, _MELODY),
    "breakbeat": _sample("loop_breakbeat"),
    "amen break (full)": _sample("loop_amen_full"),
    "compus loop": _sample("loop_compus"),
    "garzul loop": _sample("loop_garzul"),
    "industrial loop": _sample("loop_industrial"),
    "mika loop": _sample("loop_mika"),
    "safari loop": _sample("loop_safari"),
    "percussion loop": _sample("loop_perc1"),
    "ambient piano": _sample("ambi_piano"),
    "ambient choir": _sample("ambi_choir"),
    "guitar harmonics": _sample("guit_harmonics"),
    "vinyl hiss": _sample("vinyl_hiss"),
    # Added 2026-12-01 from a wider probe (30 more GM programs): the ones that showed harm.
    "kalimba": _played(108, _STACCATO),
    "steel drums": _played(114, _STACCATO),
    "pizzicato strings": _played(45, _STACCATO),
    "xylophone": _played(13, _STACCATO),
    "soprano sax": _played(64, _RUN),
    "banjo": _played(105, recordings.arpeggios(recordings._PROGRESSION * 2, 0.2, 0.8)),
    "tuba": _played(58, recordings.legato([36, 38, 40, 36, 43, 41, 40, 38, 36], [0.8] * 8 + [2.0])),
    "music box": _played(10, _STACCATO),  # 2026-12-01, second probe (21 more): the one with harm
    "timpani": _played(47, _TIMPANI),
    "drum kit (one-shots)": lambda: recordings.strung(
        [recordings.SONIC_PI / f"{name}.flac" for name in _KIT] * 2, 0.15
    ),
    "espeak-ng voice": lambda: _espeak(),
}


def _espeak() -> np.ndarray:
    from bench.cases import source

    return source("speech", recordings.RATE, recordings.SECONDS, seed=7)


def _delay(seconds: float) -> Callable[[np.ndarray], CaseAudio]:
    def make(source: np.ndarray) -> CaseAudio:
        effect = pedalboard.Delay(delay_seconds=seconds, feedback=0.3, mix=0.3)
        processed = np.asarray(effect(np.ascontiguousarray(source), recordings.RATE))
        return _scaled(processed, source, recordings.RATE)

    return make


_DELAYS = ("delay", "slapback")
EFFECTS: dict[str, Callable[[np.ndarray], CaseAudio]] = {
    "dry": unchanged,
    "delay": _delay(0.3),
    "slapback": _delay(0.06),  # 2026-12-01: the short delay of rockabilly vocals and guitars
    "Freeverb": freeverb(0.5, 0.3, 1.0),
    "light Freeverb": freeverb(0.3, 0.2, 1.0),
    "long Freeverb": freeverb(0.9, 0.5, 0.8),
    "bright Freeverb": freeverb(0.75, 0.4, 0.9, damping=0.2),
    "SoX reverb": sox_reverb(50),
    "SoX reverb 80": sox_reverb(80),
    "room 0.7 s": room(0.7),
}


@dataclass(frozen=True)
class Result:
    material: str
    effect: str
    value: float  # dry: output vs input SI-SDR; otherwise the SI-SDR gain
    ideal_mask: float | None  # reverbs only: the ideal ratio mask's gain (bench/oracle.py)

    @property
    def passed(self) -> bool:
        if self.effect == "dry":
            return self.value >= DRY_MIN_DB
        if self.effect in _DELAYS:
            return self.value >= DELAY_MIN_DB
        return self.value >= REVERB_MIN_DB


def _material(make: Callable[[], np.ndarray]) -> np.ndarray:
    """Looped to 9 s if shorter, then cut as the reverb bench cuts (fade, 1 s of silence)."""
    audio = np.atleast_2d(make())
    frames = round(recordings.SECONDS * recordings.RATE)
    if audio.shape[1] < frames:
        audio = np.tile(audio, (1, frames // audio.shape[1] + 1))
    return recordings._finished(audio)


def run(material: str, effect: str, source: np.ndarray) -> Result:
    from deecho.engine import remove_echo

    wet, reference, rate = EFFECTS[effect](source)
    out = np.asarray(remove_echo(wet, rate).no_echo)
    if effect == "dry":
        return Result(material, effect, si_sdr(out, wet), None)
    mask = ideal_mask_gain(wet, reference).gain_db if effect not in _DELAYS else None
    return Result(material, effect, si_sdr_gain(out, wet, reference), mask)


def _cell(result: Result | None) -> str:
    if result is None:
        return "—"
    text = "identical" if result.value > 100 else f"{result.value:.1f}"
    if result.ideal_mask is not None:
        text += f" ({result.ideal_mask:.1f})"
    return text if result.passed else f"**{text}**"


def markdown(results: Sequence[Result], machine: str) -> str:
    found = {(r.material, r.effect): r for r in results}
    materials = list(dict.fromkeys(r.material for r in results))
    rows = [[m, *(_cell(found.get((m, e))) for e in EFFECTS)] for m in materials]
    failed = [r for r in results if not r.passed]
    lines = [
        f"Machine: {machine}.",
        "",
        f"{len(results)} runs, {len(failed)} below their line (bold): "
        + (", ".join(f"{r.material} {r.effect} {r.value:.1f}" for r in failed) or "none")
        + ". Dry: output vs input SI-SDR (≥ 30 dB); delay: gain (≥ 10 dB); reverbs: gain "
        "(≥ −0.5 dB), the ideal ratio mask's gain in brackets.",
        "",
        report.markdown_table(("material", *EFFECTS), rows),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="materials whose name holds one of these (comma-separated)")
    args = parser.parse_args(argv)
    missing = recordings.missing()
    if missing:
        print(f"needs {' '.join(missing)}: run `make bench-deps`", file=sys.stderr)
        return 1
    wanted = [part.strip() for part in args.only.split(",")] if args.only else None
    machine = report.machine_note()
    results = []
    for material, make in MATERIALS.items():
        if wanted and not any(part in material for part in wanted):
            continue
        source = _material(make)
        for effect in EFFECTS:
            result = run(material, effect, source)
            results.append(result)
            print(f"{material:22s} {effect:14s} {_cell(result).replace('**', '')}", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps([asdict(r) for r in results], indent=1))
    if wanted is None:
        report.update_readme("generality", markdown(results, machine))
    print(markdown(results, machine).split("\n\n")[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
