"""Property-based tests (hypothesis) of what reads untrusted bytes: the audio readers, the
time parser and the server's multipart parser.

The property is the same for each: whatever the input, the answer is a result or one of
the project's own errors (DeechoError for the readers and the time parser; FormError or
UploadTooLarge, answered 422 and 413, for the form parser). Anything else would reach the
user as exit 70 or HTTP 500.
"""

from __future__ import annotations

import asyncio
import io
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from audio_fixtures import tone_burst_signal
from deecho.audio.io import read_audio
from deecho.audio.prep import parse_time
from deecho.config import load_settings
from deecho.errors import DeechoError, SettingsError, UsageError
from deecho.server.uploads import FormError, UploadTooLarge, read_submit_form

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid(container: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    audio = tone_burst_signal(8000, 1.0, channels=2, seed=1).T
    sf.write(buffer, audio, 8000, format=container, subtype=subtype)
    return buffer.getvalue()


VALID_FILES = {
    "wav-16": _valid("WAV", "PCM_16"),
    "wavex-24": _valid("WAVEX", "PCM_24"),
    "wav-float": _valid("WAV", "FLOAT"),
    "aiff-16": _valid("AIFF", "PCM_16"),
    "flac-16": _valid("FLAC", "PCM_16"),
}

#: (offset, value) of 32-bit fields worth lying in: RIFF size, fmt size, rates, data size.
_WAV_FIELDS = [(4, "<I"), (16, "<I"), (24, "<I"), (28, "<I"), (40, "<I")]
_WAV_SHORTS = [(20, "<H"), (22, "<H"), (32, "<H"), (34, "<H")]


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(VALID_FILES)))
    data = bytearray(VALID_FILES[name])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["field", "short", "bytes", "truncate", "insert"]))
        if kind in ("field", "short") and (not name.startswith("wav") or len(data) < 44):
            continue  # a header field of a WAV that still has its header
        if kind == "field":
            offset, layout = draw(st.sampled_from(_WAV_FIELDS))
            value = draw(
                st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF]) | st.integers(0, 2**32 - 1)
            )
            struct.pack_into(layout, data, offset, value)
        elif kind == "short":
            offset, layout = draw(st.sampled_from(_WAV_SHORTS))
            struct.pack_into(layout, data, offset, draw(st.integers(0, 0xFFFF)))
        elif kind == "bytes" and data:
            offset = draw(st.integers(0, min(len(data), 96) - 1))
            patch = draw(st.binary(min_size=1, max_size=8))
            data[offset : offset + len(patch)] = patch
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        elif kind == "insert":
            offset = draw(st.integers(0, min(len(data), 128)))
            data[offset:offset] = draw(st.binary(min_size=1, max_size=64))
    return name, bytes(data)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutated")


@EXAMPLES
@given(case=mutated_files())
def test_readers_decode_or_refuse_mutated_files(folder: Path, case: tuple[str, bytes]) -> None:
    name, data = case
    path = folder / f"{name}.{'flac' if name.startswith('flac') else 'wav'}"
    path.write_bytes(data)
    try:
        audio, rate = read_audio(path)
    except DeechoError as exc:
        event(f"refused: {type(exc).__name__}")  # --hypothesis-show-statistics counts them
        return
    event("decoded")
    assert rate > 0 and audio.ndim == 2 and audio.shape[1] > 0
    assert np.isfinite(audio).all()


_TIMES = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\A\s*(\d{1,6}:)?(\d{1,3}:)?\d{0,8}(\.\d{0,6})?\s*\Z"),
    st.text(alphabet="0123456789:.", max_size=30),
    st.integers(300, 6000).map(lambda digits: "9" * digits),
    st.integers(1, 400).map(lambda digits: "1:" + "7" * digits),
    st.integers(4300, 5000).map(lambda digits: "9" * digits + ":00:00"),
)


@EXAMPLES
@given(text=_TIMES)
def test_time_parser_gives_finite_seconds_or_a_usage_error(text: str) -> None:
    try:
        seconds = parse_time(text)
    except UsageError:
        return
    assert math.isfinite(seconds) and seconds >= 0


def _request(body: bytes, content_type: bytes, chunk: int) -> Request:
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/public/v1/deecho",
        "headers": [(b"content-type", content_type)],
    }
    return Request(scope, receive)  # type: ignore[arg-type]


