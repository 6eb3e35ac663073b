"""Ids (and colours) are whole matches of their pattern: `$` also matches before a trailing
newline, so an id such as `zones\\n` must be refused wherever an id is checked, before anything
is written."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from fastapi.testclient import TestClient

from geo_service.catalogue import LayerMeta
from geo_service.errors import InvalidParameter, NotFound
from geo_service.maps.definition import load_map, map_ids
from geo_service.rasters.ingest import ingest_raster
from geo_service.rasters.meta import ColourStop
from geo_service.rasters.store import RasterStore
from geo_service.store.gpkg import GeoPackageStore

from .command_line import geo_service
from .conftest import error_document
from .pipeline_app import project_body
from .raster_data import make_world
from .staff import bearer, staff_token

NEWLINE_IDS = ["grid\n", "grid\r\n", "grid\n\n", "\ngrid"]


@pytest.mark.parametrize("layer_id", NEWLINE_IDS)
def test_cli_import_refuses_the_id_and_creates_nothing(tmp_path, layer_id):
    data = tmp_path / "data"
    source = tmp_path / "zones.geojson"
    source.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    done = geo_service("import", str(source), "--layer", layer_id, "--data-dir", str(data))
    assert done.returncode == 2
    assert "is not a layer id" in done.stderr and "Traceback" not in done.stderr
    assert not data.exists()


def test_cli_export_refuses_the_id(grid_dir, backend, tmp_path):
    out = tmp_path / "grid.csv"
    args = ("--data-dir", str(grid_dir), "--format", "csv", "-o", str(out))
    done = geo_service("export", "--layer", "grid\n", *args, env=backend.env(grid_dir))
    assert done.returncode == 2 and "is not a layer id" in done.stderr and not out.exists()
    assert (
        geo_service("export", "--layer", "grid", *args, env=backend.env(grid_dir)).returncode == 0
    )


def test_layer_meta_refuses_the_id():
    for layer_id in NEWLINE_IDS:
        with pytest.raises(pydantic.ValidationError, match="layer id"):
            LayerMeta(id=layer_id, title_vi="x", title_en="x", geometry_type="point", fields=[],
                      updated="2026-01-01")  # fmt: skip


@pytest.mark.geopackage
def test_files_named_with_a_newline_are_not_layers_rasters_or_maps(grid_dir, tmp_path):
    """Even when a folder or file with such a name exists, it is never read as one."""
    (tmp_path / "grid").symlink_to(grid_dir / "grid")
    (tmp_path / "grid\n").symlink_to(grid_dir / "grid")
    layers = GeoPackageStore(tmp_path)
    assert layers.folder.ids() == ["grid"]
    assert layers.folder.current("grid\n") is None
    assert layers.folder.current("grid") is not None
    rasters = RasterStore(tmp_path)
    rasters.folder.root.mkdir()
    (rasters.folder.root / "values\n").symlink_to(grid_dir / "grid")
    assert rasters.folder.ids() == [] and rasters.version_numbers("values\n") == []
    with pytest.raises(NotFound):
        rasters.get("values\n")
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "investor\n.toml").write_bytes(Path("maps/investor.toml").read_bytes())
    assert map_ids(maps) == []
    with pytest.raises(NotFound):
        load_map(maps, "investor\n")


def test_a_raster_id_with_a_newline_is_refused_before_reading(tmp_path):
    with pytest.raises(InvalidParameter, match="raster id"):
        ingest_raster(tmp_path / "none.tif", "dem\n", {}, None, 1, "14", RasterStore(tmp_path))


def test_the_api_refuses_ids_with_a_newline(tmp_path_factory, backend):
    client, headers = make_world(
        backend, tmp_path_factory.mktemp("ids"), tmp_path_factory.mktemp("ids-files")
    )
    tiff = tmp_path_factory.mktemp("tiff") / "r.tif"
    from .raster_data import register, values_grid, write_tiff

    write_tiff(tiff, values_grid())
    assert register(client, headers, tiff, "r\n").status_code == 400
    layer = client.post(
        "/admin/layers",
        files={"file": ("x.geojson", b'{"type":"FeatureCollection","features":[]}')},
        data={"id": "zones\n", "data_quality": "indicative"},
        headers=headers,
    )
    assert layer.status_code == 400
    shortlist = client.post(
        "/shortlists", json={"name": "x", "items": [{"collection": "sites\n", "id": "EDGE"}]}
    )
    assert shortlist.status_code == 400
    assert client.get("/rasters/values%0A").status_code == 404
    assert client.get("/map/investor%0A").status_code == 404


def test_a_colour_with_a_newline_is_refused():
    assert ColourStop(value=0, color="#A0B0C0").color == "#a0b0c0"
    with pytest.raises(pydantic.ValidationError, match="#rrggbb"):
        ColourStop(value=0, color="#a0b0c0\n")


NUL = "x%00y"
"""An id holding NUL, which PostgreSQL cannot hold in text: every route taking a string id (or
text) into a query must answer 400 or 404 before the database sees it."""


def test_ids_holding_nul_are_refused_before_the_database(sample_dir, sample_client):
    admin = bearer(staff_token(sample_dir, "admin"))
    client = TestClient(sample_client.app, raise_server_exceptions=False)
    layer = sample_client.get("/collections").json()["collections"][0]["id"]
    requests = [
        ("GET", path)
        for path in (
            f"/collections/{NUL}", f"/collections/{NUL}/items", f"/collections/{NUL}/queryables",
            f"/collections/{NUL}/facets", f"/collections/{NUL}/grid",
            f"/collections/{layer}/items/{NUL}", f"/collections/{layer}/items/{NUL}/stats",
            f"/collections/{layer}/items/{NUL}/nearby", f"/collections/{layer}/items/{NUL}/history",
            f"/collections/investment_projects/items/{NUL}", f"/projects/{NUL}",
            f"/projects/{NUL}/events", f"/enquiries/{NUL}", f"/kinds/{NUL}",
            f"/admin/kinds/{NUL}/versions", f"/admin/layers/{NUL}/versions",
            f"/admin/layers/{NUL}/diff?from=1&to=2", f"/procedures/{NUL}", f"/map/{NUL}",
            f"/rasters/{NUL}", f"/rasters/{NUL}/legend", f"/shortlists/{NUL}",
            f"/shortlists/{NUL}/export", f"/collections/{layer}/items?ids={NUL}",
            # text parameters that reach the records database
            f"/projects?q={NUL}", f"/projects?sector={NUL}", f"/projects?stage={NUL}",
            f"/projects?investment_form={NUL}", f"/enquiries?project={NUL}",
            f"/enquiries?status={NUL}", f"/admin/audit?layer={NUL}",
            f"/dashboard/summary?group_by={NUL}",
        )
    ] + [
        ("PATCH", f"/shortlists/{NUL}"), ("DELETE", f"/shortlists/{NUL}"),
        ("PATCH", f"/enquiries/{NUL}"), ("PATCH", f"/projects/{NUL}"),
        ("DELETE", f"/projects/{NUL}"), ("POST", f"/projects/{NUL}/events"),
        ("DELETE", f"/collections/{layer}/items/{NUL}"),
        ("PUT", f"/collections/{layer}/items/{NUL}"),
        ("POST", f"/admin/layers/{NUL}/rollback?version=1"),
        ("POST", f"/admin/layers/{NUL}/publish"), ("DELETE", f"/admin/layers/{NUL}"),
        ("POST", f"/admin/layers/{NUL}/changes"), ("POST", f"/admin/layers/{NUL}/review"),
    ]  # fmt: skip
    answers = {}
    for method, path in requests:
        response = client.request(method, path, headers={**admin, "X-Shortlist-Key": "k"}, json={})
        answers[method, path] = response.status_code
        if response.status_code >= 400:
            error_document(response)
    assert {k: v for k, v in answers.items() if v >= 500 or v < 400} == {}


@pytest.mark.parametrize(
    "query",
    ["filter=name_vi%20%3D%20%27x%00y%27", "filter=name_vi%20LIKE%20%27%25%00%25%27",
     "filter=name_vi%20IN%20(%27x%00%27)", "status=x%00y"],
)  # fmt: skip
def test_text_holding_nul_in_a_filter_is_a_400_on_every_store(sample_client, query):
    layer = sample_client.get("/collections").json()["collections"][0]["id"]
    for path in (
        f"/collections/{layer}/items",
        f"/collections/{layer}/tiles/WebMercatorQuad/8/201/112",
    ):
        answer = sample_client.get(f"{path}?{query}", headers={"Accept-Language": "en"})
        assert answer.status_code == 400, (path, query)
        assert "NUL" in error_document(answer)["description"]


def test_text_holding_nul_in_a_body_is_a_400_on_every_records_database(sample_dir, sample_client):
    editor = bearer(staff_token(sample_dir, "editor"))
    client = TestClient(sample_client.app, raise_server_exceptions=False)
    layer = sample_client.get("/collections").json()["collections"][0]["id"]
    project = sample_client.get("/projects", params={"limit": 1}).json()["projects"][0]["id"]
    requests = [
        ("/shortlists", {"name": "a\x00", "items": []}),
        ("/shortlists", {"name": "a", "items": [{"collection": layer, "id": "x\x00y"}]}),
        ("/projects", project_body(id="SL-DA-9999", name_vi="A\x00", sites=[])),
        ("/enquiries", {"name": "a\x00", "message": "m", "email": "a@b.cd"}),
        ("/enquiries", {"name": "a", "message": "m", "email": "a@b.cd",
                        "site": {"collection": layer, "id": "x\x00y"}}),
        (f"/projects/{project}/events", {"kind": "note", "note": "n\x00"}),
        (f"/collections/{layer}/items",
         {"type": "Feature", "id": "x\x00y", "geometry": None, "properties": {}}),
    ]  # fmt: skip
    answers = {}
    for path, body in requests:
        response = client.post(path, json=body, headers=editor)
        answers[path, str(body)] = response.status_code
        if response.status_code >= 400:
            error_document(response)
    assert {k: v for k, v in answers.items() if v >= 500 or v < 400} == {}
