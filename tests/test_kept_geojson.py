"""The GeoPackage store keeps each row written in GeoJSON beside it (`gpkg_rows.py`) and serves
pages from that text: byte for byte the page written per request, for every kind of query,
over uploads, change sets (one left unnamed by a crash included) and rollbacks; a file without
the text (written before it existed, or damaged) is served as before, and gets it from
`geo-service layers --keep-geojson`."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import orjson
import pytest
import shapely

from geo_service.cql2 import parse_cql2_text
from geo_service.layer_frame import records_to_frame
from geo_service.query import Query, SortKey
from geo_service.store import gpkg
from geo_service.store.changes import FeatureChange
from geo_service.store.feature_json import written_batch
from geo_service.store.gpkg import GeoPackageStore
from geo_service.store.gpkg_edits import write_changes
from geo_service.store.gpkg_rows import WRITTEN_TABLE

from .command_line import geo_service
from .conftest import grid_layer

QUERIES = {
    "first page": Query(),
    "a page at an offset": Query(limit=7, offset=30),
    "every feature": Query(limit=None),
    "a box": Query(bbox=(104.015, 21.015, 104.045, 21.035)),
    "a filter": Query(filter=parse_cql2_text("status = 'operating' AND area_ha > 20")),
    "sorted": Query(sortby=(SortKey("area_ha", descending=True), SortKey("code")), limit=9),
    "searched": Query(text="khu"),
    "nothing": Query(filter=parse_cql2_text("area_ha > 10000")),
    "past the end": Query(offset=500),
}


@pytest.fixture()
def store(tmp_path: Path) -> GeoPackageStore:
    meta, records, geometries = grid_layer()
    store = GeoPackageStore(tmp_path)
    store.publish(meta, records_to_frame(meta, records, geometries), actor="token:uploader")
    return store


def square(x: float, y: float) -> bytes:
    return shapely.to_wkb(shapely.box(x, y, x + 0.004, y + 0.004))


def assert_pages_as_written(store: GeoPackageStore) -> None:
    """Every query's kept page is the page written from the features the store reads."""
    for name, query in QUERIES.items():
        kept = store.geojson_page("grid", query)
        assert kept is not None, name
        page = store.query("grid", query)
        assert b",".join(kept.members) == written_batch(page.features), name
        assert kept.number_matched == page.number_matched, name


def test_pages_are_served_from_the_kept_geojson_across_uploads_and_change_sets(store, tmp_path):
    assert_pages_as_written(store)
    # an attempt a crash left unnamed, then the change set written over it
    crashed = FeatureChange("create", "CRASHED", {"name_vi": "Bỏ dở"}, square(104.6, 21.6))
    write_changes(tmp_path / "grid" / "v000001.gpkg", 1, 2, [crashed], "token:crashed")
    changes = [
        FeatureChange("create", "NEW-1", {"name_vi": "Khu mới", "status": "planned"}, square(104.5, 21.5)),
        FeatureChange("replace", "G-0-1", {"name_vi": "Thay thế", "area_ha": 55.5}, square(104.3, 21.3)),
        FeatureChange("update", "G-0-2", {"status": "operating", "area_ha": 1 / 3}),
        FeatureChange("delete", "G-0-3"),
    ]  # fmt: skip
    assert store.apply_changes("grid", changes, base_version=1, actor="token:editor") == 2
    with contextlib.closing(sqlite3.connect(tmp_path / "grid" / "v000001.gpkg")) as db:
        orphans = f"SELECT count(*) FROM {WRITTEN_TABLE} WHERE fid NOT IN (SELECT fid FROM grid)"
        assert db.execute(orphans).fetchone() == (0,)  # the discarded attempt's text went too
    assert_pages_as_written(store)
    ids = {
        m["id"] for m in map(orjson.loads, store.geojson_page("grid", Query(limit=None)).members)
    }
    assert "NEW-1" in ids and "G-0-0" in ids and not {"G-0-3", "CRASHED"} & ids
    assert (
        orjson.loads(store.geojson_page("grid", Query(text="Thay thế")).members[0])["id"] == "G-0-1"
    )
    store.activate("grid", 1)  # rolled back: the closed rows' text is served again
    assert_pages_as_written(store)
    meta, records, geometries = grid_layer()
    store.publish(meta, records_to_frame(meta, records[:20], geometries[:20]), actor="b")
    assert_pages_as_written(store)
    assert store.geojson_page("grid", Query()).number_matched == 20


