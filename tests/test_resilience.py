"""One damaged layer or raster never takes the catalogue, the map or the other layers down: it is
reported and skipped, answers 503 by id, and an admin can still archive it. Non-finite numbers
never reach stored metadata, and listings tolerate layers archived while they are being made."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service import cli
from geo_service.app import create_app
from geo_service.layer_frame import records_to_frame
from geo_service.rasters.store import RasterStore
from geo_service.settings import Settings
from geo_service.store import Store
from geo_service.store.gpkg import GeoPackageStore

from .conftest import GEOPACKAGE, Backend, grid_layer, settings_of
from .raster_data import make_world, plane_grid, register, write_tiff
from .staff import staff_token

ROOT = Path(__file__).resolve().parents[1]


def settings_for(data_dir: Path, backend: Backend = GEOPACKAGE) -> Settings:
    return backend.settings(data_dir, maps_dir=ROOT / "maps", assets_dir=ROOT / "node_modules")


def publish_grid(data_dir: Path, *layer_ids: str, backend: Backend = GEOPACKAGE) -> None:
    meta, records, geometries = grid_layer()
    frame = records_to_frame(meta, records, geometries)
    for layer_id in layer_ids:
        backend.publish(data_dir, meta.model_copy(update={"id": layer_id}), frame)


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def problem(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["description"]
    return body["description"]


# -- vector layers ----------------------------------------------------------------------------
def damage_layers(data_dir: Path) -> dict[str, str]:
    """Five published layers, four of them damaged in a different way each: what each one is."""
    publish_grid(data_dir, "healthy", "truncated", "infinite", "missing", "garbage")
    truncated = data_dir / "truncated" / "v000001.gpkg"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    with sqlite3.connect(data_dir / "infinite" / "v000001.gpkg") as db:
        db.execute(
            "UPDATE geo_service_layer SET metadata = replace(metadata, '\"version\":1', "
            "'\"version\":Infinity')"
        )
    (data_dir / "missing" / "v000001.gpkg").unlink()
    (data_dir / "garbage" / "v000001.gpkg").write_bytes(b"not a GeoPackage " * 100)
    return {
        "truncated": "malformed",
        "infinite": "Infinity",
        "missing": "missing",
        "garbage": "not a database",
    }


@pytest.mark.geopackage
def test_a_broken_layer_is_reported_and_skipped_never_breaking_the_rest(tmp_path):
    broken = damage_layers(tmp_path)
    client = TestClient(create_app(settings_for(tmp_path)))
    listed = client.get("/collections")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert [c["id"] for c in body["collections"]] == ["healthy"]
    skipped = {s["id"]: s["reason"] for s in body["skipped"]}
    assert set(skipped) == set(broken)
    for lang, words in (("en", "layer "), ("vi", "không đọc được lớp ")):
        for said in client.get(f"/collections?lang={lang}").json()["skipped"]:
            assert said["reason"].startswith(words), said  # one language, not "English / …"
            assert " / " not in said["reason"], said
    for layer_id, why in broken.items():
        assert why in skipped[layer_id], skipped[layer_id]
        assert str(tmp_path) not in skipped[layer_id]  # no server paths in public answers
        for path in ("", "/items", "/queryables", "/items/G-1-1", "/facets?fields=status"):
            problem(client.get(f"/collections/{layer_id}{path}"), 503, "LayerUnavailable")
    # the map and the healthy layer work as before
    page = client.get("/map")
    assert page.status_code == 200 and '"id": "healthy"' in page.text
    assert all(f'"id": "{layer_id}"' not in page.text for layer_id in broken)
    assert client.get("/collections/healthy/items", params={"limit": 3}).json()["numberMatched"]
    shortlist = client.post(
        "/shortlists",
        json={
            "name": "x",
            "items": [{"collection": c, "id": "G-1-1"} for c in ("healthy", *broken)],
        },
    )
    assert shortlist.status_code == 201
    assert [i["found"] for i in shortlist.json()["items"]] == [True] + [False] * len(broken)


@pytest.mark.geopackage
def test_an_admin_can_archive_a_broken_layer_and_see_its_versions(tmp_path):
    broken = damage_layers(tmp_path)
    secret = staff_token(tmp_path, "admin")
    client = TestClient(create_app(settings_for(tmp_path)))
    versions = client.get("/admin/layers/infinite/versions", headers=bearer(secret))
    assert versions.status_code == 200
    (entry,) = versions.json()["versions"]
    assert entry["current"] and "Infinity" in entry["problem"]
    for layer_id in broken:
        archived = client.delete(f"/admin/layers/{layer_id}", headers=bearer(secret))
        assert archived.status_code == 200, archived.text
    body = client.get("/collections").json()
    assert [c["id"] for c in body["collections"]] == ["healthy"] and body["skipped"] == []


@pytest.mark.geopackage
def test_a_page_damaged_inside_a_layer_is_503_not_500(tmp_path):
    """Opening reads the header and metadata; a page damaged elsewhere is met by a query."""
    publish_grid(tmp_path, "healthy", "damaged")
    path = tmp_path / "damaged" / "v000001.gpkg"
    data = bytearray(path.read_bytes())
    store = GeoPackageStore(tmp_path)
    # the table's root page, found by SQLite itself before the damage
    with sqlite3.connect(path) as db:
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'damaged'").fetchone()
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
    data[(root - 1) * page_size : root * page_size] = b"\xff" * page_size
    path.write_bytes(bytes(data))
    client = TestClient(create_app(settings_for(tmp_path), store=store))
    assert client.get("/collections").status_code == 200
    problem(client.get("/collections/damaged/items"), 503, "LayerUnavailable")
    problem(client.get("/collections/damaged/items", params={"f": "csv"}), 503, "LayerUnavailable")
    assert client.get("/collections/healthy/items").status_code == 200


@pytest.mark.geopackage
def test_geo_service_layers_names_the_layers_it_skips(tmp_path, capsys):
    broken = damage_layers(tmp_path)
    assert cli.main(["layers", "--data-dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "healthy" in out and not any(layer_id in out for layer_id in broken)
    for layer_id in broken:
        assert f"skipped {layer_id}:" in err


def test_a_broken_map_definition_is_named_not_fatal_to_the_list_of_maps(tmp_path, backend):
    publish_grid(tmp_path, "healthy", backend=backend)
    maps_dir = tmp_path / "maps"
    maps_dir.mkdir()
    (maps_dir / "investor.toml").write_bytes((ROOT / "maps" / "investor.toml").read_bytes())
    (maps_dir / "broken.toml").write_text("title_vi = [", "utf-8")
    (maps_dir / "infinite.toml").write_text(
        (ROOT / "maps" / "investor.toml")
        .read_text("utf-8")
        .replace("center = [21.25, 104.0]", "center = [nan, 104.0]"),
        "utf-8",
    )
    client = TestClient(
        create_app(settings_for(tmp_path, backend).model_copy(update={"maps_dir": maps_dir}))
    )
    listed = client.get("/maps")
    assert listed.status_code == 200, listed.text
    assert [m["id"] for m in listed.json()["maps"]] == ["investor"]
    assert {s["id"] for s in listed.json()["skipped"]} == {"broken", "infinite"}
    assert client.get("/map").status_code == 200


# -- listings while a layer is archived ---------------------------------------------------------
@pytest.mark.geopackage
def test_listings_tolerate_a_layer_archived_between_list_and_open(tmp_path, monkeypatch):
    """The layer's folder is listed, then archived, then opened: it is left out, not a 404."""
    publish_grid(tmp_path, "kept", "first", "second")
    victims = ["first", "second"]
    store = GeoPackageStore(tmp_path)
    listed = store.folder.ids

    def list_then_archive() -> list[str]:
        ids = listed()
        if victims:
            store.archive(victims.pop(0))
        return ids

    monkeypatch.setattr(store.folder, "ids", list_then_archive)
    client = TestClient(create_app(settings_for(tmp_path), store=store))
    collections = client.get("/collections")
    assert collections.status_code == 200, collections.text
    assert [c["id"] for c in collections.json()["collections"]] == ["kept", "second"]
    page = client.get("/map")
    assert page.status_code == 200, page.text
    assert '"id": "kept"' in page.text and '"id": "second"' not in page.text


