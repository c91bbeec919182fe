"""schemathesis against a live `deecho serve`: no 500, every answer as `/openapi.json` says.

The schema documents every route's inputs and each status it may answer
(`deecho.server.openapi`); schemathesis generates valid and invalid requests
from it (bounded, seeded, so a CI run is repeatable) and checks that no answer
is a server error, that each status and body is one the schema lists, that a
request without the key is refused, and that a method a route lacks gets 405
with `Allow`. A schema that listed nothing would make most of these checks
vacuous, so the test also holds the schema to naming each route's answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from test_server_durability import _start, _wait_healthy
from test_server_harness import free_port

from audio_fixtures import stop_process

_KEY = "schema-test-key"
#: Per operation and phase; about 400 requests in all, some 15 s here.
_MAX_EXAMPLES = 30
_SEED = 20261130
#: What a generated request cannot be expected to be: real audio the server accepts.
_EXCLUDED_CHECKS = "positive_data_acceptance"


def _schemathesis() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    return [str(script)] if script.exists() else [sys.executable, "-m", "schemathesis.cli"]


@pytest.mark.timeout(300)
def test_generated_requests_get_documented_answers_and_never_a_500(tmp_path: Path) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEECHO_")}
    env["DEECHO_API_KEY"] = _KEY
    env["DEECHO_CONFIG_FILE"] = str(tmp_path / "no-config.toml")
    log = tmp_path / "server.log"
    server = _start(tmp_path / "data", port, env, log)
    try:
        _wait_healthy(f"{origin}/api/public/v1", server)
        schema = requests.get(f"{origin}/openapi.json", timeout=10).json()
        submit = schema["paths"]["/api/public/v1/deecho"]["post"]
        assert {"200", "401", "413", "422", "429", "507"} <= set(submit["responses"])
        assert "500" not in submit["responses"]
        assert "multipart/form-data" in submit["requestBody"]["content"]
        by_id = schema["paths"]["/api/public/v1/byId"]["get"]
        assert {p["name"] for p in by_id["parameters"]} == {
            "conversionType",
            "task_id",
            "conversion_id",
        }

        run = subprocess.run(
            [
                *_schemathesis(),
                "run",
                f"{origin}/openapi.json",
                "--header",
                f"Authorization: {_KEY}",
                "--checks",
                "all",
                "--exclude-checks",
                _EXCLUDED_CHECKS,
                "--max-examples",
                str(_MAX_EXAMPLES),
                "--seed",
                str(_SEED),
                "--generation-database",
                "none",
                "--workers",
                "1",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        assert "passed" in run.stdout
        assert server.poll() is None, "deecho serve died under generated requests"
    finally:
        stop_process(server)
    assert "unhandled error" not in log.read_text()
