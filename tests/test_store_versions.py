"""The write side of the store boundary, asked through the `Store` protocol alone: publishing
new layers, versions and drafts, the version summaries, activating and archiving, each refusal
a typed error, and nothing half-done left behind."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.errors import Conflict, InvalidParameter, NotFound
from geo_service.layer_frame import records_to_frame
from geo_service.query import Query
from geo_service.store import Store
from geo_service.store.changes import FeatureChange
from geo_service.store.gpkg import GeoPackageStore
from geo_service.store.request_reads import one_request
from geo_service.store.versioned import VersionedFolder

from .conftest import grid_layer


@pytest.fixture()
def store(tmp_path, backend) -> Store:
    return backend.store(tmp_path)


def frames():
    meta, records, geometries = grid_layer()
    return (
        meta,
        records_to_frame(meta, records, geometries),
        records_to_frame(meta, records[:10], geometries[:10]),
    )


def served_count(store: Store) -> int:
    return store.query("grid", Query(limit=0)).number_matched


def test_new_versions_and_drafts_through_the_protocol(store):
    meta, whole, first_ten = frames()
    assert store.version_numbers("grid") == [] and store.current_version("grid") is None
    with pytest.raises(NotFound):
        store.publish(meta, whole, new=False)  # a new version of nothing
    assert store.publish(meta, whole, new=True) == 1
    with pytest.raises(Conflict):
        store.publish(meta, whole, new=True)
    retitled = meta.model_copy(update={"title_en": "The draft"})
    assert store.publish(retitled, first_ten, new=False, draft=True) == 2
    assert store.current_version("grid") == 1 and served_count(store) == 101
    assert store.layer("grid").title_en == "Test grid"
    assert store.layer("grid", 2).title_en == "The draft"
    with pytest.raises(NotFound):
        store.layer("grid", 3)
    summaries = store.versions("grid")
    assert [(s.number, s.current, s.features) for s in summaries] == [
        (1, True, 101),
        (2, False, 10),
    ]
    assert summaries[1].meta.title_en == "The draft" and summaries[1].written
    store.activate("grid", 2)
    assert store.current_version("grid") == 2 and served_count(store) == 10
    store.activate("grid", 1)  # and back
    assert served_count(store) == 101
    with pytest.raises(InvalidParameter):
        store.activate("grid", 7)
    assert store.current_version("grid") == 1


def test_an_unknown_version_is_refused_naming_those_there_are(store):
    meta, whole, first_ten = frames()
    store.publish(meta, whole, new=True)
    store.publish(meta, first_ten, new=False)
    for ask in (lambda: store.layer("grid", 7), lambda: list(store.diff("grid", 1, 7))):
        with pytest.raises(NotFound) as refused:
            ask()
        assert refused.value.description.startswith("layer 'grid' has no version 7; it has [1, 2]")


def test_a_change_set_dates_the_layer_on_its_day_and_the_version_before_keeps_its_date(store):
    meta, whole, _ = frames()
    store.publish(meta, whole, new=True)
    store.apply_changes("grid", [FeatureChange("delete", "G-0-0")], base_version=1, actor="t")
    changed = store.versions("grid")[1]
    assert store.layer("grid").updated == changed.written[:10] != meta.updated
    assert store.layer("grid", 1).updated == meta.updated


def test_archive_through_the_protocol(store, tmp_path):
    meta, whole, _ = frames()
    with pytest.raises(NotFound):
        store.archive("grid")
    store.publish(meta, whole)
    name = store.archive("grid")
    assert name.startswith("grid-")
    if isinstance(store, GeoPackageStore):
        assert (tmp_path / ".archive" / name).is_dir()
    assert store.version_numbers("grid") == [] and store.layers() == []
    with pytest.raises(NotFound):
        store.archive("grid")
    with pytest.raises(NotFound):
        store.activate("grid", 1)
    with pytest.raises(NotFound):
        store.versions("grid")
    # made again, it goes on from the archived numbers
    assert store.publish(meta, whole, new=True) == 2


def test_unknown_or_malformed_ids_are_not_found_and_make_no_folder(store, tmp_path):
    for layer_id in ("nope", "..", "Grid", "grid\n"):
        with pytest.raises(NotFound):
            store.activate(layer_id, 1)
        with pytest.raises(NotFound):
            store.archive(layer_id)
        assert store.version_numbers(layer_id) == []
    assert list(tmp_path.iterdir()) == []


def test_a_request_reads_one_version_and_the_next_request_what_another_store_changed(
    store, tmp_path, backend
):
    """Each request asks the catalogue which version is served once: another store's (another
    process's) publish, rollback and archive are served from the next request on, never
    later; a write through the store itself shows in the same request."""
    meta, records, geometries = grid_layer()
    store.publish(meta, records_to_frame(meta, records, geometries))
    other = backend.store(tmp_path)

    def served() -> tuple[int, int]:
        return other.layer("grid").version, other.query("grid", Query(limit=1)).number_matched

    def has_g55() -> bool:
        """Whether the served version has G-5-5, asked first in a request (PostGIS reads it
        beside the catalogue, from the version the store served last)."""
        try:
            return other.feature("grid", "G-5-5").id == "G-5-5"
        except NotFound:
            return False

    with one_request():
        assert has_g55() and served() == (1, 101)
        store.publish(meta, records_to_frame(meta, records[:5], geometries[:5]))
        assert served() == (1, 101) and has_g55()  # one request, one version throughout
    with one_request():
        assert not has_g55() and served() == (2, 5)
    store.activate("grid", 1)
    with one_request():
        assert has_g55() and served() == (1, 101)
    with one_request():
        assert served() == (1, 101)
        other.activate("grid", 2)
        assert served() == (2, 5) and not has_g55()
    store.archive("grid")
    with one_request(), pytest.raises(NotFound):
        other.feature("grid", "G-0-0")
    with one_request(), pytest.raises(NotFound):
        other.layer("grid")
    other.dispose()


@pytest.mark.geopackage
def test_a_request_reads_which_version_is_served_once(tmp_path, backend, monkeypatch):
    """Over HTTP, a page (its layer's fields, then its rows) and the collections' listing read
    the layer's served version once a request, not once a call."""
    meta, records, geometries = grid_layer()
    backend.publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    client = TestClient(create_app(backend.settings(tmp_path)))
    asked: list[str] = []
    served = VersionedFolder.served

    def counted(folder: VersionedFolder, item_id: str):
        asked.append(item_id)
        return served(folder, item_id)

    monkeypatch.setattr(VersionedFolder, "served", counted)
    for path in ("/collections/grid/items?limit=5&bbox=104,21,105,22", "/collections"):
        client.get(path)
        asked.clear()
        assert client.get(path).status_code == 200
        assert asked == ["grid"], (path, asked)
