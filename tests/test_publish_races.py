"""Publishing under races, made deterministic: barriers and events hold each party at the point
where the race happens. Two new layers (or rasters) with one id: one is created, the other is
409. A new version whose layer is archived meanwhile: 404, the layer stays archived, and a layer
made again under that id never reuses a version number. A publisher waiting on a lock whose file
is archived away starts again on the new one. Failed publishes leave nothing behind."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from geo_service.errors import Conflict
from geo_service.ingest import service
from geo_service.layer_frame import records_to_frame
from geo_service.rasters.ingest import ingest_raster
from geo_service.rasters.store import RasterStore
from geo_service.store import gpkg, gpkg_write, versioned
from geo_service.store.gpkg import GeoPackageStore

from .conftest import grid_layer, publish, unpublished
from .raster_data import write_tiff
from .staff import staff_token
from .test_upload import NEW_LAYER_METADATA, as_file, setup, zones_frame  # noqa: F401

WAIT = 60
"""Seconds any party waits for another before the test fails (only when something is broken)."""
RASTER_META = json.dumps({"title_vi": "Địa hình", "title_en": "Terrain"})


@pytest.fixture()
def world(setup, tmp_path):  # noqa: F811 (the fixture imported above)
    client, editor, data = setup
    chief = staff_token(data, "admin")
    zones = as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON")
    tiff = write_tiff(tmp_path / "t.tif", np.ones((20, 20), dtype="float32"), nodata=0)
    return client, editor, bearer(chief), data, zones, tiff


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def post_layer(client, headers, path: Path):
    files = {"file": (path.name, path.read_bytes())}
    data = {"id": "zones", "metadata": NEW_LAYER_METADATA}
    return client.post("/admin/layers", files=files, data=data, headers=headers)


def put_layer(client, headers, path: Path):
    files = {"file": (path.name, path.read_bytes())}
    return client.put("/admin/layers/zones", files=files, headers=headers)


def post_raster(client, headers, path: Path):
    files = {"file": (path.name, path.read_bytes())}
    data = {"id": "terrain", "metadata": RASTER_META}
    return client.post("/admin/rasters", files=files, data=data, headers=headers)


def pause_after(monkeypatch, owner, name: str, hold) -> None:
    """Run `hold()` right after `owner.name(...)` returns, in whichever thread called it."""
    original = getattr(owner, name)

    def paused(*args, **kwargs):
        result = original(*args, **kwargs)
        hold()
        return result

    monkeypatch.setattr(owner, name, paused)


def test_two_new_layers_with_one_id_make_one_layer_and_one_409(world, monkeypatch, backend):
    client, editor, _, data, zones, _ = world
    both_validated = threading.Barrier(2, timeout=WAIT)
    pause_after(monkeypatch, service, "prepare", both_validated.wait)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: post_layer(client, editor, zones), range(2)))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert refused["code"] == "Conflict" and " / " in refused["description"]
    assert client.app.state.store.version_numbers("zones") == [1]
    if not backend.postgis:
        assert sorted(p.name for p in (data / "zones").iterdir()) == [
            ".lock", "current.gpkg", "v000001.gpkg"
        ]  # fmt: skip


def test_a_version_in_flight_does_not_bring_back_an_archived_layer(world, monkeypatch, backend):
    client, editor, chief, data, zones, _ = world
    assert post_layer(client, editor, zones).status_code == 201
    validated, archived = threading.Event(), threading.Event()

    def hold_once() -> None:
        if not validated.is_set():
            validated.set()
            assert archived.wait(WAIT)

    pause_after(monkeypatch, service, "prepare", hold_once)
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(put_layer, client, editor, zones)
        assert validated.wait(WAIT)
        assert client.delete("/admin/layers/zones", headers=chief).status_code == 200
        archived.set()
        answer = in_flight.result(WAIT)
    assert answer.status_code == 404 and answer.json()["code"] == "NotFound", answer.text
    assert client.get("/collections/zones").status_code == 404
    assert unpublished(client, data, "zones")
    if not backend.postgis:
        (kept,) = (data / ".archive").iterdir()
        kept_files = sorted(p.name for p in kept.iterdir() if not p.name.endswith(("-wal", "-shm")))
        assert kept_files == [".lock", "current.gpkg", "v000001.gpkg"]  # and SQLite's WAL files
    # a layer made again under the id goes on from the archived numbers
    again = post_layer(client, editor, zones)
    assert again.status_code == 201 and again.json()["version"] == 2
    assert client.get("/collections/zones").json()["version"] == 2


@pytest.mark.geopackage
def test_a_publisher_waiting_on_an_archived_lock_starts_again_on_the_new_one(tmp_path, monkeypatch):
    """T waits on the lock while its folder is archived; U creates the layer anew and is held
    inside its own lock. T must notice its lock file is gone, queue on U's, and then find the
    layer U made: 409, not a second first version written beside U's."""
    meta, records, geometries = grid_layer()
    frame = records_to_frame(meta, records, geometries)
    publish(tmp_path, meta, frame)
    t_locking = [threading.Event(), threading.Event()]
    u_writing, u_may_finish = threading.Event(), threading.Event()
    real_flock = fcntl.flock

    class CountingFcntl:
        LOCK_EX, LOCK_UN = fcntl.LOCK_EX, fcntl.LOCK_UN

        @staticmethod
        def flock(handle, operation):
            if threading.current_thread().name == "T" and operation == fcntl.LOCK_EX:
                next(e for e in t_locking if not e.is_set()).set()
            return real_flock(handle, operation)

    original_write = gpkg.write_version

    def write(*args):
        if threading.current_thread().name == "U":
            u_writing.set()
            assert u_may_finish.wait(WAIT)
        return original_write(*args)

    monkeypatch.setattr(versioned, "fcntl", CountingFcntl)
    monkeypatch.setattr(gpkg, "write_version", write)
    results: dict[str, object] = {}

    def run(name: str) -> threading.Thread:
        def target() -> None:
            try:
                results[name] = publish(tmp_path, meta, frame, new=True)
            except Exception as exc:  # the outcome is what the test checks
                results[name] = exc

        thread = threading.Thread(target=target, name=name)
        thread.start()
        return thread

    with GeoPackageStore(tmp_path).folder.lock("grid"):
        t = run("T")
        assert t_locking[0].wait(WAIT)  # T holds the lock file open and is about to wait on it
        (tmp_path / ".archive").mkdir()
        os.replace(tmp_path / "grid", tmp_path / ".archive" / "grid-archived")  # as an archive does
        u = run("U")
        assert u_writing.wait(WAIT)
    assert t_locking[1].wait(WAIT), "T went on with the lock of the archived folder"
    u_may_finish.set()
    t.join(WAIT)
    u.join(WAIT)
    assert isinstance(results["T"], Conflict), results["T"]
    assert results["U"] == 2
    assert GeoPackageStore(tmp_path).version_numbers("grid") == [2]


