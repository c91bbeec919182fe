"""URL ingestion in-process: what counts as a page, what yt-dlp may run, what it may send.

Every server here is on loopback and started by the test; the policy allows
loopback (as the server does when it listens on loopback only).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from deecho.audio.io import probe
from deecho.server.jobs import _ProgressFile, read_progress
from deecho.urls import FetchError, UrlPolicy, fetch_audio, is_url
from deecho.urls.ingest import looks_like_page
from integration.test_server_harness import Received, echoed_speech, peer_server, peer_url
from media_site import adts_segments, hls_playlist, media_site

LOOPBACK = UrlPolicy(allow_loopback=True)
REPO = Path(__file__).resolve().parents[2]


def test_what_is_a_url() -> None:
    assert is_url("https://example.com/take.wav") and is_url("HTTP://host/x")
    assert not is_url("take.wav") and not is_url("C:\\takes\\a.wav")
    assert not is_url("ftp://host/a.wav") and not is_url("http:/collapsed/path")


@pytest.mark.parametrize(
    ("head", "is_page"),
    [
        (b"<!DOCTYPE html><html>", True),
        (b"\xef\xbb\xbf  \n<html>", True),
        (b'<?xml version="1.0"?><MPD>', True),
        (b"#EXTM3U\n#EXT-X-VERSION:3", True),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", False),
        (b"ID3\x04\x00", False),
        (b"fLaC\x00\x00", False),
        (b"\xff\xf1\x50\x80", False),  # ADTS
    ],
)
def test_pages_and_playlists_are_told_from_audio_by_their_first_bytes(
    tmp_path: Path, head: bytes, is_page: bool
) -> None:
    path = tmp_path / "fetched"
    path.write_bytes(head + b"\x00" * 64)
    assert looks_like_page(path) is is_page


def test_a_direct_audio_url_never_loads_yt_dlp(tmp_path: Path) -> None:
    """A direct file costs what it always did: yt-dlp is not even imported."""
    wav = tmp_path / "take.wav"
    import soundfile as sf

    sf.write(str(wav), echoed_speech(1.0)[0], 16000)
    code = f"""
import sys
sys.path[:0] = {[str(REPO / "tests"), str(REPO)]!r}
from pathlib import Path
from media_site import media_site
from deecho.urls import UrlPolicy, fetch_audio
with media_site() as site:
    site.file("/take.wav", Path({str(wav)!r}).read_bytes(), "audio/wav")
    policy = UrlPolicy(allow_loopback=True)
    got = fetch_audio(site.url("/take.wav"), Path({str(tmp_path)!r}), policy, 10**7, 30)
