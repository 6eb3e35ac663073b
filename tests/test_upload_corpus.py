"""The upload corpus: every hostile or careless upload we know of, for layers and rasters, each
refused with a 4xx JSON `{code, description}` (bilingual), leaving the data directory as it was
(every file hashed; the audit log and tokens compared row by row) and no temporary file behind
(the temporary directory is a folder of the test's, checked empty after every upload)."""

from __future__ import annotations

import json
import sqlite3
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.ingest.read import XML_CHUNK

from .conftest import stored_files
from .raster_data import write_tiff
from .staff import admin_store, staff_token
from .test_upload import (
    NEW_LAYER_METADATA,
    _shapefile_members,
    _zip,
    as_file,
    hostile_files,
    zones_frame,
)

MAX_BYTES = 5_000_000
MAX_GEOMETRY_BYTES = 8192
BOUNDARY = "corpus-boundary"
Send = Callable[[TestClient, dict], object]
Case = tuple[str, int, str, Send]
"""What is sent, the status it must get, words the answer must hold (why), and how to send."""


def snapshot(data: Path) -> dict:
    """Every stored file's hash, and the tokens and audit log."""
    with admin_store(data) as admin:
        return {"files": stored_files(data), "audit": admin.audit(), "tokens": admin.tokens()}


def post_layer(path: Path, name: str | None = None, **form) -> Send:
    data = {"id": "hostile", "metadata": NEW_LAYER_METADATA} | form
    files = {"file": (name or path.name, path.read_bytes())}
    return lambda client, headers: client.post(
        "/admin/layers", files=files, data=data, headers=headers
    )


def put_layer(path: Path, **form) -> Send:
    files = {"file": (path.name, path.read_bytes())}
    return lambda client, headers: client.put(
        "/admin/layers/zones", files=files, data=form, headers=headers
    )


def raw(url: str, body: bytes | Callable[[], Iterator[bytes]], method: str = "post") -> Send:
    """A hand-made body; one made by a generator is sent chunked, without Content-Length."""
    content_type = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    def send(client, auth):
        content = body if isinstance(body, bytes) else body()
        return client.request(method, url, content=content, headers=content_type | auth)

    return send


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


def end() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def oversized_file(
    name: str = "big.geojson", id_: bytes | None = b"hostile"
) -> Callable[[], Iterator[bytes]]:
    """A file part one byte over the limit, sent chunked: only counting the bytes can stop it.
    (The test client reads a whole body before sending it, so it must end.)"""

    def chunks() -> Iterator[bytes]:
        yield (b"" if id_ is None else part("id", id_)) + part("file", b"", name)[:-2]
        left = MAX_BYTES + 1
        while left > 0:
            yield b" " * min(left, 65536)
            left -= 65536

    return chunks


def gpkg(tmp_path: Path, name: str, sql: str = "", frame=None) -> Path:
    path = as_file(zones_frame() if frame is None else frame, tmp_path, name, "GPKG", layer="zones")
    if sql:
        with sqlite3.connect(path) as db:
            db.executescript(sql)
    return path


def geojson(tmp_path: Path, name: str, **columns) -> Path:
    frame = zones_frame()
    for column, values in columns.items():
        frame[column] = values
    return as_file(frame, tmp_path, name, "GeoJSON")


def lying_zip(tmp_path: Path) -> Path:
    """A Shapefile archive whose headers say every member unpacks to one byte."""
    (tmp_path / "lying").mkdir()
    members = _shapefile_members(tmp_path / "lying")
    data = bytearray(_zip(tmp_path, "honest.zip", members).read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset : at + offset + 4] = struct.pack("<I", 1)
            at = data.find(signature, at + 4)
    path = tmp_path / "lying.zip"
    path.write_bytes(data)
    return path


def split_doctype_kml(tmp_path: Path) -> Path:
    """A KML whose `<!DOCTYPE` (an external DTD, no ENTITY) straddles the reader's chunks."""
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n<!--'
    tail = b'--><!DOCTYPE kml SYSTEM "http://127.0.0.1:9/evil.dtd"><kml><Document/></kml>'
    padding = XML_CHUNK - 4 - len(head) - 3
    content = head + b" " * padding + tail
    assert content[XML_CHUNK - 4 : XML_CHUNK + 5] == b"<!DOCTYPE"
    path = tmp_path / "split.kml"
    path.write_bytes(content)
    return path


