"""Receive an upload's multipart body ourselves, so that it costs nothing before it is allowed.

FastAPI reads a declared form before the route's dependencies run, spooling the whole body to
temporary disk: an anonymous client could fill the disk before hearing 401. Upload routes
therefore declare no form parameters (`UploadForm.openapi` describes the form for /docs),
authenticate from the headers, and only then read the body here:

- a `Content-Length` over the limit is 413 before one byte is read;
- the file part goes straight to one file in a private temporary folder, counted as it arrives,
  and 413 comes as soon as it passes the limit, with nothing beyond the limit written;
- the text fields are small and bounded, unknown or repeated fields are 400;
- the folder, and whatever was written to it, goes with the request, however it ended.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from .. import strict_json
from ..errors import InvalidParameter, TooLarge, UnsupportedMediaType, check_existence
from ..i18n import _l, said

TEXT_BYTES = 64 * 1024
"""Most bytes of all the text fields of one form together (metadata and options)."""
FRAMING_BYTES = 64 * 1024
"""Room for the multipart boundaries and part headers beside the file and the text fields."""
MAX_PARTS = 16


@dataclass(frozen=True)
class UploadForm:
    """The form one kind of upload takes: a `file` part and some text fields."""

    file: str
    """What the file may be (for /docs)."""
    fields: dict[str, dict[str, Any]]
    """Each text field's JSON schema, with its description."""
    required: tuple[str, ...] = ()
    """Text fields that must be given."""

    def openapi(self) -> dict[str, Any]:
        """The request body to declare through the route's `openapi_extra`."""
        properties = {"file": {"type": "string", "format": "binary", "description": self.file}}
        schema = {
            "type": "object",
            "required": ["file", *self.required],
            "properties": properties | self.fields,
        }
        return {
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": schema}},
            }
        }


@dataclass
class ReceivedForm:
    file: Path
    """The uploaded file, in a temporary folder that is removed after the request."""
    filename: str
    """The name the client gave it (without any folders)."""
    fields: dict[str, str] = field(default_factory=dict)


def _too_large(limit: int) -> TooLarge:
    return TooLarge(_l("the upload is larger than the limit of {limit:,} bytes", limit=limit))


@contextlib.asynccontextmanager
async def receive_form(
    request: Request,
    form: UploadForm,
    limit: int,
    saved_as: Callable[[str], str],
    on_field: Callable[[str, str], None] = lambda name, value: None,
) -> AsyncIterator[ReceivedForm]:
    """Read the request's multipart body as `form`, the file at most `limit` bytes and saved
    under the name `saved_as(client's file name)`; the file lives as long as the context.

    `on_field(name, value)` sees each text field as soon as it is complete: what it refuses is
    refused before the rest of the body (a file sent after the `id`) is read."""
    boundary = _boundary(request)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + TEXT_BYTES + FRAMING_BYTES:
        raise TooLarge(
            _l(
                "the upload is {value:,} bytes; the limit is {limit:,} bytes",
                value=int(length),
                limit=limit,
            )
        )
    with tempfile.TemporaryDirectory(prefix="geo-service-upload-") as folder:
        receiver = _Receiver(form, Path(folder), limit, saved_as, on_field)
        try:
            await receiver.read(request, boundary)
        finally:
            receiver.close()
        yield receiver.result()


def refuse_an_existing_id(exists: Callable[[str], bool], what: str) -> Callable[[str, str], None]:
    """An `on_field` for the form of a new layer or raster: 409 as soon as its `id` arrives,
    if `exists(id)`, before the file sent after it is read (asked again as it is published)."""

    def check(name: str, value: str) -> None:
        if name == "id":
            check_existence(what, value, exists(value), True)

    return check


def parse_metadata(text: str | None) -> dict:
    """The `metadata` form field: a JSON object, or nothing."""
    try:
        metadata = strict_json.loads(text) if text else {}
    except strict_json.StrictJSONError as exc:
        raise InvalidParameter(_l("metadata: {problem}", problem=said(exc))) from None
    if not isinstance(metadata, dict):
        raise InvalidParameter(_l("metadata must be a JSON object"))
    return metadata


