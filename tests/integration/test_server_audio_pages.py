"""`audio_url` links to pages, HLS playlists and refused places, against `deecho serve`.

The server is a `deecho serve` subprocess on loopback with its default URL
policy: loopback hosts are allowed (it listens on loopback only), private and
reserved ones are not. Pages, playlists and segments come from `MediaSite`s
the tests start: one on loopback, and one on this machine's own network
address, which the policy refuses and which counts every connection made to
it. The fetch cap is 1 MB (`DEECHO_MAX_UPLOAD_MB=1`), so the size test is
quick. Nothing leaves the machine.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf
from test_server_harness import (
    API_KEY,
    echoed_speech,
    free_port,
    live_server,
    peer_server,
    peer_url,
    wait_for,
    write_wav,
)

from audio_fixtures import REPO, deecho_command, stop_process
from deecho.api.models import ByIdResponse, Conversion, SubmitResponse, TaskStatus
from media_site import (
    MediaSite,
    adts_segments,
    dash_files,
    hls_playlist,
    media_site,
    network_address,
)

RATE = 16000
VENDOR_PAGE = REPO.parent / "shared" / "reference" / "deecho-api-doc.txt"
#: The vendor's cURL sample for deecho, as its page prints it.
VENDOR_CURL = """\
curl -X POST "https://api.musicgpt.com/api/public/v1/Deecho" \\
-H "accept: application/json" \\
-H "Authorization: <api_key>" \\
-F "audio_url=https://www.youtube.com/watch?v=jGflUbPQfW8" \\
-F "webhook_url=http://webhook.musicgpt.com"
"""


@dataclass
class Served:
    base: str
    process: subprocess.Popen[str]

    def submit_url(self, url: str) -> str:
        response = requests.post(
            f"{self.base}/deecho",
            headers={"Authorization": API_KEY},
            data={"audio_url": url},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return SubmitResponse.model_validate(response.json()).task_id

    def by_id(self, task_id: str) -> Conversion:
        response = requests.get(
            f"{self.base}/byId",
            params={"conversionType": "DEECHO", "task_id": task_id},
            headers={"Authorization": API_KEY},
            timeout=30,
        )
        response.raise_for_status()
        return ByIdResponse.model_validate(response.json()).conversion

    def wait_done(self, task_id: str, seen: list[str] | None = None) -> Conversion:
        conversion = self.by_id(task_id)
        while not conversion.is_done:
            assert self.process.poll() is None, "deecho serve exited"
            if seen is not None and conversion.status == "IN_PROGRESS":
                seen.append(conversion.message or "")
            wait_for(lambda: False, 0.1)
            conversion = self.by_id(task_id)
        return conversion


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {**os.environ, "DEECHO_API_KEY": API_KEY, "DEECHO_MAX_UPLOAD_MB": "1"}
    command = [
        *deecho_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(folder / "data"),
    ]  # fmt: skip
    with (folder / "serve.log").open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, text=True)
    base = f"http://127.0.0.1:{port}/api/public/v1"

    def healthy() -> bool:
        assert process.poll() is None, (folder / "serve.log").read_text()
        try:
            return requests.get(f"{base}/health", timeout=2).ok
        except requests.ConnectionError:
            return False

    assert wait_for(healthy, 60), "deecho serve did not come up"
    try:
        yield Served(base, process)
    finally:
        stop_process(process, timeout_s=30)


@pytest.fixture(scope="module")
def site() -> Iterator[MediaSite]:
    with media_site("127.0.0.1") as loopback:
        yield loopback


@pytest.fixture(scope="module")
def private_site() -> Iterator[MediaSite]:
    address = network_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback to stand for a LAN host")
    with media_site(address) as lan:
        yield lan


@pytest.fixture(scope="module")
def take_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = write_wav(tmp_path_factory.mktemp("take") / "take.wav", 3.0, rate=RATE)
    return path.read_bytes()


def _echo_at(audio: np.ndarray, lag_s: float, rate: int) -> float:
    """How much of the signal repeats `lag_s` later: the normalized correlation at that lag."""
    mono = audio if audio.ndim == 1 else audio.mean(axis=1)
    lag = int(lag_s * rate)
    a, b = mono[lag:], mono[:-lag]
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


# --- what works -------------------------------------------------------------------------------


def test_a_page_with_an_audio_element_completes_with_the_echo_removed(
    served: Served, site: MediaSite, take_wav: bytes, tmp_path: Path
) -> None:
    site.file("/media/take.wav", take_wav, "audio/wav")
    site.html("/take.html", '<audio controls src="/media/take.wav"></audio>', title="Studio take")
    seen: list[str] = []
    conversion = served.wait_done(served.submit_url(site.url("/take.html")), seen)
    assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
    assert conversion.conversion_duration == pytest.approx(3.0, abs=1e-3)
    for message in seen:  # what a poll caught while it ran names what was fetched
        if message.startswith("Processing: ") and "downloading" not in message:
            assert 'fetched "Studio take' in message and "(0:03)" in message, message
    result = tmp_path / "no_echo.wav"
    result.write_bytes(requests.get(conversion.no_echo_wav, timeout=30).content)
    cleaned, rate = sf.read(str(result), dtype="float32")
    original = echoed_speech(3.0, rate=RATE)[0]
    assert rate == RATE and cleaned.shape[0] == original.shape[0]
    before, after = _echo_at(original, 0.150, RATE), _echo_at(cleaned, 0.150, RATE)
    assert before > 0.3 and after < before / 3, (before, after)


def test_an_hls_playlist_of_aac_segments_completes_at_full_length(
    served: Served, site: MediaSite
) -> None:
    audio = echoed_speech(8.0, rate=44100, channels=2, seed=3)
    segments = adts_segments(audio, 44100, 2.0)
    names = [f"/hls/seg{number}.aac" for number in range(len(segments))]
    for name, body in zip(names, segments, strict=True):
        site.file(name, body, "audio/aac")
    playlist = hls_playlist([name.removeprefix("/hls/") for name in names], 2.0)
    site.file("/hls/take.m3u8", playlist, "application/vnd.apple.mpegurl")
    before = len(site.requests)
    conversion = served.wait_done(served.submit_url(site.url("/hls/take.m3u8")))
    assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
    # AAC adds its encoder delay (1024 samples) and pads the last frame: under 0.05 s
    assert conversion.conversion_duration == pytest.approx(8.0, abs=0.05)
    fetched = site.requests[before:]
    assert all(fetched.count(name) == 1 for name in names), fetched


def test_a_dash_manifest_completes_at_full_length(served: Served, site: MediaSite) -> None:
    audio = echoed_speech(6.0, rate=44100, channels=2, seed=4)
    for name, body in dash_files(audio, 44100, 2.0).items():
        kind = "application/dash+xml" if name.endswith(".mpd") else "audio/mp4"
        site.file(f"/dash/{name}", body, kind)
    conversion = served.wait_done(served.submit_url(site.url("/dash/take.mpd")))
    assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
    assert conversion.conversion_duration == pytest.approx(6.0, abs=0.05)
    assert "/dash/init-stream0.m4s" in site.requests


# --- what is refused, and why ------------------------------------------------------------------


def test_no_connection_reaches_a_private_address_by_any_hop(
    served: Served, site: MediaSite, private_site: MediaSite, take_wav: bytes
) -> None:
    """Page, redirect, manifest and segments: each path to the LAN host is refused before it."""
    private_site.file("/take.wav", take_wav, "audio/wav")
    segments = adts_segments(echoed_speech(4.0, rate=44100, seed=5), 44100, 2.0)
    for number, body in enumerate(segments):
        private_site.file(f"/seg{number}.aac", body, "audio/aac")
    private_segments = [private_site.url(f"/seg{n}.aac") for n in range(len(segments))]
    private_site.file(
        "/lan.m3u8", hls_playlist(private_segments, 2.0), "application/vnd.apple.mpegurl"
    )
    site.redirect("/guard/hop", private_site.url("/take.wav"))
    site.html("/guard/redirect.html", '<audio src="/guard/hop"></audio>')
    site.html("/guard/direct.html", f'<audio src="{private_site.url("/take.wav")}"></audio>')
    site.html("/guard/manifest.html", f'<video src="{private_site.url("/lan.m3u8")}"></video>')
    site.file("/guard/segments.m3u8", hls_playlist(private_segments, 2.0), "application/x-mpegURL")
    site.redirect("/guard/moved.wav", private_site.url("/take.wav"))
    tasks = {
        path: served.submit_url(site.url(path))
        for path in (
            "/guard/redirect.html",  # the page's media redirects to the LAN host
            "/guard/direct.html",  # the page's media is on the LAN host
            "/guard/manifest.html",  # the page's HLS manifest is on the LAN host
            "/guard/segments.m3u8",  # a manifest here, its segments there
            "/guard/moved.wav",  # the audio_url itself redirects there
        )
    }
    for path, task_id in tasks.items():
        conversion = served.wait_done(task_id)
        assert conversion.task_status == TaskStatus.FAILED, (path, conversion.status)
        assert "private or reserved address" in conversion.reason, (path, conversion.reason)
        assert "--allow-private-urls" in conversion.reason
    refused = requests.post(
        f"{served.base}/deecho",
        headers={"Authorization": API_KEY},
        data={"audio_url": private_site.url("/take.wav")},
        timeout=30,
    )
    assert refused.status_code == 422 and "private or reserved" in refused.text
    assert private_site.connections == 0, private_site.requests


def test_the_same_hops_connect_when_private_urls_are_allowed(
    tmp_path: Path, site: MediaSite, private_site: MediaSite, take_wav: bytes
) -> None:
    """The control: the listener does count connections, so its zero above means something."""
    private_site.file("/allowed.wav", take_wav, "audio/wav")
    site.redirect("/control/hop", private_site.url("/allowed.wav"))
    site.html("/control/page.html", '<audio src="/control/hop"></audio>')
    before = private_site.connections
    with live_server(tmp_path / "data", allow_private_urls=True) as live:
        response = requests.post(
            f"{live.base}/deecho",
            headers=live.headers(),
            data={"audio_url": site.url("/control/page.html")},
            timeout=30,
        )
        conversion = live.wait_done(response.json()["task_id"])
    assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
    assert private_site.connections > before


def test_a_page_without_media_fails_saying_so(served: Served, site: MediaSite) -> None:
    site.html("/empty.html", "<p>Liner notes, no player.</p>")
    conversion = served.wait_done(served.submit_url(site.url("/empty.html")))
    assert conversion.task_status == TaskStatus.FAILED
    assert "no audio or video found" in conversion.reason
    assert "\n" not in conversion.reason


def test_a_page_of_two_recordings_is_refused_as_a_playlist(
    served: Served, site: MediaSite, take_wav: bytes
) -> None:
    site.file("/two/a.wav", take_wav, "audio/wav")
    site.file("/two/b.wav", take_wav, "audio/wav")
    site.html("/two.html", '<audio src="/two/a.wav"></audio><audio src="/two/b.wav"></audio>')
    conversion = served.wait_done(served.submit_url(site.url("/two.html")))
    assert conversion.task_status == TaskStatus.FAILED
    assert "2 recordings (a playlist)" in conversion.reason
    assert "one task is one recording" in conversion.reason


def test_segments_over_the_size_cap_fail_and_stop_the_download(
    served: Served, site: MediaSite
) -> None:
    """Each 200 kB segment is under the 1 MB cap; together they are not: the cap counts all."""
    segment = b"".join(adts_segments(echoed_speech(1.0, rate=44100, seed=7), 44100, 1.0))
    segment = segment * (200_000 // len(segment) + 1)
    names = [f"/big/seg{number}.aac" for number in range(20)]
    for name in names:
        site.file(name, segment, "audio/aac")
    site.file(
        "/big/take.m3u8",
        hls_playlist([name.removeprefix("/big/") for name in names], 10.0),
        "application/vnd.apple.mpegurl",
    )
    conversion = served.wait_done(served.submit_url(site.url("/big/take.m3u8")))
    assert conversion.task_status == TaskStatus.FAILED
    assert "larger than the 1048576 byte limit" in conversion.reason, conversion.reason
    fetched = [path for path in site.requests if path.startswith("/big/seg")]
    assert 1 <= len(fetched) <= 6, fetched  # 5 segments pass 1 MB; the rest never asked for


# --- the vendor's own sample ------------------------------------------------------------------


def test_the_vendor_curl_sample_runs_with_a_page_link(
    served: Served, site: MediaSite, take_wav: bytes
) -> None:
    """The page's cURL sample, unchanged but for the host, the key and where its links lead."""
    if VENDOR_PAGE.exists():
        assert VENDOR_CURL.strip() in VENDOR_PAGE.read_text(encoding="utf-8")
    site.file("/watch/take.wav", take_wav, "audio/wav")
    site.html("/watch?v=jGflUbPQfW8", '<audio src="/watch/take.wav"></audio>', title="A video")

    def hook_receiver(request: object) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, b""

    with peer_server(hook_receiver) as hooks:
        command = (
            VENDOR_CURL.replace("https://api.musicgpt.com/api/public/v1", served.base)
            .replace("<api_key>", API_KEY)
            .replace("https://www.youtube.com", site.url("").rstrip("/"))
            .replace("http://webhook.musicgpt.com", peer_url(hooks, "/"))
        )
        answer = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=True
        )
        submitted = SubmitResponse.model_validate_json(answer.stdout)
        assert submitted.success and submitted.status == "IN_QUEUE"
        conversion = served.wait_done(submitted.task_id)
        assert conversion.task_status == TaskStatus.COMPLETED, conversion.reason
        assert wait_for(lambda: len(hooks.received) > 0, 60)
    assert re.search(r"/watch\?v=jGflUbPQfW8", " ".join(site.requests))
    assert conversion.conversion_duration == pytest.approx(3.0, abs=1e-3)
