"""The engine's public flow: pick excerpts, analyze them, then cancel echoes block by block.

analyze() looks only at bounded excerpts of a file (so memory and time stay flat for hour-long
files) and returns an EchoPlan; EchoCanceller streams any number of blocks through the plan's
inverse filters (echo cancellation, then late-reverb suppression) with carried state, so a file
processed in chunks gives the same samples as the whole array at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from .comb_filter import EchoFamily
from .drr import direct_to_reverberant_db
from .echo_filter import MIX, ChannelModel, EchoInverse, TapRun
from .echo_fit import fit_echo_models
from .echo_report import describe_echoes
from .echo_search import find_echo_families
from .parallel import each_at_once, run_ahead
from .report import Amounts, Echo, EngineReport
from .reverb import ReverbPlan, analyze_reverb
from .reverb_stream import ReverbSuppressor
from .rt60 import estimate_rt60
from .whitening import likeliest

# Excerpts: a file up to this long is analyzed whole; a longer one through a few spread spans
# (analysis time and memory then do not depend on the file's length).
WHOLE_FILE_MAX_S = 30.0
EXCERPT_S = 10.0
EXCERPT_COUNT = 3
# The most audio analyze() reads of one file, however long (excerpt_spans): past it, a longer
# file costs only its streamed pass (the server's eta model caps the analysis cost here).
ANALYSIS_MAX_S = max(WHOLE_FILE_MAX_S, EXCERPT_S * EXCERPT_COUNT)
# rt60 "after" is measured on at most this much of the cleaned excerpts (it costs a reverb pass).
RT60_AFTER_MAX_S = 20.0
# Two channels' cepstral families count as "the same" within these tolerances.
SAME_LAG_SAMPLES = 2
SAME_GAIN = 0.05
# fit_room: how many of the longest excerpts are also fitted alone, as candidates.
ROOM_CANDIDATES = 8


@dataclass(frozen=True)
class EchoPlan:
    """What analyze() found: each channel's echo model and the reverb plan (picklable)."""

    sample_rate: int
    channels: int
    amounts: Amounts
    models: tuple[ChannelModel, ...]  # per channel: the echo taps to cancel
    reverb_plan: ReverbPlan | None = None  # None: no reverb suppression
    report: EngineReport = field(default_factory=EngineReport)


@dataclass(frozen=True)
class Room:
    """The echo model of one place, fitted once on excerpts pooled from many recordings
    made there (`fit_room`), for `analyze(..., room=)` to apply to each of them: clips too
    short to show a long echo on their own show it together (picklable)."""

    sample_rate: int
    models: tuple[ChannelModel, ...]

    @property
    def echoes(self) -> list[Echo]:
        return describe_echoes(self.models, self.sample_rate)


@dataclass
class EngineResult:
    no_echo: np.ndarray
    echo: np.ndarray
    report: EngineReport


def excerpt_spans(total_frames: int, sample_rate: int) -> list[tuple[int, int]]:
    """Frame ranges [start, stop) to read and pass to analyze(): at most 30 s in all."""
    if total_frames <= 0:
        return []
    if total_frames <= WHOLE_FILE_MAX_S * sample_rate:
        return [(0, total_frames)]
    length = int(EXCERPT_S * sample_rate)
    last_start = total_frames - length
    starts = np.linspace(0, last_start, EXCERPT_COUNT).round().astype(int)
    return [(int(start), int(start) + length) for start in starts]


def fit_room(excerpts: Sequence[np.ndarray], sample_rate: int) -> Room:
    """The echo model of the place all `excerpts` (of many recordings) were made in.

    Candidates: the search and fit of `analyze` over all excerpts at once, the same on
    each of the longest few alone, and no echo; the one that leaves the most plausible
    dry signal over all the excerpts (`whitening.likeliest`) is the room's. Measured on
    clips of 2-4 s, the fit over all at once is not always the best: each clip's start
    hears echoes of audio it does not hold, and its shortest clip bounds the train.
    """
    blocks = _blocks(excerpts)
    if not blocks:
        return Room(sample_rate, ((),))
    channels = blocks[0].shape[0]
    longest = sorted(blocks, key=lambda block: block.shape[-1], reverse=True)
    candidates = [_echo_models(blocks, sample_rate)]
    candidates += [_echo_models([block], sample_rate) for block in longest[:ROOM_CANDIDATES]]
    candidates = [models for models in candidates if any(models)]
    candidates.append(tuple(() for _ in range(channels)))
    with threadpool_limits(limits=1, user_api="blas"):
        chosen = likeliest(candidates, blocks, sample_rate)
    return Room(sample_rate, tuple(chosen))


def _blocks(excerpts: Sequence[np.ndarray]) -> list[np.ndarray]:
    blocks = [np.atleast_2d(np.asarray(excerpt, dtype=np.float32)) for excerpt in excerpts]
    return [block for block in blocks if block.shape[-1] > 0]


