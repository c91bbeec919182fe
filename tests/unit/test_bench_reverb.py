"""Known-answer tests of the reverb bench's yardsticks and effects (bench/oracle.py,
bench/reverb_cases.py, bench/recordings.py); none needs the recordings' Debian packages."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pedalboard
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import oracle, recordings, reverb_cases  # noqa: E402
from bench.cases import CaseAudio  # noqa: E402
from bench.metrics import si_sdr  # noqa: E402

RATE = 44100


def tones(seconds: float = 3.0) -> np.ndarray:
    """Two sustained partials with a slow tremolo: sparse in time-frequency, like a held note."""
    t = np.arange(round(seconds * RATE)) / RATE
    tremolo = 1.0 + 0.3 * np.sin(2 * np.pi * 3.0 * t)
    return (tremolo * (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1320 * t)))[None, :]


def test_the_ideal_mask_of_a_clean_input_changes_nothing() -> None:
    reference = tones()
    for form in ("power", "magnitude"):
        # A scaled copy too: the reference is placed by least squares before the mask.
        for wet in (reference, 0.4 * reference):
            # Equal up to the STFT round trip and the guard against 0/0 in empty bins.
            assert si_sdr(oracle.masked(wet, reference, form), wet) > 60.0


def test_the_ideal_mask_takes_uncorrelated_noise_off() -> None:
    reference = tones()
    noise = np.random.default_rng(0).standard_normal(reference.shape)
    noise *= np.sqrt(np.sum(reference**2) / np.sum(noise**2))  # 0 dB SNR
    wet = reference + noise
    assert si_sdr(wet, reference) == pytest.approx(0.0, abs=0.1)
    found = oracle.ideal_mask_gain(wet, reference)
    # White noise spreads over every bin while the tones sit in a few: the mask keeps
    # the tones' bins and drops the rest, far more than 10 dB.
    assert found.gain_db > 10.0
    assert found.form in ("power", "magnitude")


def test_schroeder_t30_finds_a_known_exponential_decay() -> None:
    rt60 = 0.8
    t = np.arange(round(2.0 * RATE)) / RATE
    impulse_response = np.random.default_rng(1).standard_normal(t.size) * 10 ** (-3 * t / rt60)
    assert oracle.schroeder_rt60(impulse_response, RATE) == pytest.approx(rt60, rel=0.03)


def test_schroeder_refuses_a_response_that_does_not_decay() -> None:
    with pytest.raises(ValueError, match="decay"):
        oracle.schroeder_rt60(np.ones(1000), RATE)


@pytest.mark.parametrize(
    "make",
    [reverb_cases.freeverb(0.6, 0.35, 1.0), reverb_cases.sox_reverb(50)],
    ids=["freeverb", "sox"],
)
def test_the_algorithmic_reverbs_keep_the_dry_path_on_time(
    make: Callable[[np.ndarray], CaseAudio],
) -> None:
    """The reference for these cases is the dry source on the same time axis: checked here."""
    impulse = np.zeros((1, RATE), dtype=np.float32)
    impulse[0, 1000] = 1.0
    wet, reference, rate = make(impulse)
    assert rate == RATE
    assert int(np.argmax(np.abs(wet[0]))) == 1000 == int(np.argmax(np.abs(reference[0])))
    assert np.any(np.abs(wet[0, 1100:]) > 1e-4)  # and there is a reverb tail after it


def test_midi_numbers_use_the_variable_length_encoding() -> None:
    assert recordings._variable_length(0) == b"\x00"
    assert recordings._variable_length(0x7F) == b"\x7f"
    assert recordings._variable_length(0x80) == b"\x81\x00"
    assert recordings._variable_length(0x3FFF) == b"\xff\x7f"
    midi = recordings.midi_file(recordings.FLUTE, [(0.0, 1.0, 72, 90)])
    assert midi.startswith(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xf4MTrk")
    assert midi.endswith(b"\xff\x2f\x00")


def test_every_reverb_case_has_a_unique_name_and_the_quick_set_exists() -> None:
    names = [case.name for case in reverb_cases.reverb_cases()]
    assert len(names) == len(set(names))
    assert {case.name for case in reverb_cases.reverb_cases(quick=True)} == set(reverb_cases.QUICK)
    # Every chain can be read against the same delay without its reverb.
    for name in names:
        if name.startswith("chain_"):
            assert name.replace("chain_", "echo_only_", 1) in names


def test_the_found_column_reads_deechos_json_report() -> None:
    from bench import reverb

    stdout = (
        "progress line\n"
        '{"report": {"echoes": [{"delay_ms": 250.0, "gain": 0.43, "feedback": 0.3}], '
        '"rt60_before_s": 0.5, "rt60_after_s": 0.4, "reverb_removed_db": 3.2, '
        '"drr_before_db": 1.0, "drr_after_db": 4.0}}'
    )
    assert reverb._found(stdout) == (
        "250ms x0.43 fb0.30; RT60 0.50→0.40s; reverb −3.2 dB; DRR 1.0→4.0 dB"
    )
    assert reverb._report_number(stdout, "rt60_before_s") == 0.5
    assert reverb._report_number("not json", "rt60_before_s") is None


def test_saved_results_load_back_as_they_were(tmp_path: Path) -> None:
    import json
    from dataclasses import asdict

    from bench import reverb
    from bench.engine import Score

    result = reverb.ReverbResult(
        "room_voice_rt0.4", "room", "voice", "voice", "room", 1, 10.1, 4.8, "power",
        {"deecho": Score(si_sdr=14.7, gain=4.6, seconds=2.2, found="RT60 0.42→0.35s")},
        rt60_measured_s=0.43, rt60_deecho_s=0.42, rt60_blind_rt60_s=0.6,
    )  # fmt: skip
    path = tmp_path / "results.json"
    path.write_text(json.dumps([asdict(result)]))
    assert reverb.load_results(path) == [result]
    assert reverb.rt60_rows([result])[0][3] == "-2 %"


def test_a_chain_without_its_delay_is_the_reverb_of_the_source() -> None:
    # The delay and Freeverb commute: delaying the echo-free reference gives the chain.
    rng = np.random.default_rng(3)
    source = (0.1 * rng.standard_normal((2, recordings.RATE))).astype(np.float32)
    source[:, recordings.RATE // 2 :] = 0.0  # half a second of tail room
    chain_input, _, _ = reverb_cases.delay_into_reverb(with_reverb=True)(source)
    echo_free = reverb_cases.reverb_without_delay(source)
    delayed = pedalboard.Delay(**reverb_cases.CHAIN_DELAY)(echo_free, recordings.RATE)
    assert si_sdr(delayed, chain_input) > 40.0
    assert si_sdr(echo_free, chain_input) < 15.0  # and the delay is really there
