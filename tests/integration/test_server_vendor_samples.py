"""The vendor's two Python samples, run as its page writes them against `deecho serve`.

Only the URLs and the key change: the endpoint becomes the local server, the
sample's audio and webhook links become loopback servers (nothing may leave
the machine), and the key becomes the test key. The sample text below is the
page's, byte for byte; a test checks it still is when the page is at hand.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from test_server_harness import (
    API_KEY,
    Received,
    echoed_speech,
    live_server,
    peer_server,
    peer_url,
    wait_for,
)

from audio_fixtures import REPO, write_m4a
from deecho.api.models import SubmitResponse, TaskStatus, WebhookPayload
from deecho.server.webhooks import SIGNATURE_HEADER, verify_signature

VENDOR_PAGE = REPO.parent / "shared" / "reference" / "deecho-api-doc.txt"

VENDOR_SAMPLE = """\
import requests

url = "https://api.musicgpt.com/api/public/v1/deecho"
headers = {
    "Authorization": "<<<api key>>>"
}

# Option 1: URL
payload = {
    "audio_url": "https://example.com/audio.m4a",
    "webhook_url": ""
}
response = requests.post(url, headers=headers, data=payload)
print(response.json())

# Option 2: File Upload
# payload = {
#     "webhook_url": "https://www.test.requestcatcher.com/test"
# }
# with open("audio.m4a", "rb") as f:
#     files = {"audio_file": f}
#     response = requests.post(url, headers=headers, data=payload, files=files)
# print(response.json())
"""


def _option(number: int) -> str:
    """The sample's Option 1 as is, or Option 2 uncommented (as a user would run it)."""
    head, option2 = VENDOR_SAMPLE.split("# Option 2: File Upload\n")
    if number == 1:
        return VENDOR_SAMPLE
    imports = head.split("# Option 1: URL\n")[0]
    lines = [line[2:] if line.startswith("# ") else line for line in option2.splitlines()]
    return imports + "\n".join(lines) + "\n"


def _run(code: str, cwd: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # The sample prints a dict with print(): Python's repr, not JSON.
    printed: dict[str, object] = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    return printed


def test_the_sample_text_is_the_vendor_page_s() -> None:
    if not VENDOR_PAGE.exists():
        pytest.skip("the vendor's page is not beside this checkout")
    page = VENDOR_PAGE.read_text(encoding="utf-8")
    assert VENDOR_SAMPLE.strip() in page


def test_vendor_samples_run_unchanged_but_for_urls_and_key(tmp_path: Path) -> None:
    audio = echoed_speech(2.0, rate=44100, channels=2)
    m4a = write_m4a(tmp_path / "audio.m4a", audio, 44100)

    def files_and_hooks(request: Received) -> tuple[int, dict[str, str], bytes]:
        if request.path == "/audio.m4a":
            return 200, {"Content-Type": "audio/mp4"}, m4a.read_bytes()
        return 200, {}, b""

    with live_server(tmp_path / "data") as server, peer_server(files_and_hooks) as peer:
        replacements = {
            "https://api.musicgpt.com/api/public/v1/deecho": f"{server.base}/deecho",
            "<<<api key>>>": API_KEY,
            "https://example.com/audio.m4a": peer_url(peer, "/audio.m4a"),
            "https://www.test.requestcatcher.com/test": peer_url(peer, "/test"),
        }
        answers = []
        for number in (1, 2):
            code = _option(number)
            for old, new in replacements.items():
                code = code.replace(old, new)
            answers.append(SubmitResponse.model_validate(_run(code, tmp_path)))
        by_url, by_upload = answers
        assert by_url.success and by_url.status == "IN_QUEUE" and by_url.eta == -1
        assert by_upload.success and by_upload.eta > 0
        for answer in answers:
            conversion = server.wait_done(answer.task_id)
            assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
            assert conversion.conversion_duration == pytest.approx(2.0, abs=0.05)
        assert wait_for(lambda: any(r.path == "/test" for r in peer.received), 60)
        hook = next(r for r in peer.received if r.path == "/test")
    assert verify_signature(hook.body, hook.headers[SIGNATURE_HEADER.lower()], API_KEY)
    payload = WebhookPayload.model_validate(hook.json())
    assert payload.task_id == by_upload.task_id and payload.success
    assert payload.audio_path == f"files/{by_upload.task_id}.m4a"
    # Option 1 gave an empty webhook_url: no callback for it.
    assert [r.path for r in peer.received].count("/test") == 1
