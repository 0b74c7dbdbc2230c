"""Receiving an import file: the request body streamed into a spool file, never held whole.

Accepted: `multipart/form-data` with the file in the part named `file`, or the file itself as
the body with Content-Type `text/csv` or `application/x-ndjson`. The body's size is limited
where every request's is (`import_max_bytes`, main.py).
"""

from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, TYPE_CHECKING

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from order_sync.imports.exceptions import BadUpload
from order_sync.imports.schemas import FORMAT_BY_EXTENSION, ImportFormat

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

_MEDIA_TYPES = {
    "text/csv": ImportFormat.CSV,
    "application/csv": ImportFormat.CSV,
    "application/x-ndjson": ImportFormat.NDJSON,
    "application/ndjson": ImportFormat.NDJSON,
    "application/jsonl": ImportFormat.NDJSON,
    "application/x-jsonlines": ImportFormat.NDJSON,
}


@dataclass(frozen=True, slots=True)
class Upload:
    file_name: str | None
    format: ImportFormat
    size: int


async def receive(request: Request, *, out: IO[bytes], fmt: ImportFormat | None) -> Upload:
    """Stream the request's file into `out`; raises `BadUpload` (415 or 422)."""
    media_type, params = parse_options_header(request.headers.get("content-type"))
    kind = media_type.decode("latin-1").lower()
    if kind == "multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise BadUpload(422, "header.content-type", "the multipart boundary is missing")
        part = _FilePart(out)
        parser = MultipartParser(boundary, part.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not part.found:
            raise BadUpload(422, "file", "the form has no part named file")
        detected = (
            fmt
            or _MEDIA_TYPES.get(part.media_type)
            or FORMAT_BY_EXTENSION.get(PurePath(part.file_name or "").suffix.lower())
        )
        return _checked(Upload(part.file_name, _format(detected), part.size), field="file")
    if kind not in _MEDIA_TYPES:
        raise BadUpload(
            415,
            "header.content-type",
            "send the file as multipart/form-data (part `file`), text/csv or application/x-ndjson",
        )
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        out.write(chunk)
    return _checked(Upload(None, fmt or _MEDIA_TYPES[kind], size), field="body")


def _format(detected: ImportFormat | None) -> ImportFormat:
    if detected is None:
        raise BadUpload(
            422,
            "query.format",
            "cannot tell the file's format: name it .csv or .ndjson, give its part a "
            "Content-Type, or pass format=csv|ndjson",
        )
    return detected


def _checked(upload: Upload, *, field: str) -> Upload:
    if upload.size == 0:
        raise BadUpload(422, field, "the file is empty")
    return upload


class _FilePart:
    """Collects the part named `file` of a multipart body into `out`; other parts are skipped."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._headers: dict[str, bytes] = {}
        self._field = b""
        self._value = b""
        self._writing = False
        self.found = False
        self.file_name: str | None = None
        self.media_type = ""
        self.size = 0

    def callbacks(self) -> "MultipartCallbacks":
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._field = self._value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get("content-disposition"))
        if disposition.get(b"name") != b"file" or self.found:
            return
        self.found = self._writing = True
        raw_name = disposition.get(b"filename")
        # Only the base name: it is shown back, never used as a path.
        self.file_name = (
            PurePath(raw_name.decode("utf-8", "replace")).name[:255] if raw_name else None
        )
        media_type, _ = parse_options_header(self._headers.get("content-type"))
        self.media_type = media_type.decode("latin-1").lower()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._writing:
            return
        self.size += end - start
        self._out.write(data[start:end])

    def _part_end(self) -> None:
        self._writing = False