def analyze(
    excerpts: Sequence[np.ndarray],
    sample_rate: int,
    amounts: Amounts | float = 1.0,
    room: Room | None = None,
) -> EchoPlan:
    """Find the echoes (and the reverb to suppress) in excerpts of one recording.

    `amounts` says how much echo and reverb to remove; a float is both at once (strength).
    With `room`, its echo model is taken instead of searching these excerpts alone (the
    reverb is still read from them).
    """
    if not isinstance(amounts, Amounts):
        amounts = Amounts.both(float(np.clip(amounts, 0.0, 1.0)))
    blocks = _blocks(excerpts)
    channels = blocks[0].shape[0] if blocks else 1
    if room is None:
        models = _echo_models(blocks, sample_rate)
    elif room.sample_rate != sample_rate:
        raise ValueError(f"room fitted at {room.sample_rate} Hz, audio is at {sample_rate} Hz")
    else:
        models = room.models if len(room.models) == channels else _spread(room.models, channels)
    echo_plan = EchoPlan(sample_rate, channels, amounts, models)
    # The room is read from echo-free excerpts whatever echo amount was asked for: an echo
    # left in would look like part of the room's response.
    echo_free_plan = EchoPlan(sample_rate, channels, Amounts(echo=1.0), models)
    echo_free = [_cancel_whole(echo_free_plan, block) for block in blocks]
    reverb_plan = _analyze_reverb(echo_free, sample_rate, amounts.reverb)
    if amounts.echo == 1.0:
        cleaned = echo_free
    else:
        cleaned = [_cancel_whole(echo_plan, block) for block in blocks]
    rt60_before = _rt60(blocks, sample_rate)
    removed_db = 0.0
    drr: tuple[float | None, float | None] = (None, None)
    if reverb_plan is not None:
        no_echoes: tuple[ChannelModel, ...] = tuple(() for _ in range(channels))
        reverb_only = EchoPlan(sample_rate, channels, amounts, no_echoes, reverb_plan)
        head = _head(cleaned, sample_rate)
        after = [_cancel_whole(reverb_only, block) for block in head]
        rt60_after = _rt60(after, sample_rate)
        removed_db = _removed_db(head, after)
        drr = direct_to_reverberant_db(head, after, reverb_plan)
    else:
        rt60_after = _rt60(cleaned, sample_rate) if any(models) else rt60_before
    report = EngineReport(
        echoes=describe_echoes(models, sample_rate),
        rt60_before_s=rt60_before,
        rt60_after_s=rt60_after,
        amounts=amounts,
        reverb_removed_db=removed_db,
        drr_before_db=drr[0],
        drr_after_db=drr[1],
    )
    return EchoPlan(sample_rate, channels, amounts, models, reverb_plan, report)


