"""`deecho batch --backend musicgpt`: each file through the one job path, against the stub.

The stub answers the first uploads with 429 and Retry-After; the client waits and
retries, and a rerun sends nothing: a file done is never paid for twice.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from test_cli_batch import RATE, clip, rows

from audio_fixtures import deecho_command
from stubs.musicgpt import MusicGPTStub, Reply

KEY = "stub-key"


@pytest.fixture
def stub() -> Iterator[MusicGPTStub]:
    with MusicGPTStub(api_key=KEY) as running:
        yield running


def batch_on(
    stub: MusicGPTStub, tmp_path: Path, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEECHO_CONFIG_FILE": str(tmp_path / "no-config.toml"),
        "DEECHO_MUSICGPT_BASE_URL": stub.base_url,
        "DEECHO_MUSICGPT_API_KEY": KEY,
    }
    return subprocess.run(
        [*deecho_command(), "batch", *map(str, args), "--backend", "musicgpt"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def uploads(stub: MusicGPTStub) -> list[int]:
    return [i for i, request in enumerate(stub.requests) if request.method == "POST"]


def test_musicgpt_batch_waits_out_429s_and_a_rerun_spends_nothing(
    stub: MusicGPTStub, tmp_path: Path
) -> None:
    for seed in range(3):
        clip(tmp_path / "in" / f"take{seed}.wav", seed=seed)
    stub.progression = ["COMPLETED"]
    busy = Reply(429, {"success": False, "error": "Too many requests"}, {"Retry-After": "1"})
    stub.submit_replies.extend([busy, busy])
    out = tmp_path / "out"
    first = batch_on(stub, tmp_path, tmp_path / "in", "-o", out, "--concurrency", "2", "--json")
    assert first.returncode == 0, first.stderr
    report = rows(first)
    assert {row["status"] for row in report.values()} == {"done"}
    assert {row["backend"] for row in report.values()} == {"musicgpt"}
    assert len(uploads(stub)) == 5  # two refused with 429, then one accepted per file
    for seed in range(3):
        assert sf.info(out / f"take{seed}.no_echo.wav").frames == 2 * RATE

    again = batch_on(stub, tmp_path, tmp_path / "in", "-o", out, "--json")
    assert again.returncode == 0, again.stderr
    assert {row["status"] for row in rows(again).values()} == {"skipped"}
    assert len(uploads(stub)) == 5