class ArchivingStore:
    """A store that archives one layer just after each listing, before the route reads that
    layer again."""

    def __init__(self, store: Store, victims: list[str]) -> None:
        self.store = store
        self.victims = victims

    def layers(self):
        listing = self.store.layers()
        if self.victims:
            self.store.archive(self.victims.pop(0))
        return listing

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def test_pages_tolerate_a_layer_archived_after_the_listing(tmp_path, backend):
    publish_grid(tmp_path, "kept", "first", "second", "third", backend=backend)
    store = ArchivingStore(backend.store(tmp_path), ["first", "second", "third"])
    client = TestClient(create_app(settings_for(tmp_path, backend), store=store))
    collections = client.get("/collections")
    assert collections.status_code == 200, collections.text
    assert "first" not in [c["id"] for c in collections.json()["collections"]]
    page = client.get("/map")
    assert page.status_code == 200, page.text
    assert '"id": "second"' not in page.text and '"id": "kept"' in page.text
    created = client.post("/shortlists", json={"name": "x", "items": [
        {"collection": "kept", "id": "G-1-1"}, {"collection": "third", "id": "G-1-1"}]})  # fmt: skip
    assert created.status_code == 201, created.text
    assert [i["found"] for i in created.json()["items"]] == [True, False]


# -- rasters ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "metadata",
    [
        '{"title_vi": "a", "title_en": "b", "colormap": [[0, "#000000"], [Infinity, "#ffffff"]]}',
        '{"title_vi": "a", "title_en": "b", "value_range": [NaN, 1]}',
        '{"title_vi": "a", "title_en": "b", "nodata": 1e999}',
        '{"title_vi": "a", "title_en": "b", "colormap": [[0, "#000000"], [1e400, "#ffffff"]]}',
    ],
)
def test_non_finite_raster_metadata_is_refused_before_anything_is_stored(tmp_path, metadata):
    editor = staff_token(tmp_path, "editor")
    client = TestClient(create_app(settings_for(tmp_path)))
    path = write_tiff(tmp_path / "plane.tif", plane_grid(), nodata=-9999)
    response = register(client, bearer(editor), path, "plane", metadata)
    problem(response, 400, "InvalidParameterValue")
    assert not (tmp_path / "_rasters" / "plane").exists()
    assert client.get("/rasters").json()["rasters"] == []
    assert client.get("/map").status_code == 200


