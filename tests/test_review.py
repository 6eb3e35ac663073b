"""Review required (GEO_SERVICE_REVIEW=required): every upload, change set and feature edit is a
draft; only a reviewer or admin who made none of the drafts publishes them, after seeing their
reports and the diff; comments and publishing are in the audit log."""

from __future__ import annotations

import json

import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.layer_frame import records_to_frame

from .conftest import error_document, grid_layer, settings_of
from .staff import admin_store, staff_token
from .test_upload import as_file, zones_frame

PATCH = "application/merge-patch+json"


@pytest.fixture()
def setup(tmp_path, backend):
    meta, records, geometries = grid_layer()
    backend.publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    tokens = {}
    with admin_store(tmp_path) as admin:
        for name, role in (("ana", "editor"), ("bao", "editor"), ("chi", "reviewer"),
                           ("dung", "reviewer"), ("boss", "admin")):  # fmt: skip
            token, secret = admin.create_token(role, name)
            tokens[name] = ({"Authorization": f"Bearer {secret}"}, f"token:{token.id}")
    client = TestClient(create_app(settings_of(tmp_path, review="required")))
    return client, tokens


def edit(client, who, feature_id: str, developer: str):
    tag = client.get(f"/collections/grid/items/{feature_id}").headers["ETag"]
    return client.patch(
        f"/collections/grid/items/{feature_id}",
        content=json.dumps({"properties": {"developer": developer}}),
        headers=who[0] | {"Content-Type": PATCH, "If-Match": tag},
    )


def developer(client, feature_id: str) -> str:
    return client.get(f"/collections/grid/items/{feature_id}").json()["properties"]["developer"]


def test_an_edit_waits_for_another_to_review_it(setup):
    client, tokens = setup
    ana, bao, chi = tokens["ana"], tokens["bao"], tokens["chi"]
    before = developer(client, "G-1-2")
    stored = edit(client, ana, "G-1-2", "Công ty Ánh Dương")
    assert stored.status_code == 202, stored.text
    assert stored.json()["draft"] is True and stored.json()["version"] == 2
    assert developer(client, "G-1-2") == before  # not served
    history = client.get("/collections/grid/items/G-1-2/history").json()["revisions"]
    assert [r["version"] for r in history] == [1]  # drafts are not public history

    # what a reviewer sees: the report, the diff, and that they may publish
    preview = client.get("/admin/layers/grid/publish", headers=chi[0]).json()
    assert preview["review"] == {"required": True, "may_publish": True}
    assert (
        preview["versions"][0]["actor"] == ana[1] and preview["versions"][0]["report"] is not None
    )
    (change,) = preview["diff"]["features"]
    assert change["fields"]["developer"] == {"before": before, "after": "Công ty Ánh Dương"}
    own = client.get("/admin/layers/grid/publish", headers=ana[0]).json()["review"]
    assert own["may_publish"] is False and "reviewer" in own["why_not"]

    # an editor may not publish, nor serve the draft by a "rollback" forward
    for attempt in (
        client.post("/admin/layers/grid/publish", headers=ana[0]),
        client.post("/admin/layers/grid/publish", headers=bao[0]),
        client.post("/admin/layers/grid/rollback?version=2", headers=bao[0]),
    ):
        assert attempt.status_code == 403 and error_document(attempt)["code"] == "Forbidden"
    assert developer(client, "G-1-2") == before

    commented = client.post(
        "/admin/layers/grid/review", json={"comment": "Đã đối chiếu với văn bản gốc"},
        headers=chi[0],
    )  # fmt: skip
    assert commented.status_code == 201 and commented.json()["version"] == 2
    assert (
        client.get("/admin/layers/grid/publish", headers=ana[0]).json()["comments"][0]["comment"]
        == "Đã đối chiếu với văn bản gốc"
    )
    published = client.post("/admin/layers/grid/publish", headers=chi[0])
    assert published.status_code == 200 and published.json()["current"] == 2
    assert developer(client, "G-1-2") == "Công ty Ánh Dương"

    entries = client.get("/admin/audit", headers=tokens["boss"][0]).json()["entries"]
    by_action = {e["action"]: e for e in entries}
    assert by_action["layer.publish_draft"]["actor"] == chi[1]
    assert by_action["layer.publish_draft"]["details"]["reviewed"] == {
        "by": chi[1], "authors": [ana[1]], "from": 1,
    }  # fmt: skip
    assert by_action["layer.review_comment"]["actor"] == chi[1]
    assert by_action["feature.update"]["details"]["draft"] is True
    # rolling back to a version that was served needs no review
    assert client.post("/admin/layers/grid/rollback?version=1", headers=bao[0]).status_code == 200