_BOUNDARY = b"deecho-boundary"
_VALID_FORM = (
    b"--" + _BOUNDARY + b"\r\n"
    b'Content-Disposition: form-data; name="webhook_url"\r\n\r\n'
    b"https://example.com/hook\r\n"
    b"--" + _BOUNDARY + b"\r\n"
    b'Content-Disposition: form-data; name="audio_file"; filename="take.wav"\r\n'
    b"Content-Type: audio/wav\r\n\r\n" + VALID_FILES["wav-16"][:512] + b"\r\n"
    b"--" + _BOUNDARY + b"--\r\n"
)


@st.composite
def mutated_forms(draw: st.DrawFn) -> tuple[bytes, bytes, int]:
    body = bytearray(_VALID_FORM)
    for _ in range(draw(st.integers(0, 4))):
        offset = draw(st.integers(0, len(body)))
        action = draw(st.sampled_from(["replace", "delete", "insert"]))
        patch = draw(st.binary(max_size=16) | st.sampled_from([b"\r\n", b"--", b'"', b";", b"\0"]))
        if action == "replace":
            body[offset : offset + len(patch)] = patch
        elif action == "delete":
            del body[offset : offset + draw(st.integers(1, 32))]
        else:
            body[offset:offset] = patch
    content_type = draw(
        st.sampled_from(
            [
                b"multipart/form-data; boundary=" + _BOUNDARY,
                b'multipart/form-data; boundary="' + _BOUNDARY + b'"',
                b"multipart/form-data",
                b"multipart/form-data; boundary=",
                b"application/x-www-form-urlencoded",
                b"text/plain",
            ]
        )
        | st.binary(max_size=40).map(lambda tail: b"multipart/form-data; " + tail)
    )
    return bytes(body), content_type, draw(st.integers(1, 700))


@EXAMPLES
@given(case=mutated_forms())
def test_multipart_parser_reads_or_refuses_mutated_forms(
    folder: Path, case: tuple[bytes, bytes, int]
) -> None:
    body, content_type, chunk = case
    spool = folder / "spool"
    spool.mkdir(exist_ok=True)
    try:
        form = asyncio.run(read_submit_form(_request(body, content_type, chunk), spool, 4096))
    except (FormError, UploadTooLarge):
        return
    if form.file_path is not None:
        assert form.file_path.parent == spool  # the sender's file name never picks the path
        assert form.file_bytes == form.file_path.stat().st_size


# --- the settings loader ----------------------------------------------------------------------

_SETTING_VALUES = st.one_of(
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
)
_SETTING_NAMES = st.sampled_from(
    ["api_key", "musicgpt_api_key", "musicgpt_base_url", "max_upload_mb", "engine", "server",
     "workspace", "unknown"]
)  # fmt: skip


@st.composite
def settings_files(draw: st.DrawFn) -> bytes:
    """A settings file: TOML built from real setting names and any values, or mutated bytes."""
    document: dict[str, object] = {}
    for name in draw(st.lists(_SETTING_NAMES, max_size=4)):
        value = draw(_SETTING_VALUES)
        if name in ("engine", "server", "workspace"):
            value = draw(st.dictionaries(st.text(min_size=1, max_size=12), _SETTING_VALUES))
        document[name] = value
    text = tomli_w.dumps(document).encode()
    if draw(st.booleans()):
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(st.binary(max_size=8)) + text[position:]
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(content=settings_files())
def test_settings_file_loads_or_is_refused_with_one_line(
    folder: Path, content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = folder / "config.toml"
    path.write_bytes(content)
    monkeypatch.setenv("DEECHO_CONFIG_FILE", str(path))
    try:
        load_settings()
    except SettingsError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(("setting ", str(path)))
        event("refused")


# --- the byId query ---------------------------------------------------------------------------

_QUERY_NAMES = st.sampled_from(["conversionType", "task_id", "conversion_id", "TASK_ID", "x"])


@pytest.fixture(scope="module")
def by_id_client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from deecho.server import create_app
    from deecho.server.config import ServerConfig

    app = create_app(ServerConfig(data_dir=tmp_path_factory.mktemp("byid"), api_key="k"))
    with TestClient(app) as client:
        yield client


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=st.lists(st.tuples(_QUERY_NAMES, st.text(max_size=40)), max_size=4))
def test_by_id_answers_every_query_with_a_documented_status(
    by_id_client: Any, query: list[tuple[str, str]]
) -> None:
    answer = by_id_client.get("/api/public/v1/byId", params=query, headers={"Authorization": "k"})
    assert answer.status_code in (200, 400, 404), answer.text
    assert answer.json()["success"] is (answer.status_code == 200)