def _removed_db(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> float:
    """Energy taken out, in dB (0 when nothing was)."""
    energy_before = sum(float(np.sum(np.square(block, dtype=np.float64))) for block in before)
    energy_after = sum(float(np.sum(np.square(block, dtype=np.float64))) for block in after)
    if energy_before <= 0.0 or energy_after <= 0.0:
        return 0.0
    return max(0.0, 10.0 * float(np.log10(energy_before / energy_after)))


def _echo_models(blocks: list[np.ndarray], sample_rate: int) -> tuple[ChannelModel, ...]:
    """Cepstral search per channel (and in the mono mix), then the least-squares fit."""
    # The fit's Gram matrices are a few hundred columns wide: BLAS threads only fight over
    # them, and on a busy 2-core machine they made a stereo fit twenty times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        return _search_and_fit(blocks, sample_rate)


def _search_and_fit(blocks: list[np.ndarray], sample_rate: int) -> tuple[ChannelModel, ...]:
    if not blocks:
        return ((),)
    channels = blocks[0].shape[0]
    families = each_at_once(
        lambda channel: find_echo_families([block[channel] for block in blocks], sample_rate),
        range(channels),
    )
    cross = channels > 1 and not _alike(families)
    mono: list[EchoFamily] = []
    if cross:  # channels differ (ping-pong?): the mix shows the whole echo train
        mono = find_echo_families([block.mean(axis=0) for block in blocks], sample_rate)
    if not any(families) and not mono:
        return tuple(() for _ in range(channels))
    if not cross:
        return tuple(fit_echo_models(blocks, sample_rate, families, mono, cross_channel=False))
    # Channels that found different echoes are either ping-pong (each hears echoes of the
    # mix) or independent per-channel delays that the music's own structure made look
    # different. Fit both and keep the one that leaves the more plausible dry signal.
    of_mix = tuple(fit_echo_models(blocks, sample_rate, families, mono, cross_channel=True))
    of_own = tuple(fit_echo_models(blocks, sample_rate, families, mono, cross_channel=False))
    return tuple(likeliest([of_mix, of_own], blocks, sample_rate))


def _alike(families: list[list[EchoFamily]]) -> bool:
    """Every channel found the same echoes (then each channel is cleaned from itself)."""
    first = families[0]
    return all(
        len(other) == len(first) and all(_twin(family, other) is not None for family in first)
        for other in families[1:]
    )


class EchoCanceller:
    """Streams blocks through a plan: echo cancellation, then late-reverb suppression."""

    def __init__(self, plan: EchoPlan, sample_rate: int, channels: int) -> None:
        if sample_rate != plan.sample_rate:
            raise ValueError(
                f"plan was made at {plan.sample_rate} Hz, audio is at {sample_rate} Hz"
            )
        self.plan = plan
        self.channels = channels
        self.echo_amount = plan.amounts.echo
        models = plan.models if len(plan.models) == channels else _spread(plan.models, channels)
        self.inverse = EchoInverse(models, channels)
        self.active = self.echo_amount > 0.0 and any(models)

    def run(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        echo_free = self._cancel_echoes(blocks)
        if self.plan.reverb_plan is None or self.plan.amounts.reverb <= 0.0:
            return echo_free
        suppressor = ReverbSuppressor(self.plan.reverb_plan, self.plan.sample_rate, self.channels)
        return iter(suppressor.run(run_ahead(echo_free) if self.active else echo_free))

    def _cancel_echoes(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            audio = np.atleast_2d(np.asarray(block, dtype=np.float32))
            if audio.shape[0] != self.channels:
                raise ValueError(f"expected {self.channels} channels, got {audio.shape[0]}")
            if not self.active:
                yield audio
                continue
            dry = self.inverse.process(audio.astype(np.float64))
            # the echo amount blends toward the input: 0 leaves it untouched, 1 removes it all.
            yield (audio + self.echo_amount * (dry - audio)).astype(np.float32)


def remove_echo(
    audio: np.ndarray, sample_rate: int, amounts: Amounts | float = 1.0
) -> EngineResult:
    """Whole-array convenience: analyze excerpts of `audio`, then cancel; echo = audio - no_echo."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    spans = excerpt_spans(audio.shape[-1], sample_rate)
    plan = analyze([audio[:, start:stop] for start, stop in spans], sample_rate, amounts)
    no_echo = _cancel_whole(plan, audio)
    return EngineResult(no_echo=no_echo, echo=audio - no_echo, report=plan.report)


def estimate_echoes(audio: np.ndarray, sample_rate: int) -> list[Echo]:
    """The echoes found in `audio` (no cancellation, no reverb analysis)."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    spans = excerpt_spans(audio.shape[-1], sample_rate)
    models = _echo_models([audio[:, start:stop] for start, stop in spans], sample_rate)
    return describe_echoes(models, sample_rate)


def _cancel_whole(plan: EchoPlan, audio: np.ndarray) -> np.ndarray:
    canceller = EchoCanceller(plan, plan.sample_rate, audio.shape[0])
    parts = list(canceller.run([audio]))
    if not parts:
        return np.zeros_like(audio)
    return np.concatenate(parts, axis=1)


def _twin(family: EchoFamily, others: list[EchoFamily]) -> EchoFamily | None:
    for other in others:
        if (
            abs(other.lag - family.lag) <= SAME_LAG_SAMPLES
            and abs(other.first_repeat_gain - family.first_repeat_gain) <= SAME_GAIN
        ):
            return other
    return None


def _spread(models: tuple[ChannelModel, ...], channels: int) -> tuple[ChannelModel, ...]:
    """A plan made on other channels: reuse the first channel's self-echo model everywhere."""
    own = tuple(run for run in models[0] if run.source in (0, MIX)) if models else ()
    return tuple(
        tuple(TapRun(channel, run.lag, run.kernel) for run in own) for channel in range(channels)
    )


def _rt60(blocks: Sequence[np.ndarray], sample_rate: int) -> float | None:
    if not blocks:
        return None
    return estimate_rt60(np.concatenate(list(blocks), axis=1), sample_rate)


def _head(blocks: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
    """The first RT60_AFTER_MAX_S seconds of the excerpts."""
    budget = int(RT60_AFTER_MAX_S * sample_rate)
    head: list[np.ndarray] = []
    for block in blocks:
        if budget <= 0:
            break
        head.append(block[:, :budget])
        budget -= head[-1].shape[-1]
    return head


def _analyze_reverb(
    cleaned: list[np.ndarray], sample_rate: int, amount: float
) -> ReverbPlan | None:
    if amount <= 0.0 or not cleaned:
        return None
    return analyze_reverb(cleaned, sample_rate, amount)