def layer_cases(tmp_path: Path) -> list[Case]:
    (tmp_path / "good").mkdir()
    good_zip = _zip(tmp_path, "good.zip", _shapefile_members(tmp_path / "good"))
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good_zip.read_bytes()[:300])
    png = tmp_path / "image.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    fid = tmp_path / "fid.csv"
    fid.write_text("fid,code,name_vi,lon,lat\n1,C-1,Điểm,104.6,20.85\n", encoding="utf-8")
    geometry_property = tmp_path / "property.geojson"
    geometry_property.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": "A", "name_vi": "Khu", "geometry": "x"},
                        "geometry": {"type": "Point", "coordinates": [104.6, 20.85]},
                    }
                ],
            }
        )  # fmt: skip
    )
    big_geometry = zones_frame()
    big_geometry.loc[0, "geometry"] = shapely.Point(104.6, 20.85).buffer(0.01, quad_segs=256)
    attributes = (
        "CREATE TABLE attrs (a TEXT); INSERT INTO gpkg_contents (table_name, data_type, "
        "identifier) VALUES ('attrs', 'attributes', 'attrs');"
    )
    why = {"zip slip": "outside the archive", "absolute path": "outside the archive",
           "symlink": "symbolic link", "zip bomb": "zip bomb", "too many members": "the limit is 50",
           "xml entities": "DOCTYPE", "claims another format": "named as gpkg",
           "corrupt geopackage": "corrupt", "too many bytes": "5,000,000"}  # fmt: skip
    cases: list[Case] = []
    for label, (path, status) in hostile_files(tmp_path).items():
        cases.append((f"{label} (POST)", status, why[label], post_layer(path)))
        cases.append((f"{label} (PUT)", status, why[label], put_layer(path)))
    cases += [
        ("corrupt zip", 400, "archive is corrupt", post_layer(truncated)),
        ("zip whose headers lie about sizes", 400, "Bad CRC", post_layer(lying_zip(tmp_path))),
        ("zip named .geojson", 400, "content is shp", post_layer(good_zip, "zones.geojson")),
        ("GeoPackage named .csv", 400, "content is gpkg", post_layer(gpkg(tmp_path, "g.gpkg"), "zones.csv")),
        ("PNG named .csv", 400, "PNG image", post_layer(png, x_field="lon", y_field="lat")),
        ("table= an attribute table", 400, "'attrs' has no geometry",
         post_layer(gpkg(tmp_path, "a.gpkg", attributes), table="attrs")),
        ("table= a missing table", 400, "no table 'nothing'", post_layer(gpkg(tmp_path, "m.gpkg"), table="nothing")),
        ("no feature table", 400, "no feature table",
         post_layer(gpkg(tmp_path, "n.gpkg", "DELETE FROM gpkg_contents;"))),
        ("CODE beside code", 400, "'CODE' differs only in case from 'code'",
         post_layer(geojson(tmp_path, "c.geojson", CODE=["a", "b", "c"]))),
        ("Name_VI beside name_vi", 400, "'Name_VI' differs only in case",
         post_layer(geojson(tmp_path, "n.geojson", Name_VI=["a", "b", "c"]))),
        ("STATUS, the kind's status in capitals", 400, "'STATUS' differs only in case",
         post_layer(geojson(tmp_path, "s.geojson", STATUS=["x"] * 3))),
        ("a column named geom", 400, "column named geom",
         post_layer(geojson(tmp_path, "g.geojson", geom=[1, 2, 3]))),
        ("a property named geometry", 400, "column named geometry", post_layer(geometry_property)),
        ("a column named fid", 400, "column named fid",
         post_layer(fid, x_field="lon", y_field="lat", crs="EPSG:4326")),
        ("values outside a code list", 400, "outside its code list: 'bogus', 'Planned'",
         post_layer(geojson(tmp_path, "v.geojson", status=["planned", "bogus", "Planned"]))),
        ("DOCTYPE split across read chunks", 400, "DOCTYPE", post_layer(split_doctype_kml(tmp_path))),
        ("view over a recursive CTE as gpkg_contents", 400, "views (gpkg_contents)",
         post_layer(gpkg(tmp_path, "cte.gpkg", (
            "ALTER TABLE gpkg_contents RENAME TO contents; CREATE VIEW gpkg_contents AS "
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3000000) "
            "SELECT c.* FROM contents c, r WHERE r.n = 3000000;")))),
        ("view of zeroblob geometries", 400, "views (zones)", post_layer(gpkg(tmp_path, "zero.gpkg", (
            "ALTER TABLE zones RENAME TO zones_data; CREATE VIEW zones AS SELECT fid, "
            "zeroblob(50000000) AS geom, code, name_vi, status FROM zones_data;")))),
        ("a column computed on every read", 400, "computed on every read (heavy)",
         post_layer(gpkg(tmp_path, "gen.gpkg",
                         "ALTER TABLE zones ADD COLUMN heavy TEXT AS (hex(zeroblob(50000000)));"))),
        ("a virtual table that is not an R-tree", 400, "virtual table 'notes'",
         post_layer(gpkg(tmp_path, "fts.gpkg", "CREATE VIRTUAL TABLE notes USING fts5(text);"))),
        ("a geometry over the size limit", 413, "larger than 8,192 bytes",
         post_layer(gpkg(tmp_path, "huge.gpkg", frame=big_geometry))),
        ("a new layer without data_quality", 400, "must state its data_quality",
         post_layer(gpkg(tmp_path, "dq.gpkg"), metadata="{}")),
        ("metadata with NaN", 400, "NaN is not a JSON number",
         post_layer(gpkg(tmp_path, "nan.gpkg"), metadata='{"title_vi": NaN}')),
        ("PUT on a layer that does not exist", 404, "no layer 'nothing'", lambda c, h: c.put(
            "/admin/layers/nothing", files={"file": ("z.gpkg", b"x")}, headers=h)),
        ("not multipart", 415, "multipart/form-data",
         lambda c, h: c.post("/admin/layers", json={"id": "x"}, headers=h)),
        ("multipart without a boundary", 400, "no boundary", lambda c, h: c.post(
            "/admin/layers", content=b"x", headers=h | {"Content-Type": "multipart/form-data"})),
        ("truncated multipart", 400, "before its closing boundary",
         raw("/admin/layers", part("id", b"hostile") + part("file", b'{"type"', "z.geojson")[:-2])),
        ("unknown field", 400, "unknown field 'colour'",
         raw("/admin/layers", part("id", b"hostile") + part("colour", b"red") + end())),
        ("no file", 400, "no `file`", raw("/admin/layers", part("id", b"hostile") + end())),
        ("no id", 400, "lacks id", raw("/admin/layers", part("file", b"{}", "z.geojson") + end())),
        ("two files", 400, "'file' more than once", raw("/admin/layers", part("file", b"{}", "a.geojson")
                                                         + part("file", b"{}", "b.geojson") + end())),
        ("text field not UTF-8", 400, "not UTF-8", raw("/admin/layers", part("id", b"\xff\xfe") + end())),
        ("text fields too large", 413, "65,536 bytes",
         raw("/admin/layers", part("metadata", b" " * 70_000) + end())),
        ("a file over the limit, chunked", 413, "limit of 5,000,000 bytes",
         raw("/admin/layers", oversized_file())),
        ("an existing id, before its file is read", 409, "'zones' exists",
         raw("/admin/layers", oversized_file(id_=b"zones"))),
    ]  # fmt: skip
    return cases


