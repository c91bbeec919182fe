"""Backends: choosing one, the HTTP backend's task view, aligning results, run_job."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from deecho.api import DeechoClient
from deecho.backends import get_backend
from deecho.backends.align import aligned_blocks, match_channels, measure_alignment
from deecho.backends.http import HttpBackend
from deecho.backends.job import run_job
from deecho.backends.local import LocalBackend
from deecho.config import Settings
from deecho.errors import (
    AuthenticationError,
    CancelledError,
    InsufficientCreditsError,
    ResultMismatchError,
    TaskFailedError,
    UsageError,
)
from deecho.pipeline import ProcessRequest
from stubs.musicgpt import MusicGPTStub, Reply

KEY = "stub-key"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def settings(**values: Any) -> Settings:
    """Settings from the arguments (the autouse fixture hides the user's file and keys)."""
    return Settings(**values)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DEECHO_API_KEY", "DEECHO_MUSICGPT_API_KEY", "DEECHO_POLL_INTERVAL_S"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEECHO_CONFIG_FILE", str(tmp_path / "no-config.toml"))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def stub() -> Iterator[MusicGPTStub]:
    with MusicGPTStub(api_key=KEY) as running:
        yield running


@pytest.fixture
def backend(stub: MusicGPTStub) -> HttpBackend:
    clock = FakeClock()
    client = DeechoClient(
        stub.base_url, KEY, service="MusicGPT", sleep=clock.sleep, clock=clock, timeout=10
    )
    return HttpBackend("musicgpt", client)


def speech(seconds: float = 3.0) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(SAMPLES / "speech_echo.wav", dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio.T[:, : int(seconds * rate)]), int(rate)


@pytest.fixture
def take(tmp_path: Path) -> Path:
    audio, rate = speech(3.0)
    stereo = np.stack([audio[0], 0.5 * audio[0]])
    path = tmp_path / "take.wav"
    sf.write(path, stereo.T, rate, subtype="FLOAT")
    return path


# ---- choosing a backend ----------------------------------------------------------------------


def test_local_is_the_in_process_engine() -> None:
    backend = get_backend("local", settings())
    assert isinstance(backend, LocalBackend) and backend.name == "local"


def test_musicgpt_without_a_key_says_which_variable_to_set() -> None:
    with pytest.raises(AuthenticationError) as caught:
        get_backend("musicgpt", settings())
    assert "DEECHO_MUSICGPT_API_KEY" in str(caught.value)


def test_musicgpt_uses_the_configured_base_url_and_never_polls_faster_than_3_s() -> None:
    chosen = get_backend(
        "musicgpt",
        settings(musicgpt_api_key="k", musicgpt_base_url="http://127.0.0.1:9/api/public/v1"),
        poll_interval_s=0.1,
    )
    assert isinstance(chosen, HttpBackend)
    assert chosen.client.base_url == "http://127.0.0.1:9/api/public/v1"
    assert chosen.client.api_key == "k"
    assert chosen.client.min_poll_interval_s == 3.0


def test_musicgpt_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEECHO_MUSICGPT_API_KEY", "from-env")
    chosen = get_backend("musicgpt", Settings())
    assert isinstance(chosen, HttpBackend) and chosen.client.api_key == "from-env"


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api/public/v1"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/api/public/v1"),
        ("https://studio.lan:8443/api/public/v1", "https://studio.lan:8443/api/public/v1"),
        ("http://host/deecho", "http://host/deecho/api/public/v1"),
    ],
)
def test_server_url_gets_the_contract_base_path(url: str, base: str) -> None:
    chosen = get_backend(url, settings(api_key="server-key"), poll_interval_s=0.5)
    assert isinstance(chosen, HttpBackend)
    assert chosen.client.base_url == base
    assert chosen.client.min_poll_interval_s == 0.5
    assert chosen.name == url.rstrip("/")


