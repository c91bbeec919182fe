"""A stub of MusicGPT's deecho API on loopback, serving the vendor's documented bodies.

It is a real HTTP server (stdlib `ThreadingHTTPServer` in a thread), so the
client under test goes through requests, sockets and multipart encoding just
as it would against api.musicgpt.com. By default it behaves as the vendor's
documentation says the service does:

- `POST /api/public/v1/deecho` (or `/Deecho`), multipart or URL-encoded, with
  `audio_file` or `audio_url`: 200 `{"success": true, "task_id", "conversion_id",
  "eta": -1, "credit_estimate", "message", "status": "IN_QUEUE"}`; 401 for a
  wrong key; 422 when neither input is given.
- `GET /api/public/v1/byId?conversionType=DEECHO&task_id=…`: the task walks
  through `progression` (IN_QUEUE -> IN_PROGRESS -> COMPLETED) one step per poll;
  when COMPLETED, `no_echo_wav` is empty (as the vendor often sends it) and
  `no_echo` links to an MP3 of the uploaded audio that the stub serves.
- `GET /files/<name>`: plain downloads, with `Range` support; `break_downloads`
  makes the next N transfers stop half way through, as a dropped connection does.

Tests script anything else by queueing `Reply` objects in `submit_replies` or
`poll_replies` (served first, in order), and read `requests` to see what the
client sent and when (by the stub's own clock, only for ordering).
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

__all__ = ["MusicGPTStub", "Recorded", "Reply", "StubTask"]

API_PREFIX = "/api/public/v1"


@dataclass
class Reply:
    """One scripted HTTP answer."""

    status: int
    body: dict[str, Any] | bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    """What the client sent in one request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    files: dict[str, bytes]


@dataclass
class StubTask:
    task_id: str
    conversion_id: str
    upload: bytes | None
    upload_name: str | None
    audio_url: str | None
    polls: int = 0


class MusicGPTStub:
    """The vendor's service as its documentation describes it; a context manager."""

    def __init__(self, api_key: str = "stub-key") -> None:
        self.api_key = api_key
        self.submit_replies: deque[Reply] = deque()
        self.poll_replies: deque[Reply] = deque()
        self.progression: list[str] = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
        self.eta = -1
        self.credit_estimate = 0.48
        self.break_downloads = 0
        self.honour_ranges = True
        self.result_gain = 1.0
        self.result_delay_frames = 0
        """Silence put before the result (negative: that many first samples dropped), as a
        decoder that keeps the MP3 encoder delay, or a service that trims silence, does."""
        self.result_audio: tuple[np.ndarray, int] | None = None
        """What the service sends back instead of the upload itself: a known dry take (a
        service that removes the echo perfectly), or another file altogether."""
        self.result_format = "mp3"
        """`mp3` (no WAV link, as the vendor often answers) or `wav` (a `no_echo_wav` link)."""
        self.result_rate: int | None = None
        """Resample the result to this rate (None: the upload's rate)."""
        self.requests: list[Recorded] = []
        self.tasks: dict[str, StubTask] = {}
        self.files: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def base_url(self) -> str:
        return self.origin + API_PREFIX

    def start(self) -> MusicGPTStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MusicGPTStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what the handler asks of the stub -------------------------------------------------

    def authorised(self, headers: dict[str, str]) -> bool:
        given = headers.get("authorization", "")
        return given in (self.api_key, f"Bearer {self.api_key}")

    def submit(self, form: dict[str, str], files: dict[str, bytes], names: dict[str, str]) -> Reply:
        if self.submit_replies:
            return self.submit_replies.popleft()
        upload = files.get("audio_file")
        if not upload and not form.get("audio_url"):
            return Reply(
                422,
                {"success": False, "error": "Either audio_url or audio_file must be provided."},
            )
        task = StubTask(
            task_id=str(uuid.uuid4()),
            conversion_id=str(uuid.uuid4()),
            upload=upload,
            upload_name=names.get("audio_file"),
            audio_url=form.get("audio_url") or None,
        )
        with self._lock:
            self.tasks[task.task_id] = task
        return Reply(
            200,
            {
                "success": True,
                "task_id": task.task_id,
                "conversion_id": task.conversion_id,
                "eta": self.eta,
                "credit_estimate": self.credit_estimate,
                "message": "Message published to queue",
                "status": "IN_QUEUE",
            },
        )

    def poll(self, query: dict[str, str]) -> Reply:
        if self.poll_replies:
            return self.poll_replies.popleft()
        task = self._find_task(query)
        if query.get("conversionType", "").upper() != "DEECHO" or task is None:
            return Reply(400, {"success": False, "message": "Invalid request parameters"})
        with self._lock:
            step = min(task.polls, len(self.progression) - 1)
            task.polls += 1
        status = self.progression[step]
        conversion: dict[str, Any] = {
            "task_id": task.task_id,
            "conversion_id": task.conversion_id,
            "status": status,
            "status_msg": status.lower(),
            "message": "",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:05.000Z",
        }
        if status == "COMPLETED":
            conversion.update(self._results(task))
        if status in ("FAILED", "ERROR"):
            conversion["message"] = "Audio could not be processed"
        return Reply(200, {"success": True, "conversion": conversion})

    def _find_task(self, query: dict[str, str]) -> StubTask | None:
        with self._lock:
            if "task_id" in query:
                return self.tasks.get(query["task_id"])
            for task in self.tasks.values():
                if task.conversion_id == query.get("conversion_id"):
                    return task
        return None

    def _results(self, task: StubTask) -> dict[str, Any]:
        suffix = ".wav" if self.result_format == "wav" else ".mp3"
        no_echo_name = f"{task.task_id}_noecho{suffix}"
        echo_name = f"{task.task_id}_echo{suffix}"
        if no_echo_name not in self.files:
            audio, rate = self.result_audio or self._source_audio(task)
            if self.result_rate is not None and self.result_rate != rate:
                audio, rate = _resampled(audio, rate, self.result_rate), self.result_rate
            delay = self.result_delay_frames
            audio = np.pad(audio, ((0, 0), (delay, 0))) if delay >= 0 else audio[:, -delay:]
            self.files[no_echo_name] = _encode(audio * self.result_gain, rate, suffix)
            self.files[echo_name] = _encode(audio * (1.0 - self.result_gain), rate, suffix)
        duration = 0.0
        wav = self.result_format == "wav"
        return {
            "no_echo": f"{self.origin}/files/{no_echo_name}",
            "no_echo_wav": f"{self.origin}/files/{no_echo_name}" if wav else "",
            "echo": f"{self.origin}/files/{echo_name}",
            "echo_wav": f"{self.origin}/files/{echo_name}" if wav else "",
            "conversion_duration": duration,
            "conversion_cost": "0.48",
        }

    def _source_audio(self, task: StubTask) -> tuple[np.ndarray, int]:
        import soundfile as sf

        if task.upload:
            data, rate = sf.read(io.BytesIO(task.upload), dtype="float32", always_2d=True)
            return np.ascontiguousarray(data.T), int(rate)
        rate = 44100
        t = np.arange(rate * 2) / rate
        return (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None, :], rate

    def download(self, name: str, range_header: str | None) -> tuple[int, bytes, dict[str, str]]:
        body = self.files.get(name)
        if body is None:
            return 404, b"not found", {}
        start = 0
        status = 200
        headers = {"Accept-Ranges": "bytes"} if self.honour_ranges else {}
        if range_header and self.honour_ranges and range_header.startswith("bytes="):
            start = int(range_header[len("bytes=") :].split("-")[0])
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        return status, body[start:], headers