def raster_cases(tmp_path: Path) -> list[Case]:
    text = tmp_path / "text.tif"
    text.write_text("not a raster")
    tiff = write_tiff(tmp_path / "r.tif", np.ones((10, 10), dtype="float32"), nodata=0)
    meta = json.dumps({"title_vi": "Thử", "title_en": "Test"})

    def post(path: Path, **form) -> Send:
        data = {"id": "refused", "metadata": meta} | form
        files = {"file": (path.name, path.read_bytes())}
        return lambda c, h: c.post("/admin/rasters", files=files, data=data, headers=h)

    return [
        ("raster: not a raster", 400, "not a raster", post(text)),
        ("raster: an existing id", 409, "'terrain' exists", post(tiff, id="terrain")),
        ("raster: an existing id, before its file is read", 409, "'terrain' exists",
         raw("/admin/rasters", oversized_file("big.tif", id_=b"terrain"))),
        ("raster: non-finite metadata", 400, "Infinity is not a JSON number",
         post(tiff, metadata='{"title_vi": "a", "title_en": "b", "nodata": Infinity}')),
        ("raster: unknown field", 400, "unknown field 'table'",
         raw("/admin/rasters", part("id", b"x") + part("table", b"t") + end())),
        ("raster: a file over the limit, chunked", 413, "limit of 5,000,000 bytes",
         raw("/admin/rasters", oversized_file("big.tif"))),
        ("raster: PUT, a file over the limit", 413, "limit of 5,000,000 bytes",
         raw("/admin/rasters/terrain", oversized_file("big.tif", id_=None), "put")),
        ("raster: PUT on a raster that does not exist", 404, "no raster 'nothing'", lambda c, h: c.put(
            "/admin/rasters/nothing", files={"file": ("r.tif", b"x")}, headers=h)),
    ]  # fmt: skip