print(got.name, "yt_dlp" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["take.wav", "False"]


def test_extractors_that_run_javascript_are_refused_and_the_generic_one_is_not() -> None:
    from yt_dlp.extractor import get_info_extractor

    from deecho.urls.extractors import script_refusal

    youtube = get_info_extractor("Youtube")
    refusal = script_refusal(type(youtube()))
    assert refusal is not None and "JavaScript" in refusal and "direct link" in refusal
    generic = get_info_extractor("Generic")
    assert script_refusal(type(generic())) is None


def test_no_cookie_and_no_credential_leaves_with_a_request(tmp_path: Path) -> None:
    import soundfile as sf

    wav = tmp_path / "take.wav"
    sf.write(str(wav), echoed_speech(1.0)[0], 16000)

    def site(request: Received) -> tuple[int, dict[str, str], bytes]:
        if request.path.startswith("/page"):
            page = b"<html><body><audio src='/take.wav'></audio></body></html>"
            return 200, {"Content-Type": "text/html", "Set-Cookie": "session=secret"}, page
        return 200, {"Content-Type": "audio/wav", "Set-Cookie": "more=secret"}, wav.read_bytes()

    with peer_server(site) as peer:
        url = peer_url(peer, "/page").replace("http://", "http://user:password@")
        got = fetch_audio(url, tmp_path, LOOPBACK, 10**7, 30)
        seen = list(peer.received)
    assert got.path.is_file() and len(seen) >= 3
    # seen[0] is the plain fetch that found a page, as before: the URL's own user:password
    # go to the URL's own host. yt-dlp's requests (the rest) carry none of it.
    for request in seen[1:]:
        assert "cookie" not in request.headers, request
        assert "authorization" not in request.headers, request


def test_a_live_stream_is_refused(tmp_path: Path) -> None:
    segments = adts_segments(echoed_speech(4.0, rate=44100), 44100, 2.0)
    with media_site() as site:
        for number, body in enumerate(segments):
            site.file(f"/seg{number}.aac", body, "audio/aac")
        playlist = hls_playlist([f"seg{n}.aac" for n in range(len(segments))], 2.0)
        live = playlist.replace(b"#EXT-X-ENDLIST\n", b"").replace(b"SEQUENCE:0", b"SEQUENCE:900")
        site.file("/live.m3u8", live.replace(b"#EXT-X-PLAYLIST-TYPE:VOD\n", b""), "audio/mpegurl")
        with pytest.raises(FetchError, match="live stream"):
            fetch_audio(site.url("/live.m3u8"), tmp_path, LOOPBACK, 10**7, 30)
        assert not any(path.startswith("/seg") for path in site.requests)


@contextmanager
def _dribbling_site() -> Iterator[str]:
    """A page whose audio arrives a byte every 0.2 s: no read ever times out."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            request = connection.recv(4096).decode("latin-1")
            if "/slow.wav" not in request.split("\r\n", 1)[0]:
                page = b"<html><body><audio src='/slow.wav'></audio></body></html>"
                head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(page)}"
                connection.sendall(head.encode() + b"\r\nConnection: close\r\n\r\n" + page)
                return
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\n")
            connection.sendall(b"Content-Length: 1000000\r\n\r\nRIFF")
            while not stop.wait(0.2):
                try:
                    connection.sendall(b"\x00")
                except OSError:
                    return

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed at the end of the test
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}/page.html"
    finally:
        stop.set()
        server.close()


def test_the_time_cap_covers_the_page_and_its_media_together(tmp_path: Path) -> None:
    with _dribbling_site() as url:
        started = time.monotonic()
        with pytest.raises(FetchError, match="took longer than 3 s"):
            fetch_audio(url, tmp_path, LOOPBACK, 10**7, 3.0)
        # the watchdog ends the dribble: far sooner than the 30 s read timeout would
        assert time.monotonic() - started < 25


def test_a_raw_aac_stream_reads_at_its_full_length(tmp_path: Path) -> None:
    """FFmpeg guesses a bare ADTS stream's length from its bitrate; the reader counts it."""
    audio = echoed_speech(8.0, rate=44100, channels=2, seed=3)
    path = tmp_path / "joined.aac"
    path.write_bytes(b"".join(adts_segments(audio, 44100, 2.0)))
    frames = probe(path).frames
    assert 8.0 * 44100 <= frames <= 8.0 * 44100 + 2 * 1024  # + encoder delay and padding
    assert np.isfinite(frames)


def test_the_running_task_says_what_was_fetched(tmp_path: Path) -> None:
    progress = _ProgressFile(tmp_path, 0.0, 0.9, fetched='"Studio take" (3:12)')
    progress(0.5, "removing echo")
    fraction, stage = read_progress(tmp_path) or (0.0, "")
    assert fraction == pytest.approx(0.45)
    assert stage == 'removing echo, fetched "Studio take" (3:12)'


def test_the_byte_cap_counts_the_first_fetch_and_yt_dlp_s_together(tmp_path: Path) -> None:
    """A 3 MB page fits a 4 MB cap once; fetched again by yt-dlp, the two do not."""
    page = b"<html><body>" + b"<p>liner notes</p>" * (3_000_000 // 18) + b"</body></html>"
    with media_site() as site:
        site.file("/long.html", page, "text/html")
        with pytest.raises(FetchError, match="larger than the 4000000 byte limit"):
            fetch_audio(site.url("/long.html"), tmp_path, LOOPBACK, 4_000_000, 30)
        assert site.requests.count("/long.html") >= 1
