"""`geo-service migrate-store`: a catalogue moved from GeoPackages into the PostGIS store keeps
every version with its number, metadata, date and features, the version each layer serves (or
none, for drafts only), and its archived layers, so numbers go on where they were."""

from __future__ import annotations

import pytest

from geo_service.layer_frame import records_to_frame
from geo_service.query import Query
from geo_service.store.changes import FeatureChange
from geo_service.store.gpkg import GeoPackageStore

from .command_line import Ran, geo_service
from .conftest import grid_layer

pytestmark = pytest.mark.postgis


def migrate(source, target: str) -> Ran:
    return geo_service("migrate-store", "--from", source, "--to", target)


def test_a_catalogue_moves_with_every_version_and_state(tmp_path, backend):
    source = GeoPackageStore(tmp_path / "gpkg")
    meta, records, geometries = grid_layer()
    whole = records_to_frame(meta, records, geometries)
    ten = records_to_frame(meta, records[:10], geometries[:10])
    source.publish(meta, whole)
    source.publish(meta.model_copy(update={"title_en": "Ten squares"}), ten)
    source.publish(meta.model_copy(update={"title_en": "A draft"}), whole, draft=True)
    zones = meta.model_copy(update={"id": "zones"})
    source.publish(zones, whole)
    source.publish(zones, ten)
    source.activate("zones", 1)  # rolled back
    source.publish(meta.model_copy(update={"id": "drafty"}), ten, draft=True)
    gone = meta.model_copy(update={"id": "gone"})
    source.publish(gone, whole)
    archived_as = source.archive("gone")
    source.publish(gone, ten)  # made again: version 2
    edited = meta.model_copy(update={"id": "edited"})
    source.publish(edited, whole)
    source.apply_changes(  # versions 2 and 3 are rows of version 1's file
        "edited",
        [FeatureChange("update", "G-0-2", {"developer": "New"}), FeatureChange("delete", "G-0-3")],
        base_version=1, actor="token:test",
    )  # fmt: skip
    source.apply_changes("edited", [FeatureChange("delete", "G-0-4")], base_version=2, actor="x")

    url = backend.database_url(tmp_path / "db")
    done = migrate(tmp_path / "gpkg", url)
    assert done.returncode == 0, done.stderr
    assert "grid: versions 1, 2, 3; serving 2" in done.stdout
    target = backend.store(tmp_path / "db")
    assert sorted(m.id for m in target.layers()) == ["edited", "gone", "grid", "zones"]
    for layer_id in ("grid", "zones", "drafty", "gone", "edited"):
        before, after = source.versions(layer_id), target.versions(layer_id)
        assert [(s.number, s.current, s.features) for s in after] == [
            (s.number, s.current, s.features) for s in before
        ], layer_id
        assert [s.meta for s in after] == [s.meta for s in before], layer_id
        assert [s.written[:19] for s in after] == [s.written[:19] for s in before], layer_id
        assert [s.actor for s in after] == [s.actor for s in before], layer_id
        assert target.current_version(layer_id) == source.current_version(layer_id)
    for layer_id in ("grid", "zones", "gone", "edited"):
        every = Query(limit=None)
        assert target.query(layer_id, every) == source.query(layer_id, every), layer_id
        assert target.extent(layer_id) == pytest.approx(source.extent(layer_id))
    assert target.layer("grid", 3).title_en == "A draft"
    for version in (1, 2):
        source.activate("edited", version)
        target.activate("edited", version)
        every = Query(limit=None)
        assert target.query("edited", every) == source.query("edited", every), version
    target.activate("grid", 3)
    assert target.query("grid", Query(limit=0)).number_matched == 101
    # the archived layer came along as archived: numbers go on after it
    assert target.publish(gone, whole) == 3
    assert archived_as.startswith("gone-")

    again = migrate(tmp_path / "gpkg", url)
    assert again.returncode == 1 and "already has the layers" in again.stderr
    assert migrate(tmp_path / "gpkg", "sqlite:///x.sqlite").returncode == 2
    assert migrate(tmp_path / "nowhere", url).returncode == 2