def _boundary(request: Request) -> bytes:
    media_type, options = parse_options_header(request.headers.get("content-type"))
    if media_type != b"multipart/form-data":
        raise UnsupportedMediaType(_l("send the upload as multipart/form-data (curl -F file=@…)"))
    if not options.get(b"boundary"):
        raise InvalidParameter(_l("the multipart body has no boundary"))
    return options[b"boundary"]


class _Receiver:
    """The callbacks of python-multipart's streaming parser, writing the file part to disk."""

    def __init__(
        self,
        form: UploadForm,
        folder: Path,
        limit: int,
        saved_as: Callable[[str], str],
        on_field: Callable[[str, str], None],
    ) -> None:
        self.form, self.folder, self.limit, self.saved_as = form, folder, limit, saved_as
        self.on_field = on_field
        self.fields: dict[str, str] = {}
        self.file: Path | None = None
        self.filename = ""
        self.out: IO[bytes] | None = None
        self.pending: list[bytes] = []
        """File bytes parsed but not yet written (written off the event loop)."""
        self.file_bytes = self.text_bytes = self.parts = 0
        self.complete = False
        self._reset_part()

    def _reset_part(self) -> None:
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.disposition = b""
        self.name: str | None = None
        self.text = bytearray()
        self.in_file = False

    async def read(self, request: Request, boundary: bytes) -> None:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )
        body_limit = self.limit + TEXT_BYTES + FRAMING_BYTES
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > body_limit:
                    raise _too_large(self.limit)
                parser.write(chunk)
                if self.pending:
                    await run_in_threadpool(self._write_pending)
            parser.finalize()
        except FormParserError as exc:
            raise InvalidParameter(_l("the multipart body is malformed: {exc}", exc=exc)) from None
        except ClientDisconnect:
            raise InvalidParameter(_l("the upload was interrupted")) from None

    def result(self) -> ReceivedForm:
        if not self.complete:
            raise InvalidParameter(_l("the multipart body ends before its closing boundary"))
        if self.file is None:
            raise InvalidParameter(_l("the form has no `file` (curl -F file=@path)"))
        missing = [name for name in self.form.required if not self.fields.get(name)]
        if missing:
            raise InvalidParameter(_l("the form lacks {value}", value=", ".join(missing)))
        return ReceivedForm(self.file, self.filename, self.fields)

    def close(self) -> None:
        if self.out is not None:
            self.out.close()

    def _write_pending(self) -> None:
        assert self.out is not None
        for data in self.pending:
            self.out.write(data)
        self.pending.clear()

    # -- parser callbacks ---------------------------------------------------------------------
    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise InvalidParameter(
                _l("the form has more than {max_parts} parts", max_parts=MAX_PARTS)
            )
        self._reset_part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = bytes(self.header_value)
        self.header_name, self.header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name != "file" and name not in self.form.fields:
            allowed = ", ".join(["file", *self.form.fields])
            raise InvalidParameter(
                _l(
                    "the form has an unknown field {value!r}; it takes: {allowed}",
                    value=name[:40],
                    allowed=allowed,
                )
            )
        if name in self.fields or (name == "file" and self.file is not None):
            raise InvalidParameter(_l("the form gives {name!r} more than once", name=name))
        self.name = name
        if name == "file":
            given = options.get(b"filename", b"upload").decode("utf-8", "replace")
            self.filename = PurePosixPath(given.replace("\\", "/")).name[:255] or "upload"
            self.file = self.folder / self.saved_as(self.filename)
            self.out = self.file.open("xb")
            self.in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.file_bytes += end - start
            if self.file_bytes > self.limit:
                raise _too_large(self.limit)
            self.pending.append(data[start:end])
            return
        self.text_bytes += end - start
        if self.text_bytes > TEXT_BYTES:
            raise TooLarge(
                _l(
                    "the form's text fields hold more than {text_bytes:,} bytes",
                    text_bytes=TEXT_BYTES,
                )
            )
        self.text += data[start:end]

    def _part_end(self) -> None:
        if self.in_file or self.name is None:
            return
        try:
            self.fields[self.name] = self.text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameter(
                _l("the field {name!r} is not UTF-8 text", name=self.name)
            ) from None
        self.on_field(self.name, self.fields[self.name])

    def _end(self) -> None:
        self.complete = True
