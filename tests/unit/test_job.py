"""One job path on any backend: results lined up whatever the service sends back.

A vendor-shaped stub (tests/stubs/musicgpt.py) plays a service that removes the
echo perfectly, i.e. sends back the known dry take, but starts it 800 samples
late or early, as WAV or MP3, at the upload's rate or at 48 kHz. The saved
no_echo must be the dry take on the overlap, and echo = take − no_echo exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aligned_cases import MP3_BAND_HZ, SAMPLES, dry_and_take, read, saved_against_dry
from deecho.api import DeechoClient
from deecho.backends.base import JobStatus
from deecho.backends.http import HttpBackend
from deecho.backends.job import run_job
from deecho.backends.local import LocalBackend
from deecho.compare.metrics import si_sdr_db
from deecho.errors import ResultMismatchError
from deecho.kinds import JobState
from deecho.pipeline import ProcessRequest
from stubs.musicgpt import MusicGPTStub

KEY = "stub-key"


@pytest.fixture
def stub() -> Iterator[MusicGPTStub]:
    with MusicGPTStub(api_key=KEY) as running:
        yield running


def fast_backend(stub: MusicGPTStub) -> HttpBackend:
    client = DeechoClient(
        stub.base_url, KEY, service="MusicGPT", min_poll_interval_s=0.01, max_poll_interval_s=0.02
    )
    return HttpBackend("musicgpt", client)


CASES = [
    pytest.param("mono", "wav", 800, None, id="mono-wav-late"),
    pytest.param("mono", "wav", -800, None, id="mono-wav-early"),
    pytest.param("mono", "mp3", 800, None, id="mono-mp3-late"),
    pytest.param("mono", "mp3", -800, None, id="mono-mp3-early"),
    pytest.param("mono", "wav", 800, 48000, id="mono-wav-late-48k"),
    pytest.param("stereo", "wav", 800, None, id="stereo-wav-late"),
    pytest.param("stereo", "wav", -800, None, id="stereo-wav-early"),
    pytest.param("stereo", "mp3", 800, None, id="stereo-mp3-late"),
    pytest.param("stereo", "mp3", -800, None, id="stereo-mp3-early"),
    pytest.param("stereo", "wav", 800, 48000, id="stereo-wav-late-44k1-to-48k"),
    pytest.param("stereo", "wav", -800, 48000, id="stereo-wav-early-44k1-to-48k"),
    pytest.param("stereo", "mp3", 800, 48000, id="stereo-mp3-late-44k1-to-48k"),
    pytest.param("stereo", "mp3", -800, 48000, id="stereo-mp3-early-44k1-to-48k"),
]


@pytest.mark.parametrize(("kind", "fmt", "offset", "result_rate"), CASES)
def test_shifted_results_are_saved_in_place(
    stub: MusicGPTStub,
    tmp_path: Path,
    kind: str,
    fmt: str,
    offset: int,
    result_rate: int | None,
) -> None:
    dry, take, rate = dry_and_take(kind, tmp_path)
    stub.result_audio = (dry, rate)
    stub.result_delay_frames = offset
    stub.result_format = fmt
    stub.result_rate = result_rate
    no_echo, echo = tmp_path / "no_echo.wav", tmp_path / "echo.wav"

    result = run_job(
        ProcessRequest(input=take, output=no_echo, echo_output=echo), fast_backend(stub)
    )
    assert result.alignment is not None and result.alignment["measured"] is True

    alignment = result.alignment
    assert alignment is not None
    late = offset * rate / (result_rate or rate)  # the stub shifts after resampling
    assert alignment["offset_samples"] == pytest.approx(late, abs=2.0 if fmt == "mp3" else 0.5)
    band = MP3_BAND_HZ if fmt == "mp3" else None
    assert saved_against_dry(dry, take, no_echo, echo, alignment, band) >= 30.0


def test_the_shift_is_what_alignment_undoes(tmp_path: Path) -> None:
    """The known answer the cases above rest on: left 800 samples out, the dry take scores
    far below 30 dB, so a path that skipped the alignment would fail them."""
    dry, _, _ = dry_and_take("mono", tmp_path)
    shifted = np.pad(dry, ((0, 0), (800, 0)))[:, : dry.shape[1]]
    assert si_sdr_db(dry, shifted) < 0.0


def test_another_file_fails_clearly_and_saves_nothing(stub: MusicGPTStub, tmp_path: Path) -> None:
    _, take, _ = dry_and_take("mono", tmp_path)
    other, other_rate = read(SAMPLES / "music_dry.flac", 6.0)
    stub.result_audio = (other, other_rate)
    stub.result_format = "wav"
    out = tmp_path / "out"
    out.mkdir()
    request = ProcessRequest(input=take, output=out / "no_echo.wav", echo_output=out / "echo.wav")

    with pytest.raises(ResultMismatchError) as caught:
        run_job(request, fast_backend(stub))

    message = str(caught.value)
    assert "does not" in message and "nothing was saved" in message and "\n" not in message
    assert list(out.iterdir()) == []


def test_the_local_engine_takes_the_same_path(tmp_path: Path) -> None:
    _, take, _ = dry_and_take("mono", tmp_path)
    seen: list[JobStatus] = []
    no_echo, echo = tmp_path / "no_echo.wav", tmp_path / "echo.wav"
    backend = LocalBackend()
    try:
        result = run_job(
            ProcessRequest(input=take, output=no_echo, echo_output=echo), backend, seen.append
        )
    finally:
        backend.close()
    assert result.backend == "local" and result.report.echoes  # the engine's own findings
    # written on the input's own samples: taken as it is, not measured (a remote result is)
    assert result.alignment is not None and result.alignment["offset_samples"] == 0.0
    assert result.alignment["measured"] is False
    original, _ = read(take)
    cleaned, _ = read(no_echo)
    removed, _ = read(echo)
    np.testing.assert_array_equal(original - cleaned, removed)
    states = [status.status for status in seen]
    assert states[0] == JobState.PREPARING and states[-1] == JobState.COMPLETED
    assert JobState.ALIGNING in states
    fractions = [status.fraction for status in seen if status.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