def test_server_key_prefers_the_workspace_key() -> None:
    both = settings(api_key="env-key", workspace={"server_api_key": "workspace-key"})
    chosen = get_backend("http://127.0.0.1:8000", both)
    assert isinstance(chosen, HttpBackend) and chosen.client.api_key == "workspace-key"


def test_loopback_server_key_read_from_its_data_folder(tmp_path: Path) -> None:
    (tmp_path / "api_key").write_text("generated-key\n")
    chosen = get_backend("http://localhost:8000", settings(server={"data_dir": tmp_path}))
    assert isinstance(chosen, HttpBackend) and chosen.client.api_key == "generated-key"


def test_remote_server_without_key_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "api_key").write_text("generated-key\n")
    with pytest.raises(AuthenticationError, match="set DEECHO_API_KEY"):
        get_backend("http://192.0.2.7:8000", settings(server={"data_dir": tmp_path}))


@pytest.mark.parametrize("name", ["Local", "ftp://host", "musicgtp", ""])
def test_unknown_backend_is_a_usage_error(name: str) -> None:
    with pytest.raises(UsageError, match="use local, musicgpt, or a deecho server URL"):
        get_backend(name, settings())


# ---- the HTTP backend's task view (what the TUI shows) ---------------------------------------


def test_submit_status_download_for_the_tui(
    stub: MusicGPTStub, backend: HttpBackend, take: Path, tmp_path: Path
) -> None:
    task = backend.submit(take)
    assert task.eta_s is None  # the vendor's -1
    assert task.credit_estimate == pytest.approx(0.48)
    assert task.status == "IN_QUEUE"

    states = [backend.status(task.task_id) for _ in range(3)]
    assert [s.status for s in states] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    assert not states[1].done and states[2].succeeded
    assert states[2].no_echo_url.endswith("_noecho.mp3")

    path = backend.download(states[2], tmp_path)
    assert path == tmp_path / "no_echo.mp3"
    assert sf.info(path).frames > 0


def test_known_eta_is_kept(stub: MusicGPTStub, backend: HttpBackend, take: Path) -> None:
    stub.eta = 59
    assert backend.submit(take).eta_s == 59


def test_process_reports_progress_from_upload_to_download(
    backend: HttpBackend, take: Path, tmp_path: Path
) -> None:
    seen: list[tuple[float, str]] = []
    result = backend.process(take, tmp_path, lambda f, s: seen.append((f, s)))

    assert result.exists()
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    stages = [stage for _, stage in seen]
    assert stages[0] == "uploading" and "in progress" in stages and "downloading" in stages
    assert any(stage.startswith("queued ") for stage in stages)  # names the task id


# ---- alignment, known answers ----------------------------------------------------------------


def _write(path: Path, audio: np.ndarray, rate: int) -> Path:
    sf.write(path, audio.T, rate, subtype="FLOAT")
    return path


@pytest.mark.parametrize("delay", [0, 1105, 2257, -300])
def test_measure_alignment_finds_a_known_delay(delay: int, tmp_path: Path) -> None:
    audio, rate = speech(6.0)
    result = np.pad(audio, ((0, 0), (delay, 0))) if delay >= 0 else audio[:, -delay:]
    noisy = result + np.random.default_rng(1).normal(0, 0.01, result.shape).astype(np.float32)
    sent = _write(tmp_path / "sent.wav", audio, rate)
    alignment = measure_alignment(sent, _write(tmp_path / "result.wav", noisy, rate))
    assert alignment.offset_samples == delay and alignment.drift_ppm == 0
    assert alignment.correlation is not None and alignment.correlation > 0.9