@pytest.fixture()
def world(tmp_path, monkeypatch, backend):
    data = backend.claim(tmp_path / "data")
    data.mkdir()
    editor = staff_token(data, "editor")
    headers = {"Authorization": f"Bearer {editor}"}
    settings = backend.settings(
        data, upload_max_bytes=MAX_BYTES, upload_max_geometry_bytes=MAX_GEOMETRY_BYTES
    )
    client = TestClient(create_app(settings))
    files = tmp_path / "files"
    files.mkdir()
    zones = as_file(zones_frame(), files, "zones.geojson", "GeoJSON")
    assert client.post("/admin/layers", files={"file": ("zones.geojson", zones.read_bytes())},
                       data={"id": "zones", "metadata": NEW_LAYER_METADATA},
                       headers=headers).status_code == 201  # fmt: skip
    tiff = write_tiff(files / "t.tif", np.ones((20, 20), dtype="float32"), nodata=0)
    registered = client.post("/admin/rasters", files={"file": ("t.tif", tiff.read_bytes())},
                             data={"id": "terrain", "metadata": json.dumps(
                                 {"title_vi": "Địa hình", "title_en": "Terrain"})},
                             headers=headers)  # fmt: skip
    assert registered.status_code == 201, registered.text
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    return client, headers, data, files, temporary


def test_every_hostile_upload_is_a_clean_4xx_that_changes_nothing(world):
    client, headers, data, files, temporary = world
    cases = layer_cases(files) + raster_cases(files)
    cases += [
        (f"anonymous: {label}", 401, "needs a GIS staff token", send)
        for label, _, _, send in cases[:3] + cases[-3:]
    ]  # the same uploads without a token
    before = snapshot(data)
    assert len(cases) > 60
    for label, status, why, send in cases:
        auth = {} if label.startswith("anonymous") else headers
        response = send(client, auth)
        assert response.status_code == status, (label, response.text[:500])
        body = response.json()
        assert body["code"] and " / " in body["description"], (label, body)
        assert why in response.text, (label, why, response.text[:500])
        assert snapshot(data) == before, label
        assert list(temporary.iterdir()) == [], label
    assert client.get("/collections/zones/items").json()["numberMatched"] == 3
    assert client.get("/rasters/terrain").json()["version"] == 1


def test_a_geopackage_whose_own_sql_outlasts_the_budget_is_refused(world, tmp_path):
    """The budget is the progress handler's: set below any real check, the check stops."""
    world_client, headers, data, files, temporary = world
    client = TestClient(create_app(world_client.app.state.settings.model_copy(
        update={"upload_check_seconds": 1e-9})))  # fmt: skip
    many = pd.concat([zones_frame()] * 2000, ignore_index=True)
    many["code"] = [f"Z-{i}" for i in range(len(many))]
    response = post_layer(gpkg(files, "many.gpkg", frame=many))(client, headers)
    assert response.status_code == 400 and response.json()["code"] == "UploadTooSlow"
    assert "1e-09 s" in response.json()["description"]
    assert list(temporary.iterdir()) == []
