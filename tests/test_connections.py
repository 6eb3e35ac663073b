"""The GeoPackage store's connections: only the served version of a layer stays open, whatever
the number of publishes and reading threads, and a reader mid-query on a version being replaced
finishes its request before that version's connection closes."""

from __future__ import annotations

import gc
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from geo_service.layer_frame import records_to_frame
from geo_service.query import Query
from geo_service.store import gpkg
from geo_service.store.gpkg import GeoPackageStore

from .conftest import grid_layer, publish

READERS = 4
PUBLISHES = 100


pytestmark = pytest.mark.geopackage  # the GeoPackage store's own connections


def open_descriptors() -> list[str]:
    """What this process's descriptors point at."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the descriptor listing the folder itself, closed meanwhile
            continue
    return targets


def open_versions(data_dir: Path) -> list[str]:
    return [t for t in open_descriptors() if t.startswith(str(data_dir)) and t.endswith(".gpkg")]


def small_layer():
    meta, records, geometries = grid_layer()
    return meta, records_to_frame(meta, records[:12], geometries[:12])


def read_everything(store: GeoPackageStore) -> int:
    page = store.query("grid", Query(bbox=(104.0, 21.0, 104.02, 21.05), limit=5))
    store.facets("grid", Query(), ("status", "area_ha"))
    store.grid("grid", Query(), (104.0, 21.0, 104.1, 21.1), 4, 4)
    store.feature("grid", "G-0-1")
    return page.number_matched


def test_descriptors_stay_flat_over_100_publishes_with_reads_from_several_threads(tmp_path):
    gc.collect()  # what earlier tests left for the collector closes now, not while counting
    meta, frame = small_layer()
    publish(tmp_path, meta, frame)
    store = GeoPackageStore(tmp_path)
    expected = read_everything(store)
    assert expected == 7  # squares 0-0 … 0-4, 1-0 and 1-1
    totals, versions_open = [], []
    with ThreadPoolExecutor(READERS) as readers:
        for _ in range(PUBLISHES):
            publish(tmp_path, meta, frame)
            found = set(readers.map(lambda _: read_everything(store), range(3 * READERS)))
            assert found == {expected}
            served = str(store.folder.current("grid"))
            versions = open_versions(tmp_path)
            assert set(versions) == {served}, "only the served version is open"
            versions_open.append(len(versions))
            totals.append(len(open_descriptors()))
    assert max(versions_open) <= gpkg.IDLE_CONNECTIONS
    # flat: a connection holds two descriptors (the file and its WAL) and the pool keeps one to
    # IDLE_CONNECTIONS of them; the process's others come and go by one or two (threads, GDAL),
    # but one left open per publish would add a hundred
    assert max(totals) - min(totals) <= 2 * gpkg.IDLE_CONNECTIONS + 2, totals
    print(f"descriptors over {PUBLISHES} publishes: first {totals[0]}, last {totals[-1]}, "
          f"most {max(totals)}; version files open at the end: {versions_open[-1]}")  # fmt: skip
    store.archive("grid")
    assert store.layers() == []
    assert open_versions(tmp_path) == [], "an archived layer's connections close"


def test_a_reader_mid_query_finishes_before_its_version_closes(tmp_path, monkeypatch):
    meta, frame = small_layer()
    publish(tmp_path, meta, frame)
    started, release = threading.Event(), threading.Event()
    exact = gpkg.sql_intersects

    def slow_intersects(blob, wkb):
        if not started.is_set():
            started.set()
            assert release.wait(30)
        return exact(blob, wkb)

    monkeypatch.setattr(gpkg, "sql_intersects", slow_intersects)
    store = GeoPackageStore(tmp_path)
    old = str(store.folder.current("grid"))
    with ThreadPoolExecutor(1) as pool:
        # the box's top edge crosses G-0-4, which the exact test (paused here) then decides
        reading = pool.submit(
            store.query, "grid", Query(bbox=(104.0, 21.0, 104.02, 21.045), limit=50)
        )
        assert started.wait(30)
        publish(tmp_path, meta, frame)
        assert store.query("grid", Query(limit=1)).number_matched == 12  # the new version
        assert old in open_versions(tmp_path), "still lent to the reader"
        release.set()
        assert reading.result().number_matched == 7
    assert old not in open_versions(tmp_path)
