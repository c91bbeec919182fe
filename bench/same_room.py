"""`--same-room` against per-file analysis on short clips cut from one echoey session.

    .venv/bin/python -m bench.same_room            # 3 sessions (300, 375, 450 ms), 24 clips each
    .venv/bin/python -m bench.same_room --clips 8

Each session is a few minutes of espeak-ng speech through one digital delay (300–450 ms,
feedback 0.3). It is cut into clips of 2–4 s, and each clip is cleaned twice with the
engine's echo stage: once analyzed on its own (what `deecho batch` does per file), once
with the echo model fitted on excerpts pooled from all the clips (`engine.fit_room`, what
`--same-room` does). The figure is SI-SDR against the dry clip, gain over the input, as
the mean per clip; the target is a mean gain ≥ 10 dB above the per-file one.

Two yardsticks beside them: the room fitted on the whole session (minutes of audio, the
best model the engine can have) applied to each clip alike, and the bound of any method
that sees only the clip: a clip's start holds echoes of speech from before the clip,
which nothing in the clip can tell from its own sound. The bound removes every echo of
the clip's own audio exactly (the delay is linear: the clip's echo minus the same delay
run on its dry twin from silence is what came from before) and keeps that part.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import numpy as np
import pedalboard

from bench.cases import digital_delay
from bench.metrics import si_sdr_gain
from bench.sources import speech
from deecho import engine

RATE = 22050
DELAYS_S = (0.300, 0.375, 0.450)
FEEDBACK = 0.3
MIX = 0.5
#: How much of the clips the room is fitted on (as `deecho batch --same-room` pools).
POOL_S = 60.0


def clips(session: np.ndarray, dry: np.ndarray, count: int, seed: int) -> list[tuple]:
    """`count` clips of 2–4 s from random places of the session, with their dry twins."""
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(count):
        length = round(rng.uniform(2.0, 4.0) * RATE)
        start = int(rng.integers(0, session.shape[-1] - length))
        found.append((session[:, start : start + length], dry[:, start : start + length]))
    return found


def cleaned(clip: np.ndarray, room: engine.Room | None) -> np.ndarray:
    """The echo stage alone (the reverb stage would act alike on both sides)."""
    plan = engine.analyze([clip], RATE, engine.Amounts(echo=1.0, reverb=0.0), room=room)
    plan = dataclasses.replace(plan, reverb_plan=None)
    return np.concatenate(list(engine.EchoCanceller(plan, RATE, clip.shape[0]).run([clip])), 1)


def pooled(pieces: list[np.ndarray]) -> list[np.ndarray]:
    budget = round(POOL_S * RATE)
    taken = []
    for piece in pieces:
        if budget <= 0:
            break
        taken.append(piece[:, :budget])
        budget -= taken[-1].shape[-1]
    return taken


def session_figures(
    delay_s: float, count: int, seed: int, mix: float = MIX, feedback: float = FEEDBACK
) -> dict[str, object]:
    dry = speech(RATE, max(90.0, count * 4.0), seed=seed)[np.newaxis, :]
    wet, reference, _ = digital_delay(dry, RATE, delay_s, feedback, mix)
    wet, reference = np.atleast_2d(wet), np.atleast_2d(reference)
    pairs = clips(wet, reference, count, seed)
    room = engine.fit_room(pooled([clip for clip, _ in pairs]), RATE)
    session_room = engine.fit_room([wet], RATE)
    alone, together, best_model, bound = [], [], [], []
    for clip, dry_clip in pairs:
        alone.append(si_sdr_gain(cleaned(clip, None), clip, dry_clip))
        together.append(si_sdr_gain(cleaned(clip, room), clip, dry_clip))
        best_model.append(si_sdr_gain(cleaned(clip, session_room), clip, dry_clip))
        from_itself = pedalboard.Delay(delay_seconds=delay_s, feedback=feedback, mix=mix)(
            np.ascontiguousarray(dry_clip, dtype=np.float32), RATE
        )
        bound.append(si_sdr_gain(dry_clip + (clip - from_itself), clip, dry_clip))
    return {
        "delay_ms": round(delay_s * 1000),
        "mix": mix,
        "feedback": feedback,
        "clips": count,
        "room_echoes": [echo.to_dict() for echo in room.echoes],
        "per_file_gain_db": round(float(np.mean(alone)), 2),
        "same_room_gain_db": round(float(np.mean(together)), 2),
        "improvement_db": round(float(np.mean(np.subtract(together, alone))), 2),
        "session_room_gain_db": round(float(np.mean(best_model)), 2),
        "bound_gain_db": round(float(np.mean(bound)), 2),
        "per_file_found_nothing": sum(1 for gain in alone if abs(gain) < 0.05),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--mix", type=float, default=MIX, help="the delay's wet share")
    parser.add_argument("--feedback", type=float, default=FEEDBACK)
    args = parser.parse_args()
    sessions = [
        session_figures(delay, args.clips, seed, args.mix, args.feedback)
        for seed, delay in enumerate(DELAYS_S, start=1)
    ]
    mean = float(np.mean([figures["improvement_db"] for figures in sessions]))  # type: ignore[misc]
    print(json.dumps({"sessions": sessions, "mean_improvement_db": round(mean, 2)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
