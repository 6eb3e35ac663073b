"""Uploads cost nothing before they are allowed, against a real server over real sockets: an
anonymous client streaming 200 MB hears 401 before it has sent more than the kernels' buffers
hold, and the server writes nothing of it; a declared length over the limit is 413 at once; an
editor's chunked upload stops with 413 as it passes the limit, nothing beyond the limit written
and the partial file removed. /docs still shows the form."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from geo_service.layer_frame import records_to_frame

from .conftest import grid_layer, publish
from .server import server_process
from .staff import staff_token

MiB = 2**20
LIMIT = 8 * MiB
BODY = 200 * MiB
BOUNDARY = "streamed-upload"
NEVER_SENT = 64 * MiB
"""Far more than loopback socket buffers hold: a body the server does not read stays mostly
unsent."""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    meta, records, geometries = grid_layer()
    publish(data, meta, records_to_frame(meta, records, geometries))
    editor = staff_token(data, "editor")
    temporary = tmp_path_factory.mktemp("tmp")
    env = {"TMPDIR": str(temporary), "GEO_SERVICE_UPLOAD_MAX_BYTES": str(LIMIT)}
    with server_process(data, env=env) as (url, process):
        yield url, process.pid, {"Authorization": f"Bearer {editor}"}, temporary


def written(pid: int) -> int:
    """Bytes the process has passed to write() (files, sockets, logs) so far."""
    counters = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(counters["wchar"])


def _pieces(size: int) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="id"\r\n\r\nbig\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="big.geojson"\r\n\r\n'
    ).encode()
    while size > 0:
        yield b" " * min(size, 65536)
        size -= 65536


def stream_upload(url: str, headers: dict, size: int, chunked: bool) -> tuple[int, dict, int]:
    """POST /admin/layers with a file part of `size` bytes, sending only while the server
    takes it and stopping as soon as it answers: (status, answer, body bytes sent)."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    preamble_length = len(next(_pieces(0)))
    head = [
        "POST /admin/layers HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {preamble_length + size}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        connection.setblocking(False)
        pieces, outgoing, sent = _pieces(size), b"", 0
        while True:
            if not outgoing:
                piece = next(pieces, None)
                if piece is None:
                    break
                outgoing = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
            readable, writable, _ = select.select([connection], [connection], [], 30)
            if readable:
                break
            assert writable, "the server neither read nor answered for 30 s"
            count = connection.send(outgoing)
            sent, outgoing = sent + count, outgoing[count:]
        connection.settimeout(30)
        return (*_read_response(connection), sent)


def _read_response(connection: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(headers["content-length"]):
        body += connection.recv(65536)
    return int(lines[0].split()[1]), json.loads(body)


@pytest.mark.parametrize(
    ("editor", "chunked", "status", "code"),
    [
        (False, False, 401, "Unauthorized"),
        (False, True, 401, "Unauthorized"),
        (True, False, 413, "PayloadTooLarge"),  # a declared length over the limit
    ],
    ids=["anonymous", "anonymous-chunked", "length-over-the-limit"],
)
def test_a_refused_upload_is_refused_before_its_body_is_read(server, editor, chunked, status, code):
    url, pid, editor_headers, temporary = server
    before = written(pid)
    answer_status, answer, sent = stream_upload(
        url, editor_headers if editor else {}, BODY, chunked
    )
    assert answer_status == status and answer["code"] == code
    assert sent < NEVER_SENT  # the rest of the 200 MB never left the client
    assert written(pid) - before < 64 * 1024  # the answer and a log line, nothing of the body
    assert list(temporary.iterdir()) == []


def test_a_chunked_upload_stops_when_it_passes_the_limit_and_leaves_nothing(server):
    url, pid, editor, temporary = server
    before = written(pid)
    status, answer, sent = stream_upload(url, editor, BODY, chunked=True)
    assert status == 413 and answer["code"] == "PayloadTooLarge"
    assert LIMIT < sent < NEVER_SENT
    assert written(pid) - before <= LIMIT + 64 * 1024  # nothing beyond the limit was written
    assert list(temporary.iterdir()) == []  # the partial file went with its folder


@pytest.mark.parametrize(
    ("path", "method", "fields", "required"),
    [
        ("/admin/layers", "post", {"id", "metadata", "table", "crs", "wkt_field"}, {"file", "id"}),
        ("/admin/layers/{layer_id}", "put", {"metadata", "table", "crs"}, {"file"}),
        ("/admin/rasters", "post", {"id", "metadata", "crs"}, {"file", "id"}),
        ("/admin/rasters/{raster_id}", "put", {"metadata", "crs"}, {"file"}),
    ],
)
def test_the_api_documents_the_upload_forms(grid_client, path, method, fields, required):
    for document in ("/openapi.json", "/api"):
        operation = grid_client.get(document).json()["paths"][path][method]
        form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["properties"]["file"]["format"] == "binary"
        assert fields <= set(form["properties"]) and set(form["required"]) == required
        assert {"dry_run"} <= {p["name"] for p in operation["parameters"]}
