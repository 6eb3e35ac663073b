"""Grid counts per cell of a view, honouring the items parameters, computed from the R-tree."""

from __future__ import annotations

import random

import pytest

from geo_service.store.gpkg import GeoPackageStore


def grid(client, **params):
    response = client.get("/collections/grid/grid", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def cells(body):
    return {
        tuple(round(v, 3) for v in f["bbox"]): f["properties"]["count"] for f in body["features"]
    }


def test_each_feature_counts_once_in_the_cell_of_its_centre(grid_client):
    body = grid(grid_client, bbox="104,21,104.3,21.3", columns=3, rows=3)
    assert body["numberMatched"] == 101
    assert cells(body) == {(104.0, 21.0, 104.1, 21.1): 100, (104.2, 21.2, 104.3, 21.3): 1}
    squares = next(f for f in body["features"] if f["properties"]["count"] == 100)
    # the mean of the 100 centres (R-tree boxes are float32: 1e-6 degrees)
    assert squares["geometry"]["coordinates"] == pytest.approx([104.05, 21.05], abs=1e-6)
    fine = grid(grid_client, bbox="104,21,104.1,21.1", columns=10, rows=10)
    assert len(fine["features"]) == 100
    assert {f["properties"]["count"] for f in fine["features"]} == {1}


def test_counts_follow_filters_and_text(grid_client):
    bbox = "104,21,104.3,21.3"
    for params in ({"status": "planned"}, {"filter": "area_ha > 50"}, {"q": "moc chau"}):
        body = grid(grid_client, bbox=bbox, columns=4, rows=4, **params)
        items = grid_client.get(
            "/collections/grid/items", params={"bbox": bbox, "limit": 1, **params}
        ).json()
        assert body["numberMatched"] == items["numberMatched"] > 0, params


def test_grid_errors(grid_client):
    assert grid_client.get("/collections/grid/grid").status_code == 400
    for params in ({"columns": 0}, {"rows": 1000}, {"bbox": "1,2,3"}, {"nope": "1"}):
        response = grid_client.get(
            "/collections/grid/grid", params={"bbox": "104,21,105,22", **params}
        )
        assert response.status_code in (400, 422), params
        assert "code" in response.json()
    assert (
        grid_client.get("/collections/nope/grid", params={"bbox": "104,21,105,22"}).status_code
        == 404
    )


def test_unfiltered_grids_from_memory_match_the_sql_grid(grid_client):
    """Unfiltered views are counted from the centres in memory, filtered ones in SQL: same cells."""
    everything = {"filter": "code IS NOT NULL"}  # matches every feature, but goes through SQL
    rng = random.Random(3)
    views = ["104,21,104.3,21.3", "104,21,104.1,21.1", "104.05,21.05,104.25,21.25"]
    views += [
        ",".join(f"{v:.4f}" for v in (x, y, x + rng.uniform(0.01, 0.4), y + rng.uniform(0.01, 0.4)))
        for x, y in ((rng.uniform(103.9, 104.2), rng.uniform(20.9, 21.2)) for _ in range(20))
    ]
    for bbox in views:
        size = {"columns": rng.randint(1, 12), "rows": rng.randint(1, 12)}
        memory = grid(grid_client, bbox=bbox, **size)
        sql = grid(grid_client, bbox=bbox, **size, **everything)
        assert cells(memory) == cells(sql), bbox
        assert memory["numberMatched"] == sql["numberMatched"]
        for a, b in zip(memory["features"], sql["features"], strict=True):
            assert a["geometry"]["coordinates"] == pytest.approx(b["geometry"]["coordinates"])


@pytest.mark.geopackage
def test_warming_reads_the_centres_of_large_layers_only(grid_dir):
    large, small = GeoPackageStore(grid_dir), GeoPackageStore(grid_dir)
    large.WARM_CENTRES_FROM, small.WARM_CENTRES_FROM = 100, 101  # the layer has 101 features
    large.warm()
    small.warm()
    assert len(large._layer_file("grid").centres.x) == 101
    assert small._layer_file("grid").centres is None
