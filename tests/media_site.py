"""A small media web site for the URL tests: pages, HLS playlists and AAC segments, on this machine.

`MediaSite` is an HTTP server bound to one address (loopback, or this
machine's own network address) that serves what the test put in its table
and counts every TCP connection it accepts: a guard test asserts that count
is zero. Segments are real AAC (ADTS) encoded by PyAV.
"""

from __future__ import annotations

import http.server
import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = [
    "MediaSite",
    "adts_segments",
    "dash_files",
    "hls_playlist",
    "media_site",
    "network_address",
]


def adts_segments(audio: np.ndarray, rate: int, seconds_per_segment: float) -> list[bytes]:
    """`audio` (channels, samples) as AAC in ADTS frames, cut into HLS segments at frame edges."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "stereo" if audio.shape[0] == 2 else "mono"
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(audio, dtype=np.float32), format="fltp", layout=stream.layout.name
        )
        frame.sample_rate = rate
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    data = buffer.getvalue()
    frames_per_segment = max(1, round(seconds_per_segment * rate / 1024))
    segments, start, count, at = [], 0, 0, 0
    while at < len(data):
        assert data[at] == 0xFF and data[at + 1] & 0xF0 == 0xF0, "not an ADTS frame"
        at += ((data[at + 3] & 0x03) << 11) | (data[at + 4] << 3) | (data[at + 5] >> 5)
        count += 1
        if count == frames_per_segment:
            segments.append(data[start:at])
            start, count = at, 0
    if start < len(data):
        segments.append(data[start:])
    return segments


def dash_files(audio: np.ndarray, rate: int, seconds_per_segment: float) -> dict[str, bytes]:
    """`audio` as AAC in a DASH manifest (`take.mpd`) and its fMP4 segments, by FFmpeg's muxer."""
    import tempfile
    from pathlib import Path

    import av

    with tempfile.TemporaryDirectory() as folder:
        options = {"seg_duration": f"{seconds_per_segment:g}", "use_template": "1"}
        with av.open(f"{folder}/take.mpd", "w", format="dash", options=options) as container:
            stream = container.add_stream("aac", rate=rate)
            stream.layout = "stereo" if audio.shape[0] == 2 else "mono"
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio, dtype=np.float32),
                format="fltp",
                layout=stream.layout.name,
            )
            frame.sample_rate = rate
            frame.pts = 0
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)
        return {path.name: path.read_bytes() for path in Path(folder).iterdir()}


def hls_playlist(segment_urls: list[str], seconds_per_segment: float) -> bytes:
    """An HLS media playlist (VOD, ended) listing the segments."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{int(np.ceil(seconds_per_segment))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for url in segment_urls:
        lines += [f"#EXTINF:{seconds_per_segment:.3f},", url]
    lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode()


def network_address() -> str | None:
    """This machine's own non-loopback IPv4 address (its eth address), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))  # a UDP "connect" sends nothing: it picks a route
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    if address.startswith("127.") or address == "0.0.0.0":
        return None
    try:
        with socket.create_server((address, 0)):
            return address
    except OSError:
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
    server: MediaSite

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        self.server.requests.append(self.path)
        status, headers, body = self.server.pages.get(self.path, (404, {}, b"not here"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer


class MediaSite(http.server.ThreadingHTTPServer):
    """Serves `pages[path] = (status, headers, body)`; counts connections and requests."""

    daemon_threads = True

    def __init__(self, address: str) -> None:
        super().__init__((address, 0), _Handler)
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[str] = []
        self.connections = 0
        self._lock = threading.Lock()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self._lock:
            self.connections += 1
        return True

    def url(self, path: str) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{path}"

    def html(self, path: str, body: str, title: str = "A take") -> None:
        page = f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>"
        self.pages[path] = (200, {"Content-Type": "text/html; charset=utf-8"}, page.encode())

    def file(self, path: str, body: bytes, content_type: str) -> None:
        self.pages[path] = (200, {"Content-Type": content_type}, body)

    def redirect(self, path: str, target: str) -> None:
        self.pages[path] = (302, {"Location": target}, b"")


@contextmanager
def media_site(address: str = "127.0.0.1") -> Iterator[MediaSite]:
    site = MediaSite(address)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.shutdown()
        site.server_close()
