"""Several API processes, one database: two `geo-service serve` processes on different ports
against one PostgreSQL (the PostGIS store) hold no state of their own, so what GIS staff
publish, roll back or archive, a token revoked and a shortlist changed through one is what the
other serves on its very next request."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pyogrio
import pytest

from geo_service.layer_frame import records_to_frame

from .conftest import grid_layer
from .server import running_server
from .staff import admin_store, bearer, staff_token

pytestmark = pytest.mark.postgis


def call(url: str, method: str = "GET", headers: dict | None = None, body=None) -> tuple:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def feature(base: str, feature_id: str = "G-9-9") -> int:
    """The status of a feature by its id: asked twice, so that the second is read as a process
    reads a layer it has served before (awaited on its event loop, beside the catalogue)."""
    call(f"{base}/collections/grid/items/{feature_id}")
    return call(f"{base}/collections/grid/items/{feature_id}")[0]


def matched(base: str) -> int | None:
    status, body = call(f"{base}/collections/grid/items?limit=1")
    return body["numberMatched"] if status == 200 else status


def upload(base: str, headers: dict, path: Path) -> tuple:
    """PUT a new version of the grid as multipart form data."""
    boundary = "two-processes"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/geo+json\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return call(f"{base}/admin/layers/grid", "PUT", headers, body)


def test_what_one_process_changes_the_other_serves_next(tmp_path, backend):
    data = backend.claim(tmp_path / "data")
    data.mkdir()
    meta, records, geometries = grid_layer()
    backend.publish(data, meta, records_to_frame(meta, records, geometries))
    ten = tmp_path / "ten.geojson"
    pyogrio.write_dataframe(records_to_frame(meta, records[:10], geometries[:10]), ten)
    with admin_store(data) as admin:
        token, secret = admin.create_token("editor")
    editor = bearer(secret)
    boss = bearer(staff_token(data, "admin"))
    with running_server(data) as one, running_server(data) as two:
        assert one != two and matched(one) == matched(two) == 101
        assert feature(one) == feature(two) == 200
        status, report = upload(one, editor, ten)
        assert status == 200 and report["version"] == 2, report
        assert matched(two) == 10
        assert feature(two) == 404 and feature(two, "G-0-9") == 200
        assert call(f"{two}/collections/grid")[1]["version"] == 2
        status, _ = call(f"{one}/admin/layers/grid/rollback?version=1", "POST", editor)
        assert status == 200
        assert matched(two) == 101 and call(f"{two}/collections/grid")[1]["version"] == 1
        assert feature(one) == feature(two) == 200
        listed = call(f"{two}/admin/layers/grid/versions", headers=editor)[1]["versions"]
        assert [(v["version"], v["current"]) for v in listed] == [(1, True), (2, False)]
        status, archived = call(f"{two}/admin/layers/grid", "DELETE", boss)
        assert status == 200 and archived["archived"].startswith("grid-")
        assert matched(one) == 404 and feature(one) == feature(two) == 404
        assert "grid" not in [c["id"] for c in call(f"{one}/collections")[1]["collections"]]
        json_body = {"Content-Type": "application/json"}
        item = {"collection": "communes", "id": "x"}
        status, shortlist = call(f"{one}/shortlists", "POST", json_body,
                                 json.dumps({"name": "một", "items": []}).encode())  # fmt: skip
        assert status == 201, shortlist
        key = {**json_body, "X-Shortlist-Key": shortlist["edit_key"]}
        changed = json.dumps({"name": "hai", "items": [item]}).encode()
        assert call(f"{two}/shortlists/{shortlist['id']}", "PATCH", key, changed)[0] == 200
        assert call(f"{one}/shortlists/{shortlist['id']}")[1]["name"] == "hai"
        versions = "/admin/layers/grid/versions"  # archived: 404 to a valid token, else 401
        assert call(f"{one}{versions}", headers=editor)[0] == 404
        with admin_store(data) as admin:
            assert admin.revoke(token.id)
        assert call(f"{two}{versions}", headers=editor)[0] == 401
        assert call(f"{one}{versions}", headers=editor)[0] == 401