def _encode(audio: np.ndarray, rate: int, suffix: str) -> bytes:
    import tempfile

    from deecho.audio.io import write_audio

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"result{suffix}"
        write_audio(path, audio.astype(np.float32), rate)
        return path.read_bytes()


def _resampled(audio: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """What a service working at another rate sends back (a long Kaiser polyphase filter)."""
    from deecho.compare.resample import to_rate as resample

    return resample(audio.astype(np.float32), rate, to_rate)


def _parse_form(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, bytes], dict[str, str]]:
    form: dict[str, str] = {}
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            payload = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                files[str(name)] = payload
                names[str(name)] = filename
            else:
                form[str(name)] = payload.decode()
    elif content_type.startswith("application/x-www-form-urlencoded"):
        form = {
            key: values[0]
            for key, values in parse_qs(body.decode(), keep_blank_values=True).items()
        }
    return form, files, names


def _make_handler(stub: MusicGPTStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _headers(self) -> dict[str, str]:
            return {key.lower(): value for key, value in self.headers.items()}

        def _record(
            self, form: dict[str, str], files: dict[str, bytes]
        ) -> tuple[str, dict[str, str]]:
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            with stub._lock:
                stub.requests.append(
                    Recorded(self.command, parts.path, query, self._headers(), form, files)
                )
            return parts.path, query

        def _send(self, reply: Reply) -> None:
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            if not isinstance(reply.body, bytes):
                self.send_header("Content-Type", "application/json")
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            form, files, names = _parse_form(self.headers.get("Content-Type", ""), body)
            path, _ = self._record(form, files)
            if path not in (f"{API_PREFIX}/deecho", f"{API_PREFIX}/Deecho"):
                self._send(Reply(404, {"success": False, "error": "Not Found"}))
            elif not stub.authorised(self._headers()) and not stub.submit_replies:
                self._send(Reply(401, {"success": False, "error": "Authentication failed"}))
            else:
                self._send(stub.submit(form, files, names))

        def do_GET(self) -> None:
            path, query = self._record({}, {})
            if path.startswith("/files/"):
                self._download(path[len("/files/") :])
            elif path != f"{API_PREFIX}/byId":
                self._send(Reply(404, {"success": False, "error": "Not Found"}))
            elif not stub.authorised(self._headers()) and not stub.poll_replies:
                self._send(Reply(401, {"success": False, "error": "Authentication failed"}))
            else:
                self._send(stub.poll(query))

        def _download(self, name: str) -> None:
            status, body, headers = stub.download(name, self.headers.get("Range"))
            self.send_response(status)
            self.send_header("Content-Type", "audio/mpeg")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with stub._lock:
                broken = stub.break_downloads > 0 and status in (200, 206)
                if broken:
                    stub.break_downloads -= 1
            if broken:
                # Half the promised bytes, then hang up: what a dropped transfer looks like.
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler
