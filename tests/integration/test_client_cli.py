"""`deecho process --backend musicgpt|URL` as a user runs it: a real subprocess, real HTTP.

MusicGPT is the loopback stub (tests/stubs/musicgpt.py) serving the vendor's
documented bodies; the server URL is a real `deecho serve` subprocess. Either
way the command must write the same files and print the same JSON shape as
the local engine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

from audio_fixtures import deecho_command, stop_process, tone_burst_signal
from stubs.musicgpt import MusicGPTStub, Reply

KEY = "stub-key"
RATE = 22050


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEECHO_")}
    env["DEECHO_CONFIG_FILE"] = str(tmp_path / "no-config.toml")
    env.update(extra)
    return env


def deecho(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*deecho_command(), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture
def take(tmp_path: Path) -> Path:
    audio = tone_burst_signal(RATE, 3.0, channels=2, seed=7)
    delay = int(0.12 * RATE)
    audio[:, delay:] += 0.5 * audio[:, :-delay]
    path = tmp_path / "take.wav"
    sf.write(path, audio.T, RATE, subtype="PCM_24")
    return path


@pytest.fixture
def stub() -> Iterator[MusicGPTStub]:
    with MusicGPTStub(api_key=KEY) as running:
        yield running


def test_musicgpt_backend_writes_the_same_files_and_json_as_local(
    stub: MusicGPTStub, take: Path, tmp_path: Path
) -> None:
    stub.progression = ["IN_PROGRESS", "COMPLETED"]  # two polls, 3 s apart
    stub.result_delay_frames = 1105  # MP3 decoded with its encoder delay left in
    env = env_for(tmp_path, DEECHO_MUSICGPT_BASE_URL=stub.base_url, DEECHO_MUSICGPT_API_KEY=KEY)
    remote_out, remote_echo = tmp_path / "remote.wav", tmp_path / "remote.echo.wav"
    local_out, local_echo = tmp_path / "local.wav", tmp_path / "local.echo.wav"

    remote = deecho(
        env, "process", take, "-o", remote_out, "--echo-output", remote_echo, "--json",
        "--backend", "musicgpt",
    )  # fmt: skip
    local = deecho(env, "process", take, "-o", local_out, "--echo-output", local_echo, "--json")

    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    remote_json, local_json = json.loads(remote.stdout), json.loads(local.stdout)
    assert remote_json.keys() == local_json.keys()
    assert remote_json["backend"] == "musicgpt" and local_json["backend"] == "local"
    assert remote_json["output"] == str(remote_out)
    for key in ("duration_s", "sample_rate", "channels"):
        assert remote_json[key] == local_json[key]
    for made, reference in ((remote_out, local_out), (remote_echo, local_echo)):
        a, b = sf.info(made), sf.info(reference)
        assert (a.samplerate, a.channels, a.frames, a.subtype) == (
            b.samplerate, b.channels, b.frames, b.subtype,
        )  # fmt: skip
    source, _ = sf.read(take, dtype="float32")
    no_echo, _ = sf.read(remote_out, dtype="float32")
    echo, _ = sf.read(remote_echo, dtype="float32")
    np.testing.assert_allclose(source - no_echo, echo, atol=1e-5)
    # Aligned despite the delay: what is left is the MP3's coding noise (about -18 dB on this
    # noisy signal); 1105 samples off, the difference would be as loud as the signal.
    assert 10 * np.log10(np.sum(echo**2) / np.sum(source**2)) < -12
    uploads = [r for r in stub.requests if r.method == "POST"]
    assert len(uploads) == 1 and uploads[0].headers["authorization"] == KEY


def test_musicgpt_without_key_exits_77_with_one_line(take: Path, tmp_path: Path) -> None:
    result = deecho(env_for(tmp_path), "process", take, "--backend", "musicgpt")

    assert result.returncode == 77
    assert result.stderr.strip().splitlines() == [
        "deecho: the musicgpt backend needs an API key; set DEECHO_MUSICGPT_API_KEY"
        " (or musicgpt_api_key in the settings file)"
    ]
    assert not take.with_name("take.no_echo.wav").exists()


def test_musicgpt_wrong_key_exits_77(stub: MusicGPTStub, take: Path, tmp_path: Path) -> None:
    env = env_for(tmp_path, DEECHO_MUSICGPT_BASE_URL=stub.base_url, DEECHO_MUSICGPT_API_KEY="wrong")
    result = deecho(env, "process", take, "--backend", "musicgpt")

    assert result.returncode == 77
    assert result.stderr.strip() == (
        "deecho: MusicGPT refused the API key (Authentication failed); set DEECHO_MUSICGPT_API_KEY"
    )


def test_musicgpt_out_of_credits_exits_69_and_writes_nothing(
    stub: MusicGPTStub, take: Path, tmp_path: Path
) -> None:
    stub.submit_replies.append(
        Reply(
            402,
            {
                "success": False,
                "error": "Insufficient credits for this operation",
                "required_credits": 4,
                "available_credits": 1.5,
            },
        )
    )
    env = env_for(tmp_path, DEECHO_MUSICGPT_BASE_URL=stub.base_url, DEECHO_MUSICGPT_API_KEY=KEY)
    result = deecho(env, "process", take, "--backend", "musicgpt")

    assert result.returncode == 69
    assert "needs more credits (this task needs 4, the account has 1.5)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.wav"]


# ---- against a live `deecho serve` -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = env_for(tmp_path, DEECHO_API_KEY="live-server-key-0123")
    server = subprocess.Popen(
        [*deecho_command(), "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/api/public/v1/byId", timeout=1)
                break
            except requests.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    _, errors = server.communicate(timeout=5)
                    pytest.fail(f"deecho serve did not start: {errors}")
                time.sleep(0.2)
        yield url, env
    finally:
        stop_process(server)


def test_server_url_backend_matches_the_local_engine(
    live_server: tuple[str, dict[str, str]], take: Path, tmp_path: Path
) -> None:
    url, env = live_server
    env = dict(env, DEECHO_POLL_INTERVAL_S="0.5")
    remote_out, local_out = tmp_path / "remote.wav", tmp_path / "local.wav"

    remote = deecho(env, "process", take, "-o", remote_out, "--json", "--backend", url)
    local = deecho(env, "process", take, "-o", local_out, "--json")

    assert remote.returncode == 0, remote.stderr
    remote_json, local_json = json.loads(remote.stdout), json.loads(local.stdout)
    assert remote_json.keys() == local_json.keys()
    assert remote_json["backend"] == url
    by_server, _ = sf.read(remote_out, dtype="float32")
    by_engine, _ = sf.read(local_out, dtype="float32")
    assert by_server.shape == by_engine.shape
    # The server runs the same engine on the same prepped audio: the results agree.
    difference_db = 10 * np.log10(
        np.sum((by_server - by_engine) ** 2) / np.sum(by_engine**2) + 1e-20
    )
    assert difference_db < -40, difference_db


def test_server_url_backend_with_wrong_key_exits_77(
    live_server: tuple[str, dict[str, str]], take: Path, tmp_path: Path
) -> None:
    url, env = live_server
    result = deecho(dict(env, DEECHO_API_KEY="not-the-key"), "process", take, "--backend", url)
    assert result.returncode == 77, result.stderr
    assert f"the deecho server at {url} refused the API key" in result.stderr