def test_measure_alignment_refuses_unrelated_audio(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    sent = _write(tmp_path / "sent.wav", rng.normal(size=(1, 88200)).astype(np.float32), 44100)
    other = _write(tmp_path / "other.wav", rng.normal(size=(1, 88200)).astype(np.float32), 44100)
    with pytest.raises(ResultMismatchError, match="does not match the audio sent"):
        measure_alignment(sent, other)


def test_measure_alignment_finds_drift_from_both_ends(tmp_path: Path) -> None:
    """A result whose clock runs 50 ppm long: the lags at the start and the end differ."""
    from fractions import Fraction

    from deecho.compare.resample import stretch

    audio, rate = speech(12.0)
    take = np.tile(audio, (1, 5))[:, : 50 * rate]  # 50 s: excerpts at both ends
    ratio = Fraction(1_000_000, 1_000_050)
    frames = int(take.shape[1] / float(ratio))
    slow = stretch(take, ratio, -300.0 * float(ratio), frames, sharp=True)
    sent = _write(tmp_path / "sent.wav", take, rate)
    alignment = measure_alignment(sent, _write(tmp_path / "slow.wav", slow, rate))
    assert alignment.drift_ppm == pytest.approx(50.0, abs=1.0)
    assert alignment.offset_samples == pytest.approx(300.0, abs=0.5)


@pytest.mark.parametrize("offset", [-7, 0, 5])
@pytest.mark.parametrize("frames", [10, 23, 40])
def test_aligned_blocks_trim_and_pad_to_exact_length(
    offset: int, frames: int, tmp_path: Path
) -> None:
    from deecho.backends.align import Alignment

    source = np.arange(1, 21, dtype=np.float32)[None, :] / 32  # 20 samples
    result = _write(tmp_path / "result.wav", source, 8000)
    alignment = Alignment(float(offset), 0.0, 1.0, 8000, 8000, 1, 20, frames)
    blocks = list(aligned_blocks(result, alignment, 1, block_frames=6))

    joined = np.concatenate(blocks, axis=1)[0]
    expected = np.zeros(frames, np.float32)
    for n in range(frames):
        position = n + offset
        if 0 <= position < 20:
            expected[n] = (position + 1) / 32
    np.testing.assert_array_equal(joined, expected)
    assert all(b.shape[1] == 6 for b in blocks[:-1])


def test_match_channels() -> None:
    mono = np.ones((1, 4), np.float32)
    stereo = np.stack([np.ones(4), 3 * np.ones(4)]).astype(np.float32)
    assert match_channels(mono, 2).shape == (2, 4)
    np.testing.assert_array_equal(match_channels(stereo, 1), 2 * np.ones((1, 4)))
    assert match_channels(stereo, 3)[2, 0] == 3


# ---- run_job on a remote backend --------------------------------------------------------------


def test_remote_job_writes_what_the_local_engine_writes(
    stub: MusicGPTStub, backend: HttpBackend, take: Path, tmp_path: Path
) -> None:
    stub.result_delay_frames = 1105  # an MP3 whose decoder kept the encoder delay
    remote = run_job(
        ProcessRequest(
            input=take,
            output=tmp_path / "remote.wav",
            echo_output=tmp_path / "remote.echo.wav",
        ),
        backend,
    )
    local = run_job(
        ProcessRequest(
            input=take, output=tmp_path / "local.wav", echo_output=tmp_path / "local.echo.wav"
        ),
        LocalBackend(),
    )

    remote_json, local_json = remote.to_dict(), local.to_dict()
    assert remote_json.keys() == local_json.keys()
    assert remote_json["backend"] == "musicgpt"
    json.dumps(remote_json)
    for key in ("duration_s", "sample_rate", "channels", "start_s", "gain_db", "strength"):
        assert remote_json[key] == local_json[key]
    source, rate = sf.read(take, dtype="float32", always_2d=True)
    no_echo, no_echo_rate = sf.read(tmp_path / "remote.wav", dtype="float32", always_2d=True)
    echo, _ = sf.read(tmp_path / "remote.echo.wav", dtype="float32", always_2d=True)
    assert no_echo.shape == source.shape and no_echo_rate == rate
    assert sf.info(tmp_path / "remote.wav").subtype == sf.info(tmp_path / "local.wav").subtype
    np.testing.assert_allclose(source - no_echo, echo, atol=1e-6)
    # The stub returns the input itself (as MP3): once aligned, little is left over.
    residual_db = 10 * np.log10(np.sum(echo**2) / np.sum(source**2))
    assert residual_db < -20, residual_db
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_remote_job_honours_prep_and_strength(
    stub: MusicGPTStub, backend: HttpBackend, take: Path, tmp_path: Path
) -> None:
    from deecho.audio.prep import PrepOptions

    stub.result_gain = 0.0  # a service that removes everything: no_echo is silence
    result = run_job(
        ProcessRequest(
            input=take,
            output=tmp_path / "out.wav",
            prep=PrepOptions(start_s=0.5, end_s=2.5, normalize_peak_dbfs=-6.0),
            strength=0.25,
        ),
        backend,
    )
    out, rate = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    assert result.start_s == pytest.approx(0.5) and out.shape[0] == 2 * rate
    # 25% strength keeps three quarters of the prepped input (peak -6 dBFS).
    assert 20 * np.log10(np.abs(out).max()) == pytest.approx(-6.0 + 20 * np.log10(0.75), abs=0.1)
    uploaded = stub.tasks[next(iter(stub.tasks))].upload
    assert uploaded is not None and sf.info(io.BytesIO(uploaded)).frames == 2 * rate


def test_failed_task_writes_nothing(
    stub: MusicGPTStub, backend: HttpBackend, take: Path, tmp_path: Path
) -> None:
    stub.progression = ["IN_PROGRESS", "FAILED"]
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(TaskFailedError):
        run_job(ProcessRequest(input=take, output=out / "x.wav"), backend)
    assert list(out.iterdir()) == []


def test_402_writes_nothing(
    stub: MusicGPTStub, backend: HttpBackend, take: Path, tmp_path: Path
) -> None:
    body = {"success": False, "error": "Insufficient credits", "required_credits": 2}
    stub.submit_replies.append(Reply(402, body))
    with pytest.raises(InsufficientCreditsError):
        run_job(ProcessRequest(input=take, output=tmp_path / "x.wav"), backend)
    assert not (tmp_path / "x.wav").exists()


def test_cancel_while_waiting_writes_nothing(
    stub: MusicGPTStub, backend: HttpBackend, take: Path, tmp_path: Path
) -> None:
    stub.progression = ["IN_QUEUE", "IN_PROGRESS"]
    polls = {"n": 0}

    def cancelled() -> bool:
        polls["n"] = sum(1 for r in stub.requests if r.path.endswith("/byId"))
        return polls["n"] >= 2

    with pytest.raises(CancelledError):
        run_job(ProcessRequest(input=take, output=tmp_path / "x.wav"), backend, cancelled=cancelled)
    assert not (tmp_path / "x.wav").exists()
    assert polls["n"] == 2


def test_local_backend_task_view_runs_the_engine(take: Path, tmp_path: Path) -> None:
    backend = LocalBackend()
    try:
        task = backend.submit(take)
        assert task.credit_estimate is None and task.eta_s is None
        seen = []
        deadline = time.monotonic() + 120
        while not (state := backend.status(task.task_id)).done and time.monotonic() < deadline:
            seen.append(state.status)
            time.sleep(0.05)
        assert set(seen) <= {"IN_QUEUE", "IN_PROGRESS"}
        assert state.succeeded and state.progress == 1.0
        path = backend.download(state, tmp_path)
        assert sf.info(path).frames == sf.info(take).frames
    finally:
        backend.close()


def test_local_backend_cancel_ends_the_task_failed(take: Path) -> None:
    backend = LocalBackend()
    try:
        task = backend.submit(take)
        backend.cancel(task.task_id)
        deadline = time.monotonic() + 120
        while not (state := backend.status(task.task_id)).done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.status == "FAILED" and "cancelled" in state.message
    finally:
        backend.close()
