"""No echo is read in dry sampled instruments; a delay on them is still removed.

The phrases are real recorded samples (MuseScore's General SoundFont) played by fluidsynth,
as a musician's sampler plays them: each held note loops a stretch of its sustain, and its
vibrato repeats with it. That periodicity reads in the cepstrum as an echo train of
190-255 ms; before the engine told the two apart (engine/echo_presence.py: a real echo
is inside the recording), these phrases came back 20 dB changed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pedalboard
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import recordings  # noqa: E402
from bench.generality import _STACCATO, _TIMPANI  # noqa: E402
from bench.metrics import si_sdr  # noqa: E402

from deecho.engine import Amounts, remove_echo  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not recordings.SOUNDFONT.exists(),
    reason="needs fluidsynth and musescore-general-soundfont-small (make system-deps)",
)

MELODY = [67, 69, 71, 72, 74, 72, 71, 69, 67]
ON_THE_BEAT = [0.8, 0.6, 0.6, 1.2, 0.8, 0.6, 1.0, 0.8, 2.0]
OFF_THE_BEAT = [0.73, 0.61, 0.57, 1.13, 0.87, 0.66, 0.97, 0.79, 2.0]
# (General MIDI program, note lengths, transposition, cut as the reverb bench cuts its
# recordings or whole as fluidsynth renders it): each one read as an echo before, the cut
# ones faintly (first repeat 0.07-0.19), the whole ones clearly (0.27-0.30).
PHRASES = {
    "oboe": (68, ON_THE_BEAT, 0, True),
    "flute": (73, ON_THE_BEAT, 0, True),
    "cello": (42, OFF_THE_BEAT, 0, True),
    "low cello": (42, ON_THE_BEAT, -5, True),
    "pan flute": (75, ON_THE_BEAT, 0, True),
    "oboe, whole": (68, ON_THE_BEAT, 0, False),
    "flute, whole": (73, OFF_THE_BEAT, 0, False),
    "pan flute, whole": (75, OFF_THE_BEAT, 0, False),
}


def phrase(program: int, lengths: list[float], shift: int, cut: bool) -> np.ndarray:
    notes = recordings.legato([pitch + shift for pitch in MELODY], lengths)
    audio = recordings.fluidsynth(program, notes)
    if cut:  # 9 s, a 50 ms fade, 1 s of silence
        return recordings._finished(audio)
    audio = np.concatenate([audio, np.zeros((1, recordings.RATE), dtype=np.float32)], axis=1)
    return (0.5 * audio / np.max(np.abs(audio))).astype(np.float32)


@pytest.mark.parametrize("name", list(PHRASES))
def test_no_echo_is_read_in_a_dry_sampled_instrument(name: str) -> None:
    dry = phrase(*PHRASES[name])
    # The echo stage alone: the reverb stage has its own do-no-harm tests (test_reverb*.py).
    result = remove_echo(dry, recordings.RATE, Amounts(echo=1.0, reverb=0.0))
    assert result.report.echoes == [], f"{name}: an echo was read in a dry take"
    assert si_sdr(np.asarray(result.no_echo), dry) > 60.0


# Faint first repeats, one with a feedback six times it (a long, soft tail of repeats).
@pytest.mark.parametrize(("mix", "feedback"), [(0.15, 0.3), (0.2, 0.5), (0.1, 0.6)])
def test_a_faint_delay_on_the_same_instrument_is_still_removed(mix: float, feedback: float) -> None:
    dry = phrase(*PHRASES["oboe"])
    delay = pedalboard.Delay(delay_seconds=0.3, feedback=feedback, mix=mix)
    wet = np.asarray(delay(dry, recordings.RATE))
    result = remove_echo(wet, recordings.RATE)
    assert [round(echo.delay_ms) for echo in result.report.echoes] == [300]
    # 11-17 dB in, 21-26 dB out: the faint train is taken out, not left.
    assert si_sdr(np.asarray(result.no_echo), dry) > si_sdr(wet, dry) + 3.0


@pytest.mark.parametrize("hall", ["long Freeverb", "light Freeverb", "SoX reverb 65"])
def test_a_tuba_s_low_notes_through_a_reverb_are_not_an_echo(hall: str) -> None:
    # Two periods of its C2 (30.6 ms) read as an echo train with feedback 0.8 once a reverb
    # kept the old note sounding where each new one starts (the presence check passed it),
    # and ten of its D2 (136.3 ms, feedback 0.67) through lighter ones: the comb that
    # cancelled them took the notes' harmonics, 1.7-5.0 dB worse.
    from bench.reverb_cases import sox_reverb

    if hall == "SoX reverb 65" and shutil.which("sox") is None:
        pytest.skip("needs sox (make system-deps)")
    notes = recordings.legato([36, 38, 40, 36, 43, 41, 40, 38, 36], [0.8] * 8 + [2.0])
    dry = recordings._finished(recordings.fluidsynth(58, notes))
    if hall.endswith("Freeverb"):
        effect = (
            pedalboard.Reverb(room_size=0.95, wet_level=0.6, dry_level=0.7)
            if hall == "long Freeverb"
            else pedalboard.Reverb(room_size=0.3, wet_level=0.2, dry_level=1.0)
        )
        wet = np.asarray(effect(dry, recordings.RATE))
    else:
        wet = sox_reverb(65)(dry)[0]
    result = remove_echo(wet, recordings.RATE, Amounts(echo=1.0, reverb=0.0))
    assert result.report.echoes == []
    assert si_sdr(np.asarray(result.no_echo), wet) > 60.0


STACCATO = [
    (index * 0.35, 0.12, pitch, 90)
    for index, pitch in enumerate([60, 64, 67, 72, 67, 64, 60, 64, 67, 72, 76, 72, 67, 64, 60])
]
RUN = recordings.legato([60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 72, 67], [0.25] * 11 + [1.5])


@pytest.mark.parametrize(
    ("name", "program", "notes", "room_size"),
    [
        ("kalimba", 108, STACCATO, 0.75),
        ("steel drums", 114, STACCATO, 0.75),
        ("pizzicato strings", 45, STACCATO, 0.75),
        ("soprano sax", 64, RUN, 0.75),
        ("steel drums, dry", 114, STACCATO, None),
    ],
)
def test_a_melody_on_a_pitched_instrument_keeps_its_own_ringing(
    name: str, program: int, notes: list[recordings.Note], room_size: float | None
) -> None:
    # As voiced as a voice (0.8-1.0) and given a voice's loose treatment, these lost their
    # notes' own ringing as if it were the room's: 2.3-8.8 dB worse through this Freeverb,
    # the dry steel drums 7.9 dB changed. A voice is also articulated (engine/voicing.py).
    dry = recordings._finished(recordings.fluidsynth(program, notes))
    if room_size is None:
        assert si_sdr(np.asarray(remove_echo(dry, recordings.RATE).no_echo), dry) > 30.0
        return
    hall = pedalboard.Reverb(room_size=room_size, wet_level=0.4, dry_level=0.9, damping=0.2)
    wet = np.asarray(hall(dry, recordings.RATE))
    out = np.asarray(remove_echo(wet, recordings.RATE).no_echo)
    assert si_sdr(out, dry) >= si_sdr(wet, dry) - 0.5, name


@pytest.mark.parametrize("hall", [None, "Freeverb"])
def test_a_phrase_that_plays_its_notes_again_is_not_an_echo(hall: str | None) -> None:
    # A music box's notes ring on under the next ones, so a 1.4 s "echo" (first repeat 0.4)
    # and a 0.7 s one (0.09) both lay inside the recording. Cancelled while the 0.7 s one
    # was judged, the 1.4 s family took the notes that did repeat and vouched for it: the
    # dry take came back 16.6 dB changed, through this Freeverb 2.4 dB worse. Echoes that
    # fail are now dropped one by one, the least heard first, and the rest judged again.
    # The generality bench's phrase: an arpeggio up and down that plays some of its notes
    # again two notes (0.7 s) and four notes (1.4 s) later, each time the same sample.
    dry = recordings._finished(recordings.fluidsynth(10, _STACCATO))
    wet = dry
    if hall is not None:
        hall_effect = pedalboard.Reverb(room_size=0.5, wet_level=0.3, dry_level=1.0)
        wet = np.asarray(hall_effect(dry, recordings.RATE))
    result = remove_echo(wet, recordings.RATE)
    assert result.report.echoes == []
    assert si_sdr(np.asarray(result.no_echo), wet) > 60.0


@pytest.mark.parametrize("hall", [None, "Freeverb", "light Freeverb"])
def test_timpani_keep_their_own_ring(hall: str | None) -> None:
    # Timpani ring 0.8-1.2 s of their own and strike as hard as a drum loop: the reverb
    # stage read their ring as a room's tail and took it, dry 17.7 dB changed, through these
    # Freeverbs 6.0 and 6.1 dB worse. Held that much, they need more attacks to be a room.
    dry = recordings._finished(recordings.fluidsynth(47, _TIMPANI))
    if hall is None:
        assert si_sdr(np.asarray(remove_echo(dry, recordings.RATE).no_echo), dry) > 30.0
        return
    room_size, wet_level = (0.5, 0.3) if hall == "Freeverb" else (0.3, 0.2)
    effect = pedalboard.Reverb(room_size=room_size, wet_level=wet_level, dry_level=1.0)
    wet = np.asarray(effect(dry, recordings.RATE))
    out = np.asarray(remove_echo(wet, recordings.RATE).no_echo)
    assert si_sdr(out, dry) >= si_sdr(wet, dry) - 0.5


@pytest.mark.parametrize(
    ("name", "program", "notes"),
    [
        ("trumpet", 56, recordings.legato(MELODY, ON_THE_BEAT)),
        ("string section", 48, recordings.chords(recordings._PROGRESSION, 2.25)),
    ],
)
def test_a_slapback_on_held_notes_is_found(
    name: str, program: int, notes: list[recordings.Note]
) -> None:
    # 60 ms, a rockabilly slapback. The cepstral peak at 60 ms had one at 60/k ms close
    # enough to one of the notes' own rahmonics (within k + 16 samples, for k up to 8) and
    # was taken for a rahmonic itself: the slapback was not found at all (0.0 dB). A
    # rahmonic at k periods now needs its note's peaks at every period below it.
    dry = recordings._finished(recordings.fluidsynth(program, notes))
    delay = pedalboard.Delay(delay_seconds=0.06, feedback=0.3, mix=0.3)
    wet = np.asarray(delay(dry, recordings.RATE))
    result = remove_echo(wet, recordings.RATE, Amounts(echo=1.0, reverb=0.0))
    assert [round(echo.delay_ms) for echo in result.report.echoes] == [60], name
    assert si_sdr(np.asarray(result.no_echo), dry) > si_sdr(wet, dry) + 15.0, name
