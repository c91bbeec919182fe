"""A multipart/form-data body read straight from disk, for uploads of any size.

requests builds a `files=` body in memory, which for an hour of float WAV is
gigabytes. This body is a file-like object of known length instead: requests
sends it with a Content-Length and http.client reads it in blocks, so memory
stays flat however long the recording is.
"""

from __future__ import annotations

import mimetypes
import os
import uuid
from pathlib import Path
from typing import BinaryIO

__all__ = ["MultipartFile"]


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


class MultipartFile:
    """Form fields and one file as a readable, rewindable multipart body."""

    def __init__(self, fields: dict[str, str], file_field: str, path: Path) -> None:
        self.boundary = uuid.uuid4().hex
        self.path = path
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"'
            f"\r\n\r\n{value}\r\n".encode()
            for name, value in fields.items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quoted(file_field)}";'
            f' filename="{_quoted(path.name)}"\r\nContent-Type: {mime}\r\n\r\n'
        ).encode()
        self._head = head
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._file_size = os.fstat(self._file.fileno()).st_size
        self._position = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._file_size + len(self._tail)

    def rewind(self) -> None:
        """Back to the first byte, for a retried request."""
        self._position = 0
        self._file.seek(0)

    def read(self, size: int = -1) -> bytes:
        total = len(self)
        if size is None or size < 0:
            size = total - self._position
        out = bytearray()
        while size > len(out) and self._position < total:
            out += self._read_some(size - len(out))
        return bytes(out)

    def _read_some(self, size: int) -> bytes:
        head, body_end = len(self._head), len(self._head) + self._file_size
        if self._position < head:
            piece = self._head[self._position : self._position + size]
        elif self._position < body_end:
            self._file.seek(self._position - head)
            piece = self._file.read(min(size, body_end - self._position))
            if not piece:  # the file shrank under us: fail loudly rather than send a lie
                raise OSError(f"{self.path} changed while it was being uploaded")
        else:
            offset = self._position - body_end
            piece = self._tail[offset : offset + size]
        self._position += len(piece)
        return piece

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> MultipartFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