def test_nobody_publishes_drafts_they_made_part_of(setup):
    client, tokens = setup
    chi, dung, boss = tokens["chi"], tokens["dung"], tokens["boss"]
    assert edit(client, tokens["ana"], "G-3-1", "A").status_code == 202
    # drafts stack: a reviewer's own edit over the editor's draft
    stacked = client.post(
        "/admin/layers/grid/changes",
        json={"changes": [{"op": "delete", "id": "G-3-2", "if_match": "*"}]},
        headers=chi[0],
    )
    assert stacked.status_code == 201 and stacked.json()["draft"] is True
    refused = client.post("/admin/layers/grid/publish", headers=chi[0])
    assert refused.status_code == 403 and "another" in refused.json()["description"]
    assert edit(client, boss, "G-3-3", "B").status_code == 202  # an admin's edit is a draft too
    assert client.post("/admin/layers/grid/publish", headers=boss[0]).status_code == 403
    preview = client.get("/admin/layers/grid/publish", headers=dung[0]).json()
    assert [v["actor"] for v in preview["versions"]] == [tokens["ana"][1], chi[1], boss[1]]
    assert preview["diff"]["counts"] == {"added": 0, "removed": 1, "changed": 2}
    assert client.post("/admin/layers/grid/publish", headers=dung[0]).status_code == 200
    assert client.get("/collections/grid/items/G-3-2").status_code == 404
    assert developer(client, "G-3-3") == "B"


def test_uploads_are_drafts_for_review_too(setup, tmp_path):
    client, tokens = setup
    path = as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON")
    metadata = json.dumps({"kind": "industrial_zone", "data_quality": "indicative"})
    with path.open("rb") as handle:
        answer = client.post(
            "/admin/layers",
            files={"file": ("zones.geojson", handle)},
            data={"id": "zones", "metadata": metadata},
            headers=tokens["ana"][0],
        )
    assert answer.status_code == 201 and answer.json()["draft"] is True, answer.text
    assert client.get("/collections/zones").status_code == 404  # nothing served yet
    preview = client.get("/admin/layers/zones/publish", headers=tokens["chi"][0]).json()
    assert preview["served"] is None and preview["diff"]["counts"] == {"added": 3}
    assert preview["versions"][0]["report"]["findings"] is not None
    assert client.post("/admin/layers/zones/publish", headers=tokens["ana"][0]).status_code == 403
    assert client.post("/admin/layers/zones/publish", headers=tokens["chi"][0]).status_code == 200
    assert client.get("/collections/zones/items").json()["numberMatched"] == 3


def test_without_review_an_editor_publishes_as_before(tmp_path, backend):
    meta, records, geometries = grid_layer()
    backend.publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    secret = staff_token(tmp_path, "editor")
    client = TestClient(create_app(settings_of(tmp_path)))
    answer = edit(client, ({"Authorization": f"Bearer {secret}"}, None), "G-0-0", "Now")
    assert answer.status_code == 200 and developer(client, "G-0-0") == "Now"
    assert shapely.from_geojson(json.dumps(answer.json()["geometry"])).is_valid
