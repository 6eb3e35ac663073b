"""Site analytics: nearest features by geodesic distance through the R-tree, and ranking."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from geo_service import strict_json
from geo_service.app import create_app
from geo_service.store import Store

from .raster_data import GATES, SITES, box_offsets, layer, make_world

GEOD = Geod(ellps="WGS84")


PLOTS = {  # offsets in metres east, north of the rasters' corner; rows and columns of 10 m
    "P1": box_offsets(100, -600, 300, -400),  # rows 40–59, columns 10–29
    "P2": box_offsets(1000, -1200, 1200, -1000),  # rows 100–119, columns 100–119
    "P3": box_offsets(2500, -300, 2700, -100),  # rows 10–29, columns 250–269
    "P4": box_offsets(2000, -1900, 2200, -1700),  # rows 170–189, columns 200–219
}
PLOT_AREA = {"P1": 10.0, "P2": 30.0, "P3": 20.0, "P4": 5.0}
PLOT_MEAN = {"P1": 4969.5, "P2": 11059.5, "P3": 2209.5, "P4": 18159.5}  # 100 · row + column


@pytest.fixture(scope="module")
def world(tmp_path_factory, backend) -> tuple[TestClient, dict]:
    data = tmp_path_factory.mktemp("analysis")
    backend.publish(data, *layer("plots", "land_auction_plot", "polygon", PLOTS, PLOT_AREA))
    return make_world(backend, data, tmp_path_factory.mktemp("files"))


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


class CountingStore:
    """A store that records every query, to show the search goes through the spatial index
    with a bbox."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen: list = []

    def query(self, layer_id, query):
        page = self.store.query(layer_id, query)
        self.seen.append((query.bbox, len(page.features)))
        return page

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def test_nearby_searches_growing_boxes_not_the_whole_layer(grid_dir, backend):
    store = CountingStore(backend.store(grid_dir))
    client = TestClient(create_app(backend.settings(grid_dir), store=store))
    response = client.get("/collections/grid/items/G-5-5/nearby?layers=grid&k=4")
    assert response.status_code == 200
    found = response.json()["nearby"]["grid"]
    assert {f["id"] for f in found} == {"G-4-5", "G-6-5", "G-5-4", "G-5-6"}
    assert store.seen and all(bbox is not None for bbox, _ in store.seen)
    assert max(count for _, count in store.seen) < 101
    for bad, status in (("layers=nothing", 404), ("layers=grid&k=0", 400), ("layers=", 400)):
        response = client.get(f"/collections/grid/items/G-5-5/nearby?{bad}")
        assert response.status_code == status, bad


CRITERIA = [
    {"type": "attribute", "field": "area_ha", "weight": 2, "direction": "higher"},
    {"type": "raster", "raster": "values", "stat": "mean", "weight": 1, "direction": "lower"},
    {"type": "distance", "layer": "gates", "weight": 1, "direction": "lower",
     "filter": "code = 'GATE-1'"},
]  # fmt: skip


def ranked(client, criteria=CRITERIA, candidates=None, params=None):
    body = {"candidates": candidates or {"collection": "plots"}, "criteria": criteria}
    return client.post("/analysis/rank", json=body, params=params)


def test_ranking_order_and_contributions_that_sum_to_the_score(world):
    client, _ = world
    response = ranked(client)
    assert response.status_code == 200, response.text
    result = response.json()
    gate = GATES["GATE-1"]
    distance = {}
    for code, plot in PLOTS.items():
        lon, lat = shapely.get_coordinates(shapely.segmentize(plot.exterior, 1e-6)).T
        distance[code] = GEOD.inv(lon, lat, np.full(lon.size, gate.x), np.full(lon.size, gate.y))[
            2
        ].min()
    raw = {"area_ha": PLOT_AREA, "values mean": PLOT_MEAN, "distance_m gates": distance}
    shares = {"area_ha": 0.5, "values mean": 0.25, "distance_m gates": 0.25}
    expected = {}
    for code in PLOTS:
        score = 0.0
        for name, values in raw.items():
            low, high = min(values.values()), max(values.values())
            share = (values[code] - low) / (high - low)
            score += shares[name] * (share if name == "area_ha" else 1 - share)
        expected[code] = score
    sites = result["sites"]
    assert [s["id"] for s in sites] == ["P2", "P3", "P1", "P4"]
    assert [s["id"] for s in sites] == sorted(expected, key=lambda c: -expected[c])
    for site in sites:
        assert site["score"] == pytest.approx(expected[site["id"]], abs=1e-4)
        assert sum(p["contribution"] for p in site["criteria"]) == pytest.approx(site["score"])
        by_name = {p["criterion"]: p for p in site["criteria"]}
        for name, values in raw.items():
            assert by_name[name]["raw"] == pytest.approx(values[site["id"]], rel=1e-4, abs=0.5)
    assert [c["weight_share"] for c in result["criteria"]] == [0.5, 0.25, 0.25]
    assert result["numberMatched"] == 4 and result["excluded"] == []


def test_a_threshold_excludes_and_the_rest_is_renormalised(world):
    client, _ = world
    criteria = [CRITERIA[0] | {"min": 8}, CRITERIA[1],
                {"type": "raster", "raster": "dem:slope", "weight": 1, "direction": "lower"}]  # fmt: skip
    result = ranked(client, criteria).json()
    assert [s["id"] for s in result["sites"]] == ["P2", "P3", "P1"]
    assert [e["id"] for e in result["excluded"]] == ["P4"]
    assert "area_ha 5 < min 8" in result["excluded"][0]["reasons"][0]
    top = {p["criterion"]: p for p in result["sites"][0]["criteria"]}
    assert top["area_ha"]["normalised"] == 1.0
    assert top["dem:slope mean"]["normalised"] == 1.0  # one slope for all: equal, so 1 each