def test_two_new_rasters_with_one_id_make_one_raster_and_one_409(world, monkeypatch):
    client, editor, _, data, _, tiff = world
    both_checked = threading.Barrier(2, timeout=WAIT)
    original = RasterStore.publish

    def checked_together(self, *args, **kwargs):
        both_checked.wait()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RasterStore, "publish", checked_together)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: post_raster(client, editor, tiff), range(2)))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert RasterStore(data).version_numbers("terrain") == [1]


def test_a_raster_version_in_flight_does_not_bring_back_an_archived_raster(world, monkeypatch):
    client, editor, chief, data, _, tiff = world
    assert post_raster(client, editor, tiff).status_code == 201
    checked, archived = threading.Event(), threading.Event()
    original = RasterStore.publish

    def held_once(self, *args, **kwargs):
        if not checked.is_set():
            checked.set()
            assert archived.wait(WAIT)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RasterStore, "publish", held_once)
    files = {"file": ("t.tif", tiff.read_bytes())}
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(client.put, "/admin/rasters/terrain", files=files, headers=editor)
        assert checked.wait(WAIT)
        assert client.delete("/admin/rasters/terrain", headers=chief).status_code == 200
        archived.set()
        answer = in_flight.result(WAIT)
    assert answer.status_code == 404, answer.text
    assert client.get("/rasters/terrain").status_code == 404
    assert not (data / "_rasters" / "terrain").exists()
    again = post_raster(client, editor, tiff)
    assert again.status_code == 201 and again.json()["raster"]["version"] == 2


@pytest.mark.geopackage
def test_failed_first_publishes_leave_no_folder(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    meta, records, geometries = grid_layer()
    monkeypatch.setattr(gpkg_write, "_write_search_table", broken)
    with pytest.raises(OSError):
        publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    assert not (tmp_path / "grid").exists()

    monkeypatch.setattr(versioned, "fsync_file", broken)
    tiff = write_tiff(tmp_path / "t.tif", np.ones((20, 20), dtype="float32"), nodata=0)
    store = RasterStore(tmp_path)
    with pytest.raises(OSError):
        ingest_raster(tiff, "terrain", {"title_vi": "a", "title_en": "a"}, None, 10**6, "14", store)
    assert list(store.folder.root.iterdir()) == []
