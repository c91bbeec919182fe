"""Late-reverberation suppression by delayed linear prediction (WPE class).

In each STFT frequency bin, the late reverberation of frame t is well predicted
from the frames at least `delay` frames earlier, while the direct sound and early
reflections are not. WPE (Nakatani et al., 2010) finds, per bin, the prediction
filter that minimises the prediction error weighted by the inverse power of the
dry estimate (a sparse, speech-like prior); subtracting the prediction removes
the late tail and keeps the early part, linearly and phase-correctly.

We estimate the filters once, on the analysis excerpts, and then apply them frame by
frame in a streaming STFT (engine/reverb_stream.py), so long files cost one STFT, a
short FIR per bin across frames, and one inverse STFT (engine/wpe.py). Only bins below
5 kHz are filtered: that is where reverberant energy (and SI-SDR) lives, and it keeps
the cost down. A real per-bin gain (engine/late_gain.py: Lebart's model at the blind
RT60, scaled by how reverberant the room is) then takes out part of the late tail the
prediction left.

Do no harm: delayed prediction cancels anything predictable, reverb or not. A
held note is predictable from its own past, and plain WPE cancels it (nara_wpe
loses 3-8 dB SI-SDR on music in 0.4-0.7 s rooms, 30 dB on a sustained flute). So
every bin's prediction is capped, frame by frame, at a multiple of the late reverb
the room can have made there (engine/late_level.py: the room's late level, read
where the sound stops, times the decayed dry power of what came before), and how
far it may go depends on the material (see Material): a voice gets a loose cap and
the spectral late gain; sustained material, held notes and drums only lose what is
dying away at the room's pace, notes and drums with a tight cap and not at all in
bins whose prediction is mostly the source's own sound. analyze_reverb returns None
(leave the audio alone) when
- the fastest decays are quicker than any room allows (dry material), there are
  too few decays to show a room, or none at all (noise, held tones): see
  rt60.measure_decays;
- the sound holds still too much for its decays to tell the room from the notes'
  own (chords under a melody, synth loops);
- the sound never stops where a room would show (no late level in any band);
- held material has too few attacks for a room's tail to follow (pads, drones, a band's
  chords and plucked notes: engine/attacks.py);
- the capped filters remove almost nothing on the excerpts.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from deecho.engine.attacks import percussive_share
from deecho.engine.late_level import band_of_bins, calibrate, smoothed_power
from deecho.engine.parallel import each_at_once
from deecho.engine.rt60 import measure_decays
from deecho.engine.voicing import voicing
from deecho.engine.wpe import (
    estimate_filter,
    filtered_bins,
    frame_layout,
    predict,
    stft,
    sustain_score,
    window,
)

__all__ = [
    "DRY_FASTEST_DECAY_S",
    "Material",
    "ReverbPlan",
    "analysis_audio",
    "analyze_reverb",
    "cap_prediction",
    "dying_bins",
    "fit_channels",
    "late_share_of",
    "room_power_decay",
]

DRY_FASTEST_DECAY_S = 0.25
"""Input whose fastest decays (10th percentile, as RT60) are quicker than this is dry:
dry speech reads 0.17-0.20 s (its own offsets), speech in a 0.4 s room 0.31 s and more."""

_DELAY_FRAMES = 2  # keep about the first 64 ms (direct sound and early reflections)
_TAPS = 28  # reach about 0.9 s behind the delay: more taps gain nothing measurable
_DECAY_ANALYSIS_MAX_S = 30.0
_ESTIMATION_MAX_S = 12.0  # analysis excerpt length used per channel (bounds analysis time)
# Unconstrained prediction must take at least this much: light algorithmic reverbs on a
# voice read 0.26-0.6 dB (and the ideal mask gains 5-7 dB on them); dry input is told by
# its decays and its late level, not by this.
_MIN_LATE_REDUCTION_DB = 0.2
# A room shows itself in many decays; a handful can be the notes' own (a dry choir gives 5).
_MIN_ROOM_DECAYS = 10
# What the capped prediction must take out of the excerpts to be worth running: on speech
# any measurable amount (a light Freeverb on a voice gives 0.05 dB and 3 dB SI-SDR); on
# notes, where what little it takes is as likely a note's decay as the room, clearly more.
_MIN_CAPPED_REDUCTION_DB = 0.02
_MIN_CAPPED_REDUCTION_NOTES_DB = 0.3
_MAX_SUSTAIN = 0.10  # above chance by more than this, the input holds notes (music)
# Held material the stage can gain on (drum loops and kits, a tabla, a voice in a long
# reverb) scores 0.10-0.16; a band with pad chords under a plucked melody 0.24-0.26, a synth
# loop 0.22, a drum break whose bars repeat 0.27: their notes' own decays were taken for
# the room's and they came out 0.4-2.5 dB worse. Above this, the stage stands aside.
_MAX_HELD_SUSTAIN = 0.19
# A voice puts 0.67-0.91 of its energy below 1 kHz in voiced frames (dry, in rooms,
# through reverbs), drums 0-0.32 (engine/voicing.py). Below this, short sounds are drums.
# A melody on a pitched instrument is as voiced (0.8-1.0): a voice is also articulated,
# its colour moving from phoneme to phoneme (Voicing.speaks).
_MIN_VOICED_SHARE = 0.5
# Held material the stage gains on has attacks a room's tail follows: drum loops and kits
# put 0.25-0.73 of their power in them (engine/attacks.py; 0.25 a loop in a 0.7 s room).
# A band (pads, plucked notes, bass, drums) puts 0.18-0.22 there and lost up to 3.7 dB
# through a Freeverb, ambient pads 0.05: their fades are their own. A tabla (0.16, +1.6
# dB) is lost with them. A voice in a long reverb (0.23) is told by its voicing, and needs
# only some attacks: a choir pad, as voiced, has none (0.05; 1.2 dB worse through SoX's).
_MIN_HELD_ATTACK_SHARE = 0.235
# The more a sound holds, the more of its decays are its own notes' and the more of its power
# must be in attacks for them to be a room's tail: at the most held it acts on (0.19), 0.40.
# Timpani ring 0.8-1.2 s of their own (sustain 0.17-0.18) and strike as hard as a drum loop
# (0.30): treated as drums in a room, dry ones came back 17.7 dB changed and through reverbs
# 2.7-6.1 dB worse. Held drum loops and kits the stage gains on: 0.28-0.73 at 0.10-0.17;
# a loop in a 0.7 s room (0.25 at 0.14, +1.2 dB), a kit through a long Freeverb (0.28 at
# 0.15, +0.6) and tabla hits through two Freeverbs (+0.7, +1.5) are left alone with them.
_HELD_ATTACK_SHARE_MOST = 0.40
_CLEAR_VOICE_SHARE = 0.6  # voices 0.67-0.91; bands 0.28-0.56
_MIN_VOICE_ATTACK_SHARE = 0.1
# Uncapped prediction removes 0.7-3 dB from speech and drums in 0.4-1 s rooms, 5-14 dB
# from held or ringing notes (flute, organ, strummed guitar, piano) in the same rooms.
_TONAL_REDUCTION_DB = 4.0
# How much of the late level one bin's prediction may take: speech can use the
# model's slack (its syllables' tails are all room), held notes may not.
_CAP_SPEECH = 16.0
_CAP_SUSTAINED = 2.0
_CAP_TONAL = 1.0
# A bin whose prediction over the excerpts is more than this many times the late
# reverb the room can make there is predicting notes, not the room.
_TONAL_BIN_EXCESS = 2.0
_MAX_LATE_SHARE = 0.95  # the DRR estimate stops at -13 dB


class Material(enum.Enum):
    """What the reverb stage is working on: how much of it holds still, and whether it is a voice.

    SPEECH: a voice (engine/voicing.py) with nothing held: nearly all that is predictable
    from 64 ms back is the room: the prediction runs with a loose cap and the spectral
    late gain.
    SUSTAINED: some sound holds still for longer than a room rings (a reverberant voice,
    a drum kit's cymbals): the prediction only acts on bins that are dying away.
    NOTES: held or ringing notes (flute, organ, strummed guitar, piano), and short sounds
    that are not a voice (drums: a drum's own ring is as predictable as a room's tail, and
    looser treatment took 2-20 dB out of dry drum loops): also only on dying bins, with a
    tight cap, and not at all in bins that mostly predict the source's own sound.
    """

    SPEECH = "speech"
    SUSTAINED = "sustained"
    NOTES = "notes"

    @property
    def cap(self) -> float:
        return {Material.SPEECH: _CAP_SPEECH, Material.SUSTAINED: _CAP_SUSTAINED}.get(
            self, _CAP_TONAL
        )

    @property
    def tails_only(self) -> bool:
        return self is not Material.SPEECH


def _material(held: bool, uncapped_db: float, voiced: bool) -> Material:
    if uncapped_db > _TONAL_REDUCTION_DB or not (held or voiced):
        return Material.NOTES
    return Material.SUSTAINED if held else Material.SPEECH


@dataclass(frozen=True, eq=False)
class ReverbPlan:
    """What analyze_reverb found: per-channel prediction filters plus the STFT layout."""

    sample_rate: int
    frame_size: int
    hop: int
    delay: int
    filters: np.ndarray  # (channels, taps, bins) complex64, bins = the filtered low bins
    strength: float
    rt60_s: float
    late_reduction_db: float  # how much energy the capped filters removed on the excerpts
    late_level: np.ndarray  # (channels, bins) float32: the room's late level per bin
    late_share: float  # the reverberant share of the excerpts' energy (for the DRR)
    material: Material  # how far the prediction may go (see Material)

    @property
    def taps(self) -> int:
        return int(self.filters.shape[1])

    @property
    def channels(self) -> int:
        return int(self.filters.shape[0])


def analysis_audio(excerpts: Sequence[np.ndarray], sample_rate: int) -> np.ndarray | None:
    usable = [np.atleast_2d(np.asarray(e, dtype=np.float32)) for e in excerpts if np.size(e) > 0]
    if not usable:
        return None
    channels = usable[0].shape[0]
    usable = [e for e in usable if e.shape[0] == channels]
    budget = int(_ESTIMATION_MAX_S * sample_rate)
    if sum(e.shape[1] for e in usable) <= budget:
        return np.concatenate(usable, axis=1)
    # An equal share from the middle of each excerpt: the room heard across the
    # file, not only in its first seconds (which may be an intro or silence).
    share = budget // len(usable)
    middles = []
    for excerpt in usable:
        start = max(0, (excerpt.shape[1] - share) // 2)
        middles.append(excerpt[:, start : start + share])
    return np.concatenate(middles, axis=1)


def fit_channels(
    spectra: np.ndarray, bands: np.ndarray, power_decay: float
) -> list[tuple[np.ndarray, float, np.ndarray, np.ndarray]]:
    """Per channel of (channels, frames, bins) spectra: the unconstrained prediction filter,
    the energy it removes (dB), and the room's late level per bin with its drive."""

    def fit(channel: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        filt, reduction = estimate_filter(channel, _DELAY_FRAMES, _TAPS)
        level, driven = calibrate(channel, bands, power_decay, _DELAY_FRAMES)
        return filt, reduction, level, driven

    # Hundreds of tiny per-bin products: BLAS threads only fight over them (on a
    # busy 2-core machine, ten times slower than one thread); a thread per channel does not.
    with threadpool_limits(limits=1, user_api="blas"):
        return each_at_once(fit, list(spectra))


def analyze_reverb(
    excerpts: Sequence[np.ndarray], sample_rate: int, strength: float = 1.0
) -> ReverbPlan | None:
    """Find the late-reverb prediction filters, or None when the input is dry (leave it alone)."""
    strength = float(np.clip(strength, 0.0, 1.0))
    if strength <= 0.0:
        return None
    blocks = [np.atleast_2d(e) for e in excerpts if np.size(e) > 0]
    # 30 s hold hundreds of decays: plenty to tell a room, and half the cost of 60 s.
    listened = (
        np.concatenate(blocks, axis=1)[:, : int(_DECAY_ANALYSIS_MAX_S * sample_rate)]
        if blocks
        else None
    )
    decay = measure_decays(listened, sample_rate) if listened is not None else None
    if decay is None or decay.fastest_s < DRY_FASTEST_DECAY_S or decay.count < _MIN_ROOM_DECAYS:
        return None
    audio = analysis_audio(excerpts, sample_rate)
    if audio is None:
        return None
    frame_size, hop = frame_layout(sample_rate)
    bins = filtered_bins(frame_size, sample_rate)
    spectra = stft(audio, frame_size, hop, window(frame_size))[:, :, :bins]
    sustain = sustain_score(spectra, hop / sample_rate)
    if sustain > _MAX_HELD_SUSTAIN:
        return None
    held = sustain > _MAX_SUSTAIN
    power_decay = room_power_decay(hop / sample_rate, decay.rt60_s)
    bands = band_of_bins(bins, frame_size, sample_rate)
    fits = fit_channels(spectra, bands, power_decay)
    uncapped = float(np.mean([fit[1] for fit in fits]))
    levels = np.stack([fit[2] for fit in fits])
    if uncapped < _MIN_LATE_REDUCTION_DB or not np.any(levels > 0.0):
        return None
    voice = voicing(audio, sample_rate)
    material = _material(held, uncapped, voice.speaks(_MIN_VOICED_SHARE))
    if material.tails_only:
        clear = voice.speaks(_CLEAR_VOICE_SHARE)
        least = _MIN_VOICE_ATTACK_SHARE if clear else _held_attack_share(sustain)
        if percussive_share(spectra) < least:
            return None
    filters = []
    removed = []
    late_energy = 0.0
    for channel, (filt, _, level, driven) in zip(spectra, fits, strict=True):
        late = level * driven
        prediction = predict(channel, filt, _DELAY_FRAMES)
        if material is Material.NOTES:  # bins predicting far more than the room can make
            excess = np.sum(np.abs(prediction) ** 2, axis=0) > _TONAL_BIN_EXCESS * late.sum(axis=0)
            filt = np.where(excess[None, :], 0, filt).astype(np.complex64)
            prediction = np.where(excess[None, :], 0, prediction)
        if material.tails_only:
            power = smoothed_power(channel)
            earlier = np.concatenate([power[:_DELAY_FRAMES], power[:-_DELAY_FRAMES]])
            prediction = prediction * dying_bins(power, earlier, power_decay**_DELAY_FRAMES)
        dry = channel - cap_prediction(prediction, late, material.cap)
        removed.append(_reduction_db(channel, dry))
        late_energy += float(np.sum(late, dtype=np.float64))
        filters.append(filt)
    late_reduction = float(np.mean(removed))
    enough = (
        _MIN_CAPPED_REDUCTION_NOTES_DB if material is Material.NOTES else _MIN_CAPPED_REDUCTION_DB
    )
    if late_reduction < enough:
        return None
    return ReverbPlan(
        sample_rate=sample_rate,
        frame_size=frame_size,
        hop=hop,
        delay=_DELAY_FRAMES,
        filters=np.stack(filters),
        strength=strength,
        rt60_s=decay.rt60_s,
        late_reduction_db=late_reduction,
        late_share=late_share_of(uncapped, late_energy / max(_energy(spectra), 1e-30), material),
        late_level=levels.astype(np.float32),
        material=material,
    )


def _held_attack_share(sustain: float) -> float:
    """The percussive share (engine/attacks.py) material that is not a clear voice needs:
    _MIN_HELD_ATTACK_SHARE up to the held line, rising to _HELD_ATTACK_SHARE_MOST at the
    most held the stage acts on."""
    held = np.clip((sustain - _MAX_SUSTAIN) / (_MAX_HELD_SUSTAIN - _MAX_SUSTAIN), 0.0, 1.0)
    return float(_MIN_HELD_ATTACK_SHARE + held * (_HELD_ATTACK_SHARE_MOST - _MIN_HELD_ATTACK_SHARE))


def room_power_decay(hop_s: float, rt60_s: float) -> float:
    """The room's power decay over one hop: 60 dB per RT60."""
    return float(10.0 ** (-6.0 * hop_s / rt60_s))


def cap_prediction(prediction: np.ndarray, late: np.ndarray, cap: float) -> np.ndarray:
    """The prediction, shrunk where its power exceeds `cap` times the late reverb there."""
    power = prediction.real**2 + prediction.imag**2
    scale = np.minimum(1.0, np.sqrt(cap * late / np.maximum(power, 1e-30)))
    return (prediction * scale.astype(np.float32)).astype(np.complex64)


def _energy(spectra: np.ndarray) -> float:
    return float(np.sum(spectra.real**2 + spectra.imag**2, dtype=np.float64))


def dying_bins(power: np.ndarray, earlier: np.ndarray, room_fall: float) -> np.ndarray:
    """1 where a bin is dying away (as a tail in this room does), else 0.

    A held note keeps its level over the prediction delay; a tail falls by the room's
    decay. Halfway between the two, in dB, is the line.
    """
    return (power < np.sqrt(room_fall) * earlier).astype(np.float32)


def late_share_of(uncapped_db: float, model_share: float, material: Material) -> float:
    """The reverberant share of the energy: what unconstrained prediction removes, except
    on held notes, where it removes the notes too and the late model's share is used."""
    share = model_share if material is Material.NOTES else 1.0 - 10.0 ** (-uncapped_db / 10.0)
    return float(np.clip(share, 1e-3, _MAX_LATE_SHARE))


def _reduction_db(before: np.ndarray, after: np.ndarray) -> float:
    energy_before, energy_after = _energy(before), _energy(after)
    if energy_before <= 0.0 or energy_after <= 0.0:
        return 0.0
    return 10.0 * float(np.log10(energy_before / energy_after))
