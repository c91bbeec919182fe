"""Read a submit's form from the request stream, the audio file straight to disk.

Starlette's own form parser reads the whole body before the handler sees it,
with no cap. This one feeds the body, chunk by chunk, to python-multipart's
streaming parser, writes the `audio_file` part into the task folder as it
arrives, and stops at the upload cap with 413: memory use is one chunk,
whatever the client sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import Request

__all__ = ["FormError", "SubmittedForm", "UploadTooLarge", "drain", "read_submit_form"]

#: Largest text field (audio_url, webhook_url) and URL-encoded body accepted.
MAX_FIELD_BYTES = 64 * 1024
#: After a 413, read and drop at most this much more, so a client still sending its body
#: sees the answer instead of a reset connection; beyond it the connection is just closed.
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024


class FormError(Exception):
    """The body is not a form the endpoint can read (answered 422)."""


class UploadTooLarge(Exception):
    """The upload passed the cap (answered 413)."""


@dataclass
class SubmittedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file_path: Path | None = None
    file_name: str | None = None
    file_bytes: int = 0


def _safe_suffix(file_name: str) -> str:
    """The upload's extension, if it is a plain one: decoders sniff content anyway."""
    suffix = Path(file_name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


class _MultipartSink:
    """python-multipart callbacks: headers per part, file data to disk, fields to memory."""

    def __init__(self, form: SubmittedForm, folder: Path, max_file_bytes: int) -> None:
        self.form = form
        self.folder = folder
        self.max_file_bytes = max_file_bytes
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._file: IO[bytes] | None = None
        self._is_file = False
        self._value = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self._headers = {}
        self._header_name = b""
        self._header_value = b""
        self._value = bytearray()
        self._file = None
        self._is_file = False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = b""
        self._header_value = b""

    def headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        file_name = options.get(b"filename")
        self._is_file = file_name is not None
        if self._is_file and self._name == "audio_file":
            if self.form.file_path is not None:
                raise FormError("send one audio_file, not several")
            name = (file_name or b"").decode("utf-8", "replace")
            self.form.file_name = Path(name.replace("\\", "/")).name or "audio"
            self.form.file_path = self.folder / f"input{_safe_suffix(self.form.file_name)}"
            self._file = self.form.file_path.open("wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self._is_file:
            self.form.file_bytes += size
            if self.form.file_bytes > self.max_file_bytes:
                raise UploadTooLarge()
            if self._file is not None:
                # a view, not a slice: the chunk (up to a few hundred kB) is not copied first
                self._file.write(memoryview(data)[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise FormError(
                f"form field {self._name or '?'} is longer than {MAX_FIELD_BYTES} bytes"
            )

    def part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif not self._is_file and self._name:
            self.form.fields[self._name] = self._value.decode("utf-8", "replace")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def read_submit_form(request: Request, folder: Path, max_file_bytes: int) -> SubmittedForm:
    """Parse a multipart or URL-encoded submit; the file lands in `folder`."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    form = SubmittedForm()
    if content_type == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise FormError("multipart body without a boundary")
        sink = _MultipartSink(form, folder, max_file_bytes)
        parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
        try:
            async for chunk in request.stream():
                if chunk:
                    parser.write(chunk)
            parser.finalize()
        except MultipartParseError as exc:
            raise FormError(f"the multipart body is malformed ({exc})") from exc
        finally:
            sink.close()
        return form
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FIELD_BYTES:
            raise FormError("the form body is too long; upload audio as multipart audio_file")
    if content_type in (b"application/x-www-form-urlencoded", b""):
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        form.fields = {name: values[-1] for name, values in parsed.items()}
        return form
    raise FormError(
        f"unsupported content type {content_type.decode('latin-1')};"
        " send multipart/form-data or application/x-www-form-urlencoded"
    )


async def drain(request: Request, limit: int = DRAIN_LIMIT_BYTES) -> None:
    """Read and drop what is left of the body, up to `limit` bytes."""
    # request.stream() refuses a second pass, so read the ASGI messages directly.
    received = 0
    while received <= limit:
        message = await request.receive()
        if message["type"] != "http.request":
            return  # the client hung up
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
