"""Site analytics: nearest features by geodesic distance through the R-tree, and ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from geo_service.app import create_app
from geo_service.settings import Settings
from geo_service.store.gpkg import GeoPackageStore

from .raster_data import GATES, SITES, make_world

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[TestClient, dict]:
    return make_world(tmp_path_factory.mktemp("analysis"), tmp_path_factory.mktemp("files"))


def test_nearby_distances_match_the_geodesic(world):
    client, _ = world
    response = client.get("/collections/sites/items/POINT/nearby?layers=gates&k=3")
    assert response.status_code == 200, response.text
    found = response.json()["nearby"]["gates"]
    site = SITES["POINT"]
    expected = sorted(
        (GEOD.inv(site.x, site.y, gate.x, gate.y)[2], code) for code, gate in GATES.items()
    )[:3]
    assert [f["id"] for f in found] == [code for _, code in expected]
    for entry, (metres, _) in zip(found, expected, strict=True):
        assert entry["distance_m"] == pytest.approx(metres, abs=0.1)


def test_nearby_from_a_polygon_is_to_its_nearest_point(world):
    client, _ = world
    found = client.get("/collections/sites/items/NODATA/nearby?layers=gates&k=1").json()
    nearest = found["nearby"]["gates"][0]
    gate = GATES[nearest["id"]]
    boundary = shapely.segmentize(SITES["NODATA"].exterior, 1e-6)
    lon, lat = shapely.get_coordinates(boundary).T
    brute = GEOD.inv(lon, lat, np.full(lon.size, gate.x), np.full(lat.size, gate.y))[2].min()
    assert nearest["distance_m"] == pytest.approx(brute, abs=0.5)
    within = client.get("/collections/sites/items/EDGE/nearby?layers=sites&k=2").json()
    assert "EDGE" not in [n["id"] for n in within["nearby"]["sites"]]


class CountingStore(GeoPackageStore):
    """Records every query, to show the search goes through the R-tree with a bbox."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.seen: list = []

    def query(self, layer_id, query):
        page = super().query(layer_id, query)
        self.seen.append((query.bbox, len(page.features)))
        return page


def test_nearby_searches_growing_boxes_not_the_whole_layer(grid_dir):
    store = CountingStore(grid_dir)
    client = TestClient(create_app(Settings(data_dir=grid_dir), store=store))
    response = client.get("/collections/grid/items/G-5-5/nearby?layers=grid&k=4")
    assert response.status_code == 200
    found = response.json()["nearby"]["grid"]
    assert {f["id"] for f in found} == {"G-4-5", "G-6-5", "G-5-4", "G-5-6"}
    assert store.seen and all(bbox is not None for bbox, _ in store.seen)
    assert max(count for _, count in store.seen) < 101
    for bad, status in (("layers=nothing", 404), ("layers=grid&k=0", 400), ("layers=", 400)):
        response = client.get(f"/collections/grid/items/G-5-5/nearby?{bad}")
        assert response.status_code == status, bad