def test_a_ranking_exports_as_csv_and_xlsx(world):
    client, _ = world
    response = ranked(client, params={"f": "csv", "lang": "en"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig").splitlines()
    assert text[0].startswith("Rank,Id,Name,Score,area_ha (raw)")
    assert [line.split(",")[1] for line in text[1:]] == ["P2", "P3", "P1", "P4"]
    xlsx = ranked(client, params={"f": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_a_ranking_by_a_figure_no_site_has_still_exports(world):
    """A column without a single value (no plot states a starting price) is written empty."""
    client, _ = world
    unknown = {"type": "attribute", "field": "starting_price_million_vnd", "weight": 1,
               "direction": "higher"}  # fmt: skip
    for f in ("csv", "xlsx"):
        response = ranked(client, [unknown, CRITERIA[2]], params={"f": f, "lang": "en"})
        assert response.status_code == 200, response.text
    lines = ranked(client, [unknown, CRITERIA[2]], params={"f": "csv"}).content.decode("utf-8-sig")
    rows = lines.splitlines()
    assert len(rows) == 1 + 4 and "starting_price_million_vnd" in rows[0]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"candidates": {"collection": "nothing"}}, 404),
        ({"candidates": {"collection": "plots", "filter": "area_ha >"}}, 400),
        ({"candidates": {"collection": "plots", "filter": "nope = 1"}}, 400),
        ({"candidates": {"collection": "plots", "limit": 2}}, 413),
        ({"candidates": {"collection": "plots", "limit": 100000}}, 400),
        ({"criteria": []}, 400),
        ({"criteria": [{"type": "attribute", "weight": 1, "direction": "higher"}]}, 400),
        ({"criteria": [CRITERIA[0] | {"field": "name_vi"}]}, 400),
        ({"criteria": [CRITERIA[0] | {"weight": 0}]}, 400),
        ({"criteria": [CRITERIA[0] | {"direction": "up"}]}, 400),
        ({"criteria": [CRITERIA[0] | {"min": 5, "max": 1}]}, 400),
        ({"criteria": [CRITERIA[1] | {"raster": "nothing"}]}, 404),
        ({"criteria": [CRITERIA[1] | {"raster": "values:slope"}]}, 400),
        ({"criteria": [CRITERIA[2] | {"layer": "nothing"}]}, 404),
        ({"criteria": [CRITERIA[2] | {"filter": "("}]}, 400),
        ({"criteria": [{"type": "volume", "weight": 1, "direction": "higher"}]}, 400),
    ],
)
def test_bad_rankings_are_clear_errors(world, change, status):
    client, _ = world
    body = {"candidates": {"collection": "plots"}, "criteria": CRITERIA} | change
    response = client.post("/analysis/rank", json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] in ("NotFound", "InvalidParameterValue", "PayloadTooLarge")


def test_candidates_take_the_maps_text_search_and_view(world):
    """The map ranks what it shows: the filter, and also the search text and "only in view"."""
    client, _ = world
    west, south, east, north = shapely.union_all([PLOTS["P1"], PLOTS["P2"]]).bounds
    view = f"{west},{south},{east},{north}"
    in_view = ranked(client, candidates={"collection": "plots", "bbox": view}).json()
    assert sorted(s["id"] for s in in_view["sites"]) == ["P1", "P2"]
    searched = ranked(client, candidates={"collection": "plots", "q": "dia diem p3"}).json()
    assert [s["id"] for s in searched["sites"]] == ["P3"]
    bad = ranked(client, candidates={"collection": "plots", "bbox": "1,2,3"})
    assert bad.status_code == 400 and "bbox" in bad.json()["description"]


AREA = '{"type": "attribute", "field": "area_ha", "direction": "higher"'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f'{{"candidates": {{"collection": "plots"}}, "criteria": [{AREA}, "weight": NaN}}]}}',
         "NaN"),
        (f'{{"candidates": {{"collection": "plots"}}, "criteria": [{AREA}, "weight": 1e999}}]}}',
         "too large"),
        (f'{{"candidates": {{"collection": "plots"}}, "criteria": [{AREA}, "weight": 1, '
         f'"min": -Infinity}}]}}', "Infinity"),
        (f'{{"candidates": {{"collection": "plots"}}, "criteria": [{AREA}, "weight": 1, '
         f'"max": Infinity}}]}}', "Infinity"),
        ('{"candidates": {"collection": "plots", "filter": "area_ha > 9223372036854775808"}, '
         f'"criteria": [{AREA}, "weight": 1}}]}}', "64-bit"),
        ('{"candidates": {"collection": "plots", "filter": {"op": ">", "args": '
         '[{"property": "area_ha"}, 9223372036854775808]}}, '
         f'"criteria": [{AREA}, "weight": 1}}]}}', "64-bit"),
        ('{"candidates": {"collection": "plots", "q": "\\ud800"}, '
         f'"criteria": [{AREA}, "weight": 1}}]}}', "surrogate"),
    ],
)  # fmt: skip
def test_rankings_with_numbers_that_are_not_finite_are_400s(world, body, message):
    client, _ = world
    response = client.post(
        "/analysis/rank", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["description"]


def test_the_largest_weights_still_give_finite_shares_and_scores(world):
    client, _ = world
    huge = {"type": "attribute", "field": "area_ha", "weight": 1.7e308, "direction": "higher"}
    response = ranked(client, criteria=[huge, huge | {"direction": "lower"}])
    assert response.status_code == 200, response.text
    result = strict_json.loads(response.text)  # which refuses NaN and Infinity
    assert [c["weight_share"] for c in result["criteria"]] == [0.5, 0.5]
    assert all(s["score"] == pytest.approx(0.5) for s in result["sites"])
