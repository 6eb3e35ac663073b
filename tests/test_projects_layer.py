"""Pipeline projects as the `investment_projects` collection of the OGC API, on SQLite and on
PostgreSQL: metadata from the pipeline's data, CQL2 on `stage` and `days_behind`, facets, the
same numbers as /projects for the same filters, every export format, shortlists, site sheets,
nearby, and writes refused."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pyogrio
import pytest

from geo_service.clock import today_in_vietnam
from geo_service.layer_frame import records_to_frame
from geo_service.pipeline.procedures import FORMS
from geo_service.pipeline.stages import STAGES
from geo_service.store.gpkg import GeoPackageStore

from .conftest import error_document, grid_layer
from .pipeline_app import pipeline_client, pipeline_data_dir, project_body

ITEMS = "/collections/investment_projects/items"


def days_ago(n: int) -> str:
    return (today_in_vietnam() - dt.timedelta(days=n)).isoformat()


def started(client, editor, project: str, step: str, began: int, planned: int) -> None:
    body = {"kind": "step_started", "step": step, "date": days_ago(began),
            "planned_date": days_ago(planned)}  # fmt: skip
    response = client.post(f"/projects/{project}/events", json=body, headers=editor)
    assert response.status_code == 201, response.text


PROJECTS = [
    # id, name, form, sector, commune, point, capital
    ("SL-DA-0001", "Nhà máy chế biến xoài Mai Sơn", "policy_approval", "agro_processing",
     "04123", (104.08, 21.25), 350.0),
    ("SL-DA-0002", "Khu du lịch sinh thái Mộc Châu", "ppp", "tourism",
     "04123", (104.10, 21.26), 1200.0),
    ("SL-DA-0003", "Trung tâm logistics Mai Sơn", "policy_approval", "logistics_trade",
     "04123", (104.07, 21.245), None),
    ("SL-DA-0004", "Điện mặt trời nổi lòng hồ", "land_auction", "renewable_energy",
     "04123", (104.09, 21.27), 80.5),
]  # fmt: skip


@pytest.fixture
def client(pipeline_dir, records_url, editor):
    """Four projects: 0001 late by 40 days, 0002 late by 10, 0003 on schedule, 0004 listed."""
    with pipeline_client(pipeline_dir, records_url) as client:
        for pid, name, form, sector, commune, (x, y), capital in PROJECTS:
            body = project_body(
                id=pid, name_vi=name, name_en="", investment_form=form, sector=sector,
                commune_code=commune, location={"type": "Point", "coordinates": [x, y]},
                capital_planned_billion_vnd=capital, sites=[],
            )  # fmt: skip
            assert client.post("/projects", json=body, headers=editor).status_code == 201
        started(client, editor, "SL-DA-0001", "dossier_received", 60, 40)
        started(client, editor, "SL-DA-0002", "pre_feasibility", 30, 10)
        started(client, editor, "SL-DA-0003", "dossier_received", 5, -20)
        listed = {"kind": "listed", "note": "Danh mục 2026"}
        assert client.post("/projects/SL-DA-0004/events", json=listed, headers=editor).status_code
        yield client


def matched(client, **params) -> int:
    response = client.get(ITEMS, params={"limit": 1, **params})
    assert response.status_code == 200, response.text
    return response.json()["numberMatched"]


def ids(client, **params) -> list[str]:
    response = client.get(ITEMS, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [f["id"] for f in response.json()["features"]]


def test_the_collection_is_described_from_the_pipelines_data(client):
    listed = [c["id"] for c in client.get("/collections").json()["collections"]]
    assert listed == ["grid", "investment_projects"]
    collection = client.get("/collections/investment_projects", params={"lang": "en"}).json()
    assert collection["title"].startswith("Investment projects")
    assert collection["title_vi"].startswith("Dự án đầu tư")
    assert collection["kind"] == "investment_project"
    assert collection["data_quality"] == "synthetic_demo"  # its weakest record's
    assert collection["updated"] == today_in_vietnam().isoformat()
    assert collection["extent"]["spatial"]["bbox"] == [[104.07, 21.245, 104.10, 21.27]]
    fields = {f["name"]: f for f in collection["fields"]}
    procedures = client.get("/procedures").json()
    assert [c["code"] for c in fields["investment_form"]["codes"]] == list(FORMS)
    titles = {form["form"]: form["title_vi"] for form in procedures["forms"]}
    assert {c["code"]: c["label_vi"] for c in fields["investment_form"]["codes"]} == titles
    assert [c["code"] for c in fields["sector"]["codes"]] == [
        s["code"] for s in procedures["sectors"]
    ]
    assert [c["code"] for c in fields["stage"]["codes"]] == list(STAGES)
    assert fields["capital_planned_billion_vnd"]["unit"] == "tỷ VND"
    assert fields["days_behind"]["type"] == "integer"
    queryables = client.get("/collections/investment_projects/queryables").json()["properties"]
    for name in ("stage", "days_behind", "investment_form", "sector", "commune_code",
                 "capital_planned_billion_vnd", "capital_registered_billion_vnd",
                 "capital_disbursed_billion_vnd", "schedule"):  # fmt: skip
        assert name in queryables, name
    assert queryables["stage"]["enum"] == list(STAGES)


def test_features_carry_their_stage_and_days_behind(client):
    feature = client.get(f"{ITEMS}/SL-DA-0001").json()
    assert feature["geometry"] == {"type": "Point", "coordinates": [104.08, 21.25]}
    properties = feature["properties"]
    assert (properties["stage"], properties["days_behind"], properties["schedule"]) == (
        "dossier",
        40,
        "late",
    )
    assert (properties["code"], properties["investment_form"]) == ("SL-DA-0001", "policy_approval")
    assert properties["updated_at"] == today_in_vietnam().isoformat()
    behind = {f["id"]: f["properties"]["days_behind"]
              for f in client.get(ITEMS, params={"sortby": "-days_behind"}).json()["features"]}  # fmt: skip
    assert list(behind.items()) == [("SL-DA-0001", 40), ("SL-DA-0002", 10), ("SL-DA-0003", 0),
                                    ("SL-DA-0004", 0)]  # fmt: skip


CQL2_CASES = [
    ("stage = 'dossier'", ["SL-DA-0001", "SL-DA-0002", "SL-DA-0003"]),
    ("stage = 'calling_investment'", ["SL-DA-0004"]),
    ("days_behind > 30", ["SL-DA-0001"]),
    ("days_behind > 5 AND days_behind <= 10", ["SL-DA-0002"]),
    ("days_behind = 0", ["SL-DA-0003", "SL-DA-0004"]),
    ("schedule = 'late'", ["SL-DA-0001", "SL-DA-0002"]),
    ("schedule = 'on_schedule'", ["SL-DA-0003"]),
    ("stage = 'dossier' AND days_behind > 30", ["SL-DA-0001"]),
    ("investment_form IN ('ppp', 'land_auction')", ["SL-DA-0002", "SL-DA-0004"]),
    ("capital_planned_billion_vnd >= 350", ["SL-DA-0001", "SL-DA-0002"]),
    ("capital_planned_billion_vnd IS NULL", ["SL-DA-0003"]),
    ("ACCENTI(CASEI(name_vi)) LIKE '%mai son%'", ["SL-DA-0001", "SL-DA-0003"]),
    ("S_INTERSECTS(geometry, BBOX(104.075, 21.245, 104.095, 21.275))",
     ["SL-DA-0001", "SL-DA-0004"]),
]  # fmt: skip


def test_cql2_filters_stage_and_days_behind(client):
    for cql, expected in CQL2_CASES:  # one set of projects for every case
        assert ids(client, filter=cql) == expected, cql


def test_computed_fields_refuse_what_they_cannot_answer(client):
    for cql in ("days_behind = 'late'", "days_behind > capital_planned_billion_vnd",
                "CASEI(days_behind) = '1'"):  # fmt: skip
        body = error_document(client.get(ITEMS, params={"filter": cql}))
        assert body["code"] == "InvalidParameterValue" and "days_behind" in body["description"]


SAME_FILTERS = [
    ({"stage": "dossier"}, "stage = 'dossier'"),
    ({"behind": "true"}, "days_behind > 0"),
    ({"behind": "true", "investment_form": "ppp"}, "days_behind > 0 AND investment_form = 'ppp'"),
    ({"investment_form": "policy_approval"}, "investment_form = 'policy_approval'"),
    ({"sector": "tourism"}, "sector = 'tourism'"),
    ({"commune_code": "04123"}, "commune_code = '04123'"),
    ({"q": "mai son"}, None),
    ({"q": "MOC CHAU du lich"}, None),
    ({"q": "%"}, None),
]  # fmt: skip


def test_the_same_numbers_as_projects_for_the_same_filters(client):
    for projects, cql in SAME_FILTERS:
        listed = client.get("/projects", params=projects).json()
        params = {"filter": cql} if cql else {"q": projects["q"]}
        collection = client.get(ITEMS, params={"limit": 100, **params}).json()
        assert collection["numberMatched"] == listed["numberMatched"], projects
        got = [f["id"] for f in collection["features"]]
        assert got == [p["id"] for p in listed["projects"]], projects


def test_facets_count_stage_schedule_and_ranges(client):
    fields = (
        "stage,schedule,days_behind,investment_form,sector,commune_code,capital_planned_billion_vnd"
    )
    facets = client.get(
        "/collections/investment_projects/facets", params={"fields": fields, "lang": "en"}
    ).json()["facets"]
    assert {v["value"]: v["count"] for v in facets["stage"]["values"]} == {
        "dossier": 3,
        "calling_investment": 1,
    }
    assert facets["stage"]["values"][0]["label_en"] == "Dossier in progress"
    assert {v["value"]: v["count"] for v in facets["schedule"]["values"]} == {
        "late": 2,
        "on_schedule": 1,
    }
    assert (facets["days_behind"]["minimum"], facets["days_behind"]["maximum"]) == (0, 40)
    assert facets["capital_planned_billion_vnd"]["maximum"] == 1200.0
    assert facets["commune_code"]["values"] == [{"value": "04123", "count": 4}]
    late = client.get(
        "/collections/investment_projects/facets",
        params={"fields": "investment_form", "filter": "schedule = 'late'"},
    ).json()
    assert late["numberMatched"] == 2
    assert {v["value"] for v in late["facets"]["investment_form"]["values"]} == {
        "policy_approval",
        "ppp",
    }
    grid = client.get(
        "/collections/investment_projects/grid",
        params={"bbox": "104,21.2,104.2,21.3", "columns": 2, "rows": 1},
    ).json()
    assert sorted(c["properties"]["count"] for c in grid["features"]) == [4]


def test_every_export_format(client, tmp_path):
    for f in ("csv", "xlsx", "gpkg", "shp", "fgb", "geojson", "kml"):
        check_export(client, tmp_path / f, f)


def check_export(client, folder, f: str) -> None:
    """The late projects exported as `f` read back with GDAL: both rows, and their values."""
    folder.mkdir()
    response = client.get(ITEMS, params={"f": f, "filter": "days_behind > 0", "lang": "en"})
    assert response.status_code == 200, (f, response.text)
    path = folder / f"projects.{f}"
    path.write_bytes(response.content)
    if f == "shp":
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            archive.extractall(folder)
        path = folder / "investment_projects.shp"
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == 2, f
    if f in ("gpkg", "fgb", "geojson"):
        assert sorted(frame["code"]) == ["SL-DA-0001", "SL-DA-0002"]
        assert sorted(frame["days_behind"]) == [10, 40]


def test_shortlists_site_sheets_and_nearby_see_projects(client):
    created = client.post(
        "/shortlists",
        json={"name": "Late", "items": [{"collection": "investment_projects", "id": "SL-DA-0001"},
                                        {"collection": "grid", "id": "G-1-2"}]},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    shortlist = created.json()
    assert {i["id"]: i["found"] for i in shortlist["items"]} == {"SL-DA-0001": True, "G-1-2": True}
    for f in ("xlsx", "gpkg", "pdf"):
        export = client.get(f"/shortlists/{shortlist['id']}/export", params={"f": f})
        assert export.status_code == 200, (f, export.text)
    sheet = client.get(f"{ITEMS}/SL-DA-0001", params={"f": "pdf"})
    assert sheet.status_code == 200 and sheet.content.startswith(b"%PDF")
    nearby = client.get(
        f"{ITEMS}/SL-DA-0001/nearby", params={"layers": "investment_projects", "k": 1}
    ).json()
    assert nearby["nearby"]["investment_projects"][0]["id"] == "SL-DA-0003"
    ranked = client.post(
        "/analysis/rank",
        json={
            "candidates": {"collection": "investment_projects", "filter": "days_behind > 0"},
            "criteria": [
                {"type": "attribute", "field": "days_behind", "weight": 2, "direction": "higher"},
                {"type": "distance", "layer": "grid", "weight": 1, "direction": "lower"},
            ],
        },
    )
    assert ranked.status_code == 200, ranked.text
    assert [s["id"] for s in ranked.json()["sites"]] == ["SL-DA-0001", "SL-DA-0002"]


def test_writes_are_refused_projects_change_through_projects(client, editor, admin):
    frame = {"file": ("p.geojson", b'{"type":"FeatureCollection","features":[]}')}
    attempts = [
        client.put("/admin/layers/investment_projects", files=frame, headers=editor),
        client.post("/admin/layers", files=frame, data={"id": "investment_projects"},
                    headers=editor),
        client.get("/admin/layers/investment_projects/versions", headers=editor),
        client.post("/admin/layers/investment_projects/rollback", params={"version": 1},
                    headers=editor),
        client.delete("/admin/layers/investment_projects", headers=admin),
    ]  # fmt: skip
    for response in attempts:
        body = error_document(response)
        assert (response.status_code, body["code"]) == (409, "ReadOnlyCollection"), body
        assert "/projects" in body["description"]
    assert matched(client) == 4


def test_an_empty_pipeline_lists_no_collection(pipeline_dir, records_url):
    with pipeline_client(pipeline_dir, records_url) as client:
        assert [c["id"] for c in client.get("/collections").json()["collections"]] == ["grid"]
        assert error_document(client.get(ITEMS))["code"] == "NotFound"


def test_a_records_database_that_does_not_answer_leaves_the_other_layers_served(client):
    with client.app.state.records.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE projects RENAME TO gone")  # damaged by hand
    listed = client.get("/collections").json()
    assert [c["id"] for c in listed["collections"]] == ["grid"]
    assert [s["id"] for s in listed["skipped"]] == ["investment_projects"]
    for path in (ITEMS, f"{ITEMS}/SL-DA-0001", "/collections/investment_projects"):
        response = client.get(path, params={"lang": "en"})
        assert (response.status_code, error_document(response)["code"]) == (503, "LayerUnavailable")
    assert client.get("/collections/grid/items").status_code == 200
    assert client.get("/map").status_code == 200


def test_a_geopackage_layer_of_that_id_is_no_longer_served(tmp_path, records_url):
    """An older data directory's own investment_projects layer: the pipeline's collection
    takes its id, listed or not."""
    folder = pipeline_data_dir(tmp_path / "data")
    meta, records, geometries = grid_layer()
    old = meta.model_copy(update={"id": "investment_projects"})
    GeoPackageStore(folder).publish(old, records_to_frame(old, records, geometries))
    with pipeline_client(folder, records_url) as client:
        assert [c["id"] for c in client.get("/collections").json()["collections"]] == ["grid"]
        assert client.get(ITEMS).status_code == 404
