"""Editing features over HTTP: OGC API – Features – Part 4 with ETags, bodies checked like
uploads, change sets, diffs and histories, concurrent editors (in one process and across a real
server's workers), the audit log and the OpenAPI document."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import Message

import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.layer_frame import records_to_frame
from geo_service.store.versioned import VersionedFolder

from .conftest import error_document, grid_layer, settings_of, stored_files
from .server import running_server
from .staff import bearer, staff_token

PATCH = "application/merge-patch+json"
GEOJSON = "application/geo+json"


def polygon(x: float, y: float, size: float = 0.005) -> dict:
    return json.loads(shapely.to_geojson(shapely.box(x, y, x + size, y + size)))


def feature(feature_id: str, **properties) -> dict:
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": polygon(104.5, 21.5),
        "properties": {"name_vi": f"Khu {feature_id}", "status": "planned", **properties},
    }


@pytest.fixture()
def data_dir(tmp_path, backend):
    meta, records, geometries = grid_layer()
    backend.publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    return tmp_path


@pytest.fixture()
def staff(data_dir) -> dict[str, dict[str, str]]:
    return {role: bearer(staff_token(data_dir, role)) for role in ("editor", "admin")}


@pytest.fixture()
def client(data_dir) -> TestClient:
    return TestClient(create_app(settings_of(data_dir, edit_max_body_bytes=20_000)))


def send(client: TestClient, method: str, path: str, body=None, headers=None, media=GEOJSON):
    content = None if body is None else json.dumps(body)
    heads = (headers or {}) | ({"Content-Type": media} if body is not None else {})
    return client.request(method, path, content=content, headers=heads)


def etag_of(client: TestClient, feature_id: str) -> str:
    answer = client.get(f"/collections/grid/items/{feature_id}")
    assert answer.status_code == 200
    return answer.headers["ETag"]


def versions(client: TestClient, headers: dict) -> list[int]:
    return [v["version"] for v in client.get("/admin/layers/grid/versions", headers=headers).json()["versions"]]  # fmt: skip


def test_create_replace_update_delete_each_make_a_version_with_etags_and_audit(client, staff):
    editor = staff["editor"]
    created = send(client, "POST", "/collections/grid/items", feature("NEW-1"), editor)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.endswith("/collections/grid/items/NEW-1")
    tag = created.headers["ETag"]
    assert tag.startswith('"') and created.json()["properties"]["name_vi"] == "Khu NEW-1"
    read = client.get(location)
    assert read.headers["ETag"] == tag and read.json()["properties"]["area_ha"] > 0  # derived
    assert client.get(location, headers={"If-None-Match": tag}).status_code == 304

    replaced = send(
        client, "PUT", location, feature("NEW-1", status="operating"), editor | {"If-Match": tag}
    )
    assert replaced.status_code == 200 and replaced.json()["properties"]["status"] == "operating"
    assert replaced.headers["ETag"] != tag
    patch = {
        "properties": {"developer": "Công ty A", "status": None},
        "geometry": polygon(104.6, 21.6),
    }
    updated = send(
        client, "PATCH", location, patch, editor | {"If-Match": replaced.headers["ETag"]}, PATCH
    )
    assert updated.status_code == 200, updated.text
    properties = updated.json()["properties"]
    assert properties["developer"] == "Công ty A" and properties["status"] is None
    assert properties["name_vi"] == "Khu NEW-1"  # kept
    assert updated.json()["geometry"]["coordinates"][0][0][0] == pytest.approx(104.605)
    deleted = client.delete(location, headers=editor | {"If-Match": updated.headers["ETag"]})
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get(location).status_code == 404
    assert versions(client, editor) == [1, 2, 3, 4, 5]
    entries = client.get("/admin/audit", headers=staff["admin"]).json()["entries"]
    actions = [
        (e["action"], e["details"]["version"])
        for e in entries
        if e["action"].startswith("feature.")
    ]
    assert actions == [("feature.delete", 5), ("feature.update", 4), ("feature.replace", 3), ("feature.create", 2)]  # fmt: skip
    history = client.get("/collections/grid/items/NEW-1/history").json()["revisions"]
    assert [(r["version"], r["change"]) for r in history] == [
        (2, "created"), (3, "changed"), (4, "changed"), (5, "deleted"),
    ]  # fmt: skip
    assert set(history[2]["fields"]) == {"developer", "status", "geometry", "area_ha"}
    assert history[1]["actor"] == entries[0]["actor"]


def test_changing_without_if_match_is_428_and_with_a_stale_one_412(client, staff, data_dir):
    editor = staff["editor"]
    stale = etag_of(client, "G-1-1")
    assert send(client, "PATCH", "/collections/grid/items/G-1-1", {"properties": {"developer": "X"}}, editor | {"If-Match": stale}, PATCH).status_code == 200  # fmt: skip
    before = stored_files(data_dir)
    body = feature("G-1-1")
    for method, payload, media in (("PUT", body, GEOJSON), ("PATCH", {"properties": {"developer": "Y"}}, PATCH), ("DELETE", None, GEOJSON)):  # fmt: skip
        path = "/collections/grid/items/G-1-1"
        missing = send(client, method, path, payload, editor, media)
        assert (
            missing.status_code == 428 and error_document(missing)["code"] == "PreconditionRequired"
        )
        late = send(client, method, path, payload, editor | {"If-Match": stale}, media)
        assert late.status_code == 412, late.text
        assert error_document(late)["code"] == "PreconditionFailed"
        weak = send(
            client,
            method,
            path,
            payload,
            editor | {"If-Match": "W/" + etag_of(client, "G-1-1")},
            media,
        )
        assert weak.status_code == 412  # If-Match compares strongly
    assert stored_files(data_dir) == before
    assert client.get("/collections/grid/items/G-1-1").json()["properties"]["developer"] == "X"
    anything = send(client, "PATCH", "/collections/grid/items/G-1-1", {"properties": {"developer": "Z"}}, editor | {"If-Match": "*"}, PATCH)  # fmt: skip
    assert anything.status_code == 200  # If-Match: * asks for whatever the feature holds
    gone = send(client, "DELETE", "/collections/grid/items/NOPE", None, editor | {"If-Match": "*"})
    assert gone.status_code == 404 and error_document(gone)["code"] == "NotFound"


INVALID = {
    "self-intersecting": (feature("B-1") | {"geometry": {"type": "Polygon", "coordinates": [[[104.0, 21.0], [104.01, 21.01], [104.01, 21.0], [104.0, 21.01], [104.0, 21.0]]]}}, "geometry_invalid"),
    "a point in a polygon layer": (feature("B-2") | {"geometry": {"type": "Point", "coordinates": [104.1, 21.1]}}, "geometry_family"),
    "outside the province": (feature("B-3") | {"geometry": polygon(106.9, 10.8)}, "outside_province"),
    "latitude first": (feature("B-4") | {"geometry": polygon(21.1, 104.1)}, "outside_province"),
    "not GeoJSON": (feature("B-5") | {"geometry": {"type": "Polygon", "coordinates": [1, 2]}}, "geometry_unreadable"),
    "no geometry": (feature("B-6") | {"geometry": None}, "geometry_empty"),
    "another CRS": (feature("B-7") | {"crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}, "crs_not_wgs84"),
    "a field the layer lacks": (feature("B-8", colour="red"), "field_unknown"),
    "outside the code list": (feature("B-9", status="finished"), "field_type"),
    "not an integer": (feature("B-10", approved_year="năm ngoái"), "field_type"),
    "an object as a value": (feature("B-11", developer={"name": "A"}), "field_type"),
    "no Vietnamese name": (feature("B-12") | {"properties": {"status": "planned"}}, "field_missing"),
    "two ids": (feature("B-13", code="B-14"), "id_mismatch"),
    "text holding NUL": (feature("B-15", developer="Công ty\x00A"), "text_nul"),
    "an integer past 64 bits": (feature("B-16", approved_year=2**63), "field_type"),
    "a boolean as an integer": (feature("B-17", approved_year=True), "field_type"),
    "a boolean as a number": (feature("B-18", area_ha=False), "field_type"),
    "no id": ({"type": "Feature", "geometry": polygon(104.1, 21.1), "properties": {"name_vi": "x"}}, "id_missing"),
    "not a Feature": ({"type": "FeatureCollection", "features": []}, "feature_structure"),
}  # fmt: skip


@pytest.mark.parametrize("year", [2**53 + 1, 2**63 - 1, -(2**63), "9007199254740993"])
def test_whole_numbers_are_kept_exactly_to_64_bits(client, staff, year):
    tag = etag_of(client, "G-0-1")
    changed = {"properties": {"approved_year": year}}
    answer = send(client, "PATCH", "/collections/grid/items/G-0-1", changed, staff["editor"] | {"If-Match": tag}, PATCH)  # fmt: skip
    assert answer.status_code == 200, answer.text
    read = client.get("/collections/grid/items/G-0-1").json()["properties"]["approved_year"]
    assert read == int(year) and type(read) is int


def test_invalid_features_are_400_with_a_report_and_store_nothing(client, staff, data_dir):
    editor = staff["editor"]
    before = stored_files(data_dir)
    for label, (body, finding) in INVALID.items():
        answer = send(client, "POST", "/collections/grid/items", body, editor)
        assert answer.status_code == 400, (label, answer.text)
        document = error_document(answer)
        assert document["code"] == "ValidationFailed", label
        codes = [f["code"] for f in document["report"]["findings"] if f["severity"] == "error"]
        assert finding in codes, (label, codes)
    tag = etag_of(client, "G-0-1")
    replaced = send(
        client, "PUT", "/collections/grid/items/G-0-1", feature("OTHER"), editor | {"If-Match": tag}
    )
    assert replaced.status_code == 400 and "id_mismatch" in replaced.text
    patched = send(client, "PATCH", "/collections/grid/items/G-0-1", {"properties": {"status": "x"}}, editor | {"If-Match": tag}, PATCH)  # fmt: skip
    assert patched.status_code == 400 and "field_type" in patched.text
    for content, media, status in (
        (b"", GEOJSON, 400), (b"{not json", GEOJSON, 400), (b'{"a": NaN}', GEOJSON, 400),
        (json.dumps(feature("T-1")).encode(), "text/plain", 415),
        (json.dumps(feature("T-2", name_en="x" * 30_000)).encode(), GEOJSON, 413),
        (b"[1, 2]", GEOJSON, 400),
    ):  # fmt: skip
        answer = client.post(
            "/collections/grid/items", content=content, headers=editor | {"Content-Type": media}
        )
        assert answer.status_code == status, (content[:40], answer.text)
        error_document(answer)
    assert (
        send(client, "POST", "/collections/grid/items", feature("G-0-0"), editor).status_code == 409
    )
    assert (
        send(client, "POST", "/collections/nowhere/items", feature("X"), editor).status_code == 404
    )
    assert stored_files(data_dir) == before


def test_edits_need_a_staff_token(client, staff):
    assert send(client, "POST", "/collections/grid/items", feature("A-1")).status_code == 401
    anonymous = client.delete("/collections/grid/items/G-0-0", headers={"If-Match": "*"})
    assert anonymous.status_code == 401 and error_document(anonymous)["code"] == "Unauthorized"
    assert client.get("/admin/layers/grid/diff?from=1&to=1").status_code == 401
    assert (
        send(client, "POST", "/collections/grid/items", feature("A-1"), staff["admin"]).status_code
        == 201
    )


def test_concurrent_edits_of_one_feature_exactly_one_wins(client, staff):
    tag = etag_of(client, "G-4-4")
    barrier = threading.Barrier(4)

    def edit(number: int):
        barrier.wait()
        return send(client, "PATCH", "/collections/grid/items/G-4-4", {"properties": {"developer": f"D{number}"}}, staff["editor"] | {"If-Match": tag}, PATCH)  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(edit, range(4)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 412, 412, 412], [a.text for a in answers]
    (winner,) = [a for a in answers if a.status_code == 200]
    served = client.get("/collections/grid/items/G-4-4")
    assert served.json()["properties"]["developer"] == winner.json()["properties"]["developer"]
    assert served.headers["ETag"] == winner.headers["ETag"]
    assert versions(client, staff["editor"]) == [1, 2]


def test_concurrent_edits_of_different_features_all_land(client, staff):
    ids = [f"G-{i}-{i}" for i in range(6)]
    tags = {i: etag_of(client, i) for i in ids}
    barrier = threading.Barrier(len(ids))

    def edit(feature_id: str):
        barrier.wait()
        return send(client, "PATCH", f"/collections/grid/items/{feature_id}", {"properties": {"developer": f"for {feature_id}"}}, staff["editor"] | {"If-Match": tags[feature_id]}, PATCH)  # fmt: skip

    with ThreadPoolExecutor(len(ids)) as pool:
        answers = list(pool.map(edit, ids))
    assert [a.status_code for a in answers] == [200] * len(ids), [a.text for a in answers]
    for feature_id in ids:
        developer = client.get(f"/collections/grid/items/{feature_id}").json()["properties"][
            "developer"
        ]
        assert developer == f"for {feature_id}"
    assert versions(client, staff["editor"]) == list(range(1, len(ids) + 2))


@pytest.mark.geopackage
def test_an_edit_arriving_between_another_ones_name_and_serve_lands(client, staff, monkeypatch):
    """The GeoPackage store names a new version, then serves it: an editor reading the layer's
    versions in between sees a newest version not served yet, as a pending draft would leave.
    The store decides that under the layer's lock, so the edit waits for the other one's and
    lands over it (it used to be refused as over a pending draft, 409)."""
    named, release = threading.Event(), threading.Event()
    swap = VersionedFolder._swap

    def held_swap(self, item_id: str, version: int) -> None:
        if not named.is_set():
            named.set()
            assert release.wait(30)
        swap(self, item_id, version)

    monkeypatch.setattr(VersionedFolder, "_swap", held_swap)
    tags = {i: etag_of(client, i) for i in ("G-1-1", "G-2-2")}

    def edit(feature_id: str):
        return send(client, "PATCH", f"/collections/grid/items/{feature_id}", {"properties": {"developer": feature_id}}, staff["editor"] | {"If-Match": tags[feature_id]}, PATCH)  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(edit, "G-1-1")
        assert named.wait(30)
        second = pool.submit(edit, "G-2-2")
        time.sleep(0.3)  # the second reads the versions while the first's is named, not served
        release.set()
        answers = [first.result(30), second.result(30)]
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert versions(client, staff["editor"]) == [1, 2, 3]


def test_editors_on_two_server_workers(data_dir, staff):
    """Across processes: edits of different features all land, and of one feature one wins."""
    editor = staff["editor"]
    with running_server(data_dir, workers=2) as url:

        def call(method: str, path: str, body=None, headers=None) -> tuple[int, Message, str]:
            request = urllib.request.Request(
                url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                headers=(headers or {}) | {"Content-Type": PATCH},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status, response.headers, response.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, error.headers, error.read().decode()

        ids = [f"G-{i}-{9 - i}" for i in range(6)]
        tags = {i: call("GET", f"/collections/grid/items/{i}")[1]["ETag"] for i in ids}
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(
                lambda i: call("PATCH", f"/collections/grid/items/{i}", {"properties": {"developer": i}}, editor | {"If-Match": tags[i]}),
                ids,
            ))  # fmt: skip
        assert [r[0] for r in results] == [200] * 6, results
        for i in ids:  # whichever worker answers, every edit is there
            for _ in range(3):
                body = json.loads(call("GET", f"/collections/grid/items/{i}")[2])
                assert body["properties"]["developer"] == i
        tag = call("GET", "/collections/grid/items/G-9-9")[1]["ETag"]
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(
                lambda n: call("PATCH", "/collections/grid/items/G-9-9", {"properties": {"developer": str(n)}}, editor | {"If-Match": tag}),
                range(4),
            ))  # fmt: skip
        assert sorted(r[0] for r in results) == [200, 412, 412, 412], results


def test_a_change_set_is_one_version_all_or_nothing(client, staff, data_dir):
    editor = staff["editor"]
    tags = {i: etag_of(client, i) for i in ("G-2-2", "G-2-3", "G-2-4")}
    good = [
        {"op": "create", "feature": feature("C-1")},
        {"op": "replace", "id": "G-2-2", "feature": feature("G-2-2", status="operating"), "if_match": tags["G-2-2"]},
        {"op": "update", "id": "G-2-3", "patch": {"properties": {"developer": "B"}}, "if_match": tags["G-2-3"]},
        {"op": "delete", "id": "G-2-4", "if_match": tags["G-2-4"]},
    ]  # fmt: skip
    before = stored_files(data_dir)
    refused = {
        "an invalid feature": (good + [{"op": "create", "feature": feature("C-2", status="nope")}], 400),
        "no ETag": (good + [{"op": "delete", "id": "G-3-3"}], 428),
        "a stale ETag": (good + [{"op": "delete", "id": "G-3-3", "if_match": tags["G-2-2"]}], 412),
        "a feature twice": (good + [{"op": "update", "id": "G-2-2", "patch": {}, "if_match": tags["G-2-2"]}], 400),
        "an unknown op": (good + [{"op": "rename", "id": "G-3-3"}], 400),
        "a replace without a feature": ([{"op": "replace", "id": "G-3-3", "if_match": "x"}], 400),
        "an old base": (good, 409),
    }  # fmt: skip
    for label, (changes, status) in refused.items():
        body = {"changes": changes} | ({"base_version": 7} if label == "an old base" else {})
        answer = client.post("/admin/layers/grid/changes", json=body, headers=editor)
        assert answer.status_code == status, (label, answer.text)
        error_document(answer)
        assert stored_files(data_dir) == before, label
    invalid = client.post("/admin/layers/grid/changes", json={"changes": refused["an invalid feature"][0]}, headers=editor)  # fmt: skip
    assert invalid.json()["report"]["findings"][0]["examples"] == ["C-2"]
    answer = client.post("/admin/layers/grid/changes", json={"changes": good, "base_version": 1}, headers=editor)  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.json() | {"links": None} == {
        "layer": "grid", "version": 2, "draft": False, "links": None,
        "counts": {"create": 1, "replace": 1, "update": 1, "delete": 1},
    }  # fmt: skip
    diff = client.get("/admin/layers/grid/diff", params={"from": 1, "to": 2}, headers=editor).json()
    assert diff["counts"] == {"added": 1, "removed": 1, "changed": 2}
    changes = {d["id"]: d for d in diff["features"]}
    assert changes["G-2-3"]["fields"] == {"developer": {"before": "Developer 3", "after": "B"}}
    assert changes["G-2-3"]["geometry_moved_m"] is None
    assert changes["G-2-2"]["geometry_moved_m"] > 40_000  # moved from 104.02° to 104.5° E
    assert (
        client.get(
            "/admin/layers/grid/diff", params={"from": 1, "to": 9}, headers=editor
        ).status_code
        == 404
    )
    assert (
        client.get("/admin/layers/grid/diff", params={"from": 1}, headers=editor).status_code == 400
    )
    entry = client.get("/admin/audit", headers=staff["admin"]).json()["entries"][0]
    assert entry["action"] == "layer.changes" and entry["details"]["counts"]["create"] == 1


def test_drafts_of_change_sets_and_the_publish_preview(client, staff):
    editor = staff["editor"]
    tag = etag_of(client, "G-7-7")
    draft = client.post(
        "/admin/layers/grid/changes",
        json={"draft": True, "changes": [{"op": "update", "id": "G-7-7", "patch": {"properties": {"developer": "Nháp"}}, "if_match": tag}]},
        headers=editor,
    )  # fmt: skip
    assert draft.status_code == 201 and draft.json()["draft"] is True
    assert client.get("/collections/grid/items/G-7-7").headers["ETag"] == tag  # not served
    assert (
        client.get("/collections/grid/items/G-7-7/history").json()["revisions"][-1]["version"] == 1
    )
    # a Part 4 edit over a pending draft would serve it unseen
    conflict = send(client, "PATCH", "/collections/grid/items/G-0-0", {"properties": {"developer": "x"}}, editor | {"If-Match": etag_of(client, "G-0-0")}, PATCH)  # fmt: skip
    assert conflict.status_code == 409 and "draft" in conflict.json()["description"]
    preview = client.get("/admin/layers/grid/publish", headers=editor).json()
    assert (preview["served"], preview["draft"]) == (1, 2)
    assert preview["diff"]["counts"] == {"added": 0, "removed": 0, "changed": 1}
    assert preview["diff"]["features"][0]["fields"]["developer"]["after"] == "Nháp"
    assert preview["versions"][0]["report"] == {"findings": []}
    assert preview["review"] == {"required": False, "may_publish": True}
    assert client.post("/admin/layers/grid/publish", headers=editor).status_code == 200
    assert client.get("/collections/grid/items/G-7-7").json()["properties"]["developer"] == "Nháp"
    assert client.get("/admin/layers/grid/publish", headers=editor).status_code == 400  # no draft


def test_the_openapi_document_describes_the_edits(client):
    document = client.get("/openapi.json").json()
    items = document["paths"]["/collections/{collection_id}/items"]
    item = document["paths"]["/collections/{collection_id}/items/{feature_id}"]
    assert "requestBody" in items["post"] and "201" in items["post"]["responses"]
    assert {"get", "put", "patch", "delete"} <= set(item)
    assert "application/merge-patch+json" in item["patch"]["requestBody"]["content"]
    for method in ("put", "patch", "delete"):
        assert {"412", "428"} <= set(item[method]["responses"]), method
        assert any(p["name"] == "If-Match" for p in item[method]["parameters"]), method
    assert "/collections/{collection_id}/items/{feature_id}/history" in document["paths"]
    assert "/admin/layers/{layer_id}/changes" in document["paths"]
    assert "/admin/layers/{layer_id}/diff" in document["paths"]
    conformance = client.get("/conformance").json()["conformsTo"]
    assert (
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"
        in conformance
    )