def test_a_page_of_chosen_properties_is_written_per_request(store):
    assert store.geojson_page("grid", Query(properties=("name_vi",))) is None


def test_a_file_without_the_kept_geojson_is_served_and_edited_as_before(store, tmp_path):
    served = store.geojson_page("grid", Query(limit=None))
    with contextlib.closing(sqlite3.connect(tmp_path / "grid" / "v000001.gpkg")) as db, db:
        db.execute(f"DROP TABLE {WRITTEN_TABLE}")
    older = GeoPackageStore(tmp_path)  # as a file written before the table existed is read
    assert older.geojson_page("grid", Query()) is None
    assert written_batch(older.query("grid", Query(limit=None)).features) == b",".join(
        served.members
    )
    older.apply_changes("grid", [FeatureChange("delete", "G-0-0")], base_version=1, actor="a")
    assert older.geojson_page("grid", Query()) is None
    assert "G-0-0" not in {f.id for f in older.query("grid", Query(limit=None)).features}


def test_a_row_whose_text_is_missing_is_written_per_request(store, tmp_path):
    with contextlib.closing(sqlite3.connect(tmp_path / "grid" / "v000001.gpkg")) as db, db:
        db.execute(f"DELETE FROM {WRITTEN_TABLE} WHERE fid = 2")
    fresh = GeoPackageStore(tmp_path)
    assert fresh.geojson_page("grid", Query(limit=5)) is None  # never a feature left out
    assert fresh.geojson_page("grid", Query(limit=5, offset=10)) is not None


def test_a_layer_stored_before_gets_its_geojson_from_the_command_line(store, tmp_path, monkeypatch):
    served = store.geojson_page("grid", Query(limit=None))
    with contextlib.closing(sqlite3.connect(tmp_path / "grid" / "v000001.gpkg")) as db, db:
        db.execute(f"DROP TABLE {WRITTEN_TABLE}")
    monkeypatch.setattr(gpkg, "KEPT_RECHECK_SECONDS", 3600.0)
    older = GeoPackageStore(tmp_path)
    assert older.geojson_page("grid", Query()) is None
    ran = geo_service("layers", "--keep-geojson", "--data-dir", tmp_path)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "grid: 101 features written\n", "")
    assert older.geojson_page("grid", Query()) is None  # a running service asks again later…
    monkeypatch.setattr(gpkg, "KEPT_RECHECK_SECONDS", 0.0)
    assert older.geojson_page("grid", Query(limit=None)) == served  # …and then reads it
    assert_pages_as_written(older)
    again = geo_service("layers", "--keep-geojson", "--data-dir", tmp_path)
    assert (again.returncode, again.stdout) == (0, "grid: nothing to write\n")
    # later change sets write their rows' text too
    older.apply_changes("grid", [FeatureChange("update", "G-0-2", {"status": "operating"})], base_version=1, actor="a")  # fmt: skip
    assert_pages_as_written(GeoPackageStore(tmp_path))


def test_keeping_geojson_asks_nothing_of_a_store_that_keeps_none(sample_dir, backend):
    store = backend.store(sample_dir)
    try:
        kept = {meta.id: store.keep_geojson(meta.id) for meta in store.layers()}
    finally:
        store.dispose()
    assert kept and set(kept.values()) == {0}  # PostGIS keeps none; the sample's files have it