def tile_over(bounds: list[float], z: int = 13) -> str:
    lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{z}/{x}/{y}"


def test_a_broken_raster_is_skipped_and_an_admin_can_archive_it(tmp_path):
    data, files = tmp_path / "data", tmp_path / "files"
    files.mkdir()
    client, editor = make_world(GEOPACKAGE, data, files)
    for raster_id in ("gone", "cut"):
        path = write_tiff(files / f"{raster_id}.tif", plane_grid(), nodata=-9999)
        assert register(client, editor, path, raster_id, {"title_vi": "x", "title_en": "x"}).status_code == 201  # fmt: skip
    bounds = client.get("/rasters/cut").json()["bbox"]
    folder = data / "_rasters"
    # values: corrupt JSON; dem: an invalid value range; gone: its COG deleted; cut: truncated
    (folder / "values" / "v000001.json").write_text('{"id": "values", "title_', "utf-8")
    stored = json.loads((folder / "dem" / "v000001.json").read_text("utf-8"))
    stored["value_range"] = [10.0, 1.0]
    (folder / "dem" / "v000001.json").write_text(json.dumps(stored), "utf-8")
    (folder / "gone" / "v000001.tif").unlink()
    cog = folder / "cut" / "v000001.tif"
    cog.write_bytes(cog.read_bytes()[:2000])

    fresh = TestClient(create_app(settings_of(data)))  # nothing cached from before
    listed = fresh.get("/rasters")
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["rasters"]] == ["cut"]
    skipped = {s["id"]: s["reason"] for s in listed.json()["skipped"]}
    assert set(skipped) == {"values", "dem", "gone"}
    assert "value_range" in skipped["dem"] and "missing" in skipped["gone"]
    for raster_id in skipped:
        problem(fresh.get(f"/rasters/{raster_id}"), 503, "LayerUnavailable")
        problem(fresh.get(f"/rasters/{raster_id}/legend"), 503, "LayerUnavailable")
    problem(fresh.get(f"/rasters/cut/tiles/{tile_over(bounds)}.png"), 503, "LayerUnavailable")
    # a site's statistics: the unreadable COG says why, the broken metadata is left out
    stats = fresh.get("/collections/sites/items/EDGE/stats")
    assert stats.status_code == 200, stats.text
    (entry,) = stats.json()["stats"]
    assert entry["raster"] == "cut" and entry["count"] == 0 and "cannot be read" in entry["reason"]
    assert fresh.get("/map").status_code == 200
    # GIS staff can publish a whole new version over a broken one, and archive the others
    path = write_tiff(files / "again.tif", plane_grid(), nodata=-9999)
    replaced = fresh.put(
        "/admin/rasters/values",
        files={"file": ("again.tif", path.read_bytes())},
        data={"metadata": json.dumps({"title_vi": "Lại", "title_en": "Again"})},
        headers=editor,
    )
    assert replaced.status_code == 200, replaced.text
    boss = staff_token(data, "admin")
    for raster_id in ("dem", "gone", "cut"):
        archived = fresh.delete(f"/admin/rasters/{raster_id}", headers=bearer(boss))
        assert archived.status_code == 200, archived.text
    after = fresh.get("/rasters").json()
    assert [r["id"] for r in after["rasters"]] == ["values"] and after["skipped"] == []


def test_a_raster_archived_while_listed_is_left_out(tmp_path, monkeypatch):
    data, files = tmp_path / "data", tmp_path / "files"
    files.mkdir()
    make_world(GEOPACKAGE, data, files)
    store = RasterStore(data)
    listed = store.folder.ids

    def list_then_archive() -> list[str]:
        ids = listed()
        store.archive("dem")
        return ids

    monkeypatch.setattr(store.folder, "ids", list_then_archive)
    found = store.rasters()
    assert [m.id for m in found] == ["values"] and found.skipped == []


def test_a_raster_whose_nodata_is_infinite_is_refused(tmp_path):
    editor = staff_token(tmp_path, "editor")
    client = TestClient(create_app(settings_for(tmp_path)))
    path = write_tiff(tmp_path / "plane.tif", plane_grid(), nodata=-math.inf)
    response = register(client, bearer(editor), path, "plane", {"title_vi": "a", "title_en": "b"})
    assert "nodata" in problem(response, 400, "InvalidRaster")
    assert not (tmp_path / "_rasters" / "plane").exists()
