"""OGC API – Tiles: the tile matrix set, tilesets, and Mapbox Vector Tiles of the test grid from
both stores, decoded with the same library that encodes them, checked against the grid's own
geometry; filters, properties, ETags, the cache and its invalidation, the feature limit, and
tiles that do not exist."""

from __future__ import annotations

import math
from pathlib import Path

import mapbox_vector_tile
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.layer_frame import records_to_frame
from geo_service.memory_cache import ENTRY_BYTES
from geo_service.store import Feature, VectorTile
from geo_service.store.changes import FeatureChange
from geo_service.store.mvt import encode_features
from geo_service.tilematrix import Tile
from geo_service.vector_tiles import tile_cache

from .conftest import error_document, grid_layer, publish, store_of

MVT = "application/vnd.mapbox-vector-tile"
EXTENT, BUFFER = 4096, 64
TILES = "/collections/grid/tiles/WebMercatorQuad"
GRID = {code: (record, geometry) for record, geometry in zip(*grid_layer()[1:], strict=True)
        for code in [record["code"]]}  # fmt: skip


def tile_at(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The slippy-map tile holding a point (the usual formula, written out independently)."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def lonlat(z: int, fx: float, fy: float) -> tuple[float, float]:
    """The point at fractional tile coordinates (fx, fy) of zoom z."""
    n = 2**z
    return fx / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * fy / n))))


def tile_box(z: int, x: int, y: int, margin: float = 0.0) -> shapely.Polygon:
    """The tile (widened by `margin` tile widths) in longitude/latitude."""
    west, north = lonlat(z, x - margin, y - margin)
    east, south = lonlat(z, x + 1 + margin, y + 1 + margin)
    return shapely.box(west, south, east, north)


def decoded(response) -> list[dict]:
    """The features of the grid layer in a tile answer (none for 204)."""
    if response.status_code == 204:
        assert response.content == b""
        return []
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    layers = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
    assert set(layers) == {"grid"}
    assert layers["grid"]["extent"] == EXTENT
    return layers["grid"]["features"]


def ids(response) -> set[str]:
    return {f["properties"]["id"] for f in decoded(response)}


def tile_url(z: int, x: int, y: int) -> str:
    return f"{TILES}/{z}/{x}/{y}"


def expected(z: int, x: int, y: int, keep=lambda record: True) -> tuple[set[str], set[str]]:
    """Codes of the grid features that must be in the tile (wholly inside it) and that may be
    (reaching its buffer)."""
    inner, outer = tile_box(z, x, y), tile_box(z, x, y, BUFFER / EXTENT)
    kept = {code: g for code, (r, g) in GRID.items() if keep(r)}
    must = {code for code, g in kept.items() if inner.contains(g)}
    may = {code for code, g in kept.items() if outer.intersects(g)}
    return must, may


VIEWS = [
    tile_at(104.05, 21.05, 8),
    tile_at(104.05, 21.05, 12),
    tile_at(104.235, 21.205, 12),
    tile_at(104.005, 21.005, 14),
    tile_at(104.045, 21.075, 14),
    tile_at(104.095, 21.095, 14),
    tile_at(104.21, 21.23, 14),
]


def test_tiles_hold_the_features_that_reach_them(grid_client):
    wholly = 0
    for view in VIEWS:
        got = ids(grid_client.get(tile_url(*view)))
        must, may = expected(*view)
        assert may and must <= got <= may, view
        wholly += len(must)
    assert wholly > 50


def test_geometries_are_in_tile_coordinates(grid_client):
    """A square wholly inside a z14 tile comes back where the grid put it, to a unit."""
    z, x, y = tile_at(104.045, 21.075, 14)
    features = {f["properties"]["id"]: f for f in decoded(grid_client.get(tile_url(z, x, y)))}
    must, _ = expected(z, x, y)
    n = 2**z

    def to_tile(lon: float, lat: float) -> tuple[float, float]:
        fx = (lon + 180) / 360 * n
        fy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
        return (fx - x) * EXTENT, (fy - y) * EXTENT

    for code in must:
        west, south, east, north = GRID[code][1].bounds
        (left, top), (right, bottom) = to_tile(west, north), to_tile(east, south)
        got = shapely.geometry.shape(features[code]["geometry"])
        assert got.geom_type == "Polygon"
        assert got.bounds == pytest.approx((left, top, right, bottom), abs=1.01), code


@pytest.mark.parametrize("reverse", [False, True])
def test_rings_wind_as_the_specification_asks(reverse):
    """Exterior rings clockwise on screen and holes the other way, however the source winds
    them: a reader tells parts from holes by the winding alone, so a wrong one turns the second
    part of a multipolygon into a hole of the first."""
    tile = Tile(12, 3231, 1802)
    west, south, east, north = tile.wgs84_bounds()

    def box(a: float, b: float) -> shapely.Polygon:
        width, height = east - west, north - south
        return shapely.box(
            west + a * width, south + a * height, west + b * width, south + b * height
        )

    def ring(polygon: shapely.Polygon) -> list:
        return list(polygon.exterior.coords)[:: -1 if reverse else 1]

    holed = shapely.Polygon(ring(box(0.2, 0.6)), [ring(box(0.3, 0.4))])
    source = shapely.MultiPolygon([holed, shapely.Polygon(ring(box(0.7, 0.8)))])
    made = encode_features([Feature("a", shapely.to_wkb(source), {})], tile, "grid", 10)
    (feature,) = mapbox_vector_tile.decode(made.data, default_options={"y_coord_down": True})[
        "grid"
    ]["features"]
    got = shapely.geometry.shape(feature["geometry"])
    assert got.geom_type == "MultiPolygon"
    assert [len(part.interiors) for part in got.geoms] == [1, 0]
    assert got.area == pytest.approx((0.4**2 - 0.1**2 + 0.1**2) * EXTENT**2, rel=0.01)


def test_an_empty_tile_is_204_with_an_etag(grid_client):
    answer = grid_client.get(tile_url(*tile_at(10.0, 10.0, 10)))
    assert answer.status_code == 204
    assert answer.content == b""
    assert answer.headers["ETag"]


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"status": "planned"}, lambda r: r["status"] == "planned"),
        ({"filter": "area_ha > 50"}, lambda r: (r.get("area_ha") or 0) > 50),
        (
            {"filter": '{"op": "=", "args": [{"property": "status"}, "operating"]}',
             "filter-lang": "cql2-json"},
            lambda r: r["status"] == "operating",
        ),
        ({"q": "moc chau"}, lambda r: "Mộc Châu" in r["name_vi"] + r.get("commune_name", "")),
        ({"datetime": "2025-06-01/.."}, lambda r: r["updated_at"] >= "2025-06-01"),
    ],
)  # fmt: skip
def test_tiles_are_filtered_like_items(grid_client, params, keep):
    for view in [tile_at(104.05, 21.05, 8), tile_at(104.045, 21.075, 14)]:
        got = ids(grid_client.get(tile_url(*view), params=params))
        must, may = expected(*view, keep)
        assert must, (view, params)
        assert must <= got <= may, (view, params)
        assert got < ids(grid_client.get(tile_url(*view))), (view, params)


def test_tiles_carry_the_id_and_the_fields_a_map_needs(grid_client):
    view = tile_url(*tile_at(104.045, 21.075, 14))
    features = decoded(grid_client.get(view))
    record = GRID[features[0]["properties"]["id"]][0]
    properties = features[0]["properties"]
    assert properties["name_vi"] == record["name_vi"]
    assert properties["status"] == record["status"]
    assert properties["area_ha"] == record["area_ha"]
    assert properties["approved_year"] == record["approved_year"]
    assert properties["updated_at"] == record["updated_at"]
    for free_text in ("developer", "commune_name", "source", "code"):
        assert free_text not in properties
    chosen = decoded(grid_client.get(view, params={"properties": "name_en,developer"}))
    for feature in chosen:
        record = GRID[feature["properties"]["id"]][0]
        expected_properties = {"id": record["code"], "name_en": record["name_en"]}
        if record["developer"] is not None:  # a tile holds no null
            expected_properties["developer"] = record["developer"]
        assert feature["properties"] == expected_properties
    assert grid_client.get(view, params={"properties": "nope"}).status_code == 400


def test_etags_and_304(grid_client):
    view = tile_url(*tile_at(104.05, 21.05, 12))
    first, again = grid_client.get(view), grid_client.get(view)
    tag = first.headers["ETag"]
    assert tag == again.headers["ETag"] and first.content == again.content
    assert first.headers["Cache-Control"] == "public, no-cache"
    unchanged = grid_client.get(view, headers={"If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["ETag"] == tag
    assert grid_client.get(view, headers={"If-None-Match": f'W/{tag}, "x"'}).status_code == 304
    assert grid_client.get(view, headers={"If-None-Match": '"other"'}).status_code == 200
    filtered = grid_client.get(view, params={"status": "planned"})
    assert filtered.headers["ETag"] != tag
    other_tile = grid_client.get(tile_url(*tile_at(104.05, 21.05, 11)))
    assert other_tile.headers["ETag"] != tag


@pytest.fixture()
def tiles_dir(tmp_path: Path, backend) -> Path:
    backend.claim(tmp_path)
    meta, records, geometries = grid_layer()
    publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    return tmp_path


class CountingStore:
    """The app's store, counting the tiles it is asked to make."""

    def __init__(self, store) -> None:
        self.store, self.made = store, 0

    def tile(self, *args):
        self.made += 1
        return self.store.tile(*args)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_the_cache_serves_repeat_views_until_a_publish_or_a_change_set(tiles_dir, backend):
    client = TestClient(create_app(backend.settings(tiles_dir)))
    tiles = client.app.state.tiles
    counting = tiles.store = CountingStore(tiles.store)
    view = tile_url(*tile_at(104.045, 21.075, 14))
    operating = {"status": "operating"}
    first = client.get(view, params=operating)
    assert client.get(view, params=operating).content == first.content
    assert counting.made == 1  # the repeat view came from memory
    assert tiles.cache.bytes > len(first.content)
    before = ids(first)

    # a change set makes a new version: new ETag, new content
    changed = sorted(before)[0]
    store = store_of(tiles_dir)
    try:
        store.apply_changes(
            "grid",
            [FeatureChange("update", changed, {"status": "planned"},
                           if_match=store.feature_etag("grid", changed))],
            base_version=store.current_version("grid"),
            actor="editor",
        )  # fmt: skip
    finally:
        store.dispose()
    edited = client.get(view, params=operating, headers={"If-None-Match": first.headers["ETag"]})
    assert edited.status_code == 200
    assert edited.headers["ETag"] != first.headers["ETag"]
    assert ids(edited) == before - {changed}
    assert counting.made == 2

    # a new upload: every feature of the tile now operating
    meta, records, geometries = grid_layer()
    for record in records:
        record["status"] = "operating"
    publish(tiles_dir, meta, records_to_frame(meta, records, geometries))
    published = client.get(view, params=operating)
    assert published.headers["ETag"] not in (first.headers["ETag"], edited.headers["ETag"])
    assert ids(published) == ids(client.get(view)) > before
    assert counting.made == 4


def test_the_feature_limit_cuts_a_tile_and_says_so(tiles_dir, backend):
    client = TestClient(create_app(backend.settings(tiles_dir, tile_max_features=10)))
    whole = client.get(tile_url(*tile_at(104.05, 21.05, 8)))
    assert len(decoded(whole)) == 10
    assert whole.headers["Geo-Service-Tile-Truncated"] == "10"
    small_view = tile_at(104.005, 21.005, 14)
    small = client.get(tile_url(*small_view))
    assert 0 < len(decoded(small)) <= 10
    assert "Geo-Service-Tile-Truncated" not in small.headers
    # a filter that leaves fewer features than the limit: none cut
    few = client.get(tile_url(*tile_at(104.05, 21.05, 8)), params={"filter": "area_ha < 3"})
    assert ids(few) == {"G-0-0", "G-0-1", "G-0-2"}
    assert "Geo-Service-Tile-Truncated" not in few.headers


def test_tiles_that_do_not_exist(grid_client):
    for path, status in [
        (f"{TILES}/1/2/0", 404),
        (f"{TILES}/1/0/2", 404),
        (f"{TILES}/-1/0/0", 404),
        (f"{TILES}/25/0/0", 404),
        (f"{TILES}/3/-1/0", 404),
        (f"{TILES}/3/0/{2**70}", 404),
        (f"{TILES}/a/0/0", 400),
        (f"{TILES}/3/1.5/0", 400),
        (f"{TILES}/3/0/1e3", 400),
        ("/collections/grid/tiles/WorldCRS84Quad/0/0/0", 404),
        ("/collections/nope/tiles/WebMercatorQuad/0/0/0", 404),
        ("/collections/nope/tiles", 404),
        ("/tileMatrixSets/nope", 404),
    ]:
        answer = grid_client.get(path)
        assert answer.status_code == status, (path, answer.text)
        error_document(answer)
    for params in [{"bbox": "104,21,105,22"}, {"limit": "5"}, {"sortby": "area_ha"},
                   {"filter": "area_ha >"}, {"nope": "1"}, {"offset": "3"}]:  # fmt: skip
        answer = grid_client.get(f"{TILES}/8/202/113", params=params)
        assert answer.status_code == 400, (params, answer.text)
        error_document(answer)


def test_tile_matrix_sets_and_tilesets(grid_client):
    sets = grid_client.get("/tileMatrixSets").json()
    assert [s["id"] for s in sets["tileMatrixSets"]] == ["WebMercatorQuad"]
    quad = grid_client.get("/tileMatrixSets/WebMercatorQuad").json()
    assert quad["crs"].endswith("EPSG/0/3857")
    matrices = quad["tileMatrices"]
    assert [m["id"] for m in matrices] == [str(z) for z in range(25)]
    assert matrices[12]["matrixWidth"] == 4096 and matrices[0]["pointOfOrigin"][1] > 2e7

    listing = grid_client.get("/collections/grid/tiles").json()
    (tileset,) = listing["tilesets"]
    assert tileset["dataType"] == "vector"
    template = next(li for li in tileset["links"] if li["rel"] == "item")
    assert template["templated"] and template["type"] == MVT
    assert template["href"].endswith("/collections/grid/tiles/WebMercatorQuad/{z}/{x}/{y}")

    described = grid_client.get(TILES, params={"status": "planned"}).json()
    assert described["tiles"][0].endswith("/{z}/{x}/{y}?status=planned")
    limits = {m["tileMatrix"]: m for m in described["tileMatrixSetLimits"]}
    for z, x, y in VIEWS:
        level = limits[str(z)]
        assert level["minTileCol"] <= x <= level["maxTileCol"], (z, x)
        assert level["minTileRow"] <= y <= level["maxTileRow"], (z, y)
    (layer,) = described["layers"]
    assert layer["id"] == "grid" and layer["geometryDimension"] == 2
    assert layer["propertiesSchema"]["properties"]["area_ha"]["type"] == "number"
    assert "developer" not in described["vector_layers"][0]["fields"]

    collection = grid_client.get("/collections/grid").json()
    assert any(li["href"].endswith("/collections/grid/tiles") for li in collection["links"])
    landing = grid_client.get("/").json()
    assert any(li["href"].endswith("/tileMatrixSets") for li in landing["links"])
    conformance = grid_client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conformance
    paths = grid_client.get("/api").json()["paths"]
    tile_path = "/collections/{collection_id}/tiles/{tile_matrix_set_id}/{z}/{x}/{y}"
    assert MVT in paths[tile_path]["get"]["responses"]["200"]["content"]


def test_the_tile_cache_keeps_within_its_bytes():
    cache = tile_cache(max_bytes=3000)
    for n in range(10):
        cache.put(n, VectorTile(bytes(800), 1, False))
        assert cache.bytes <= 3000
    assert cache.get(9) is not None and cache.get(0) is None
    cache.get(7)  # used: kept ahead of 8
    cache.put(10, VectorTile(bytes(800), 1, False))
    assert cache.get(7) is not None and cache.get(8) is None
    cache.put(11, VectorTile(bytes(5000), 1, False))  # larger than the whole cache
    assert cache.get(11) is None
    assert tile_cache(0).get(1) is None
    assert cache.bytes == sum(len(cache.get(k).data) + ENTRY_BYTES for k in (7, 9, 10))


@pytest.mark.parametrize("layer_id", ["industrial_zones", "investment_projects"])
def test_every_feature_of_a_layer_is_in_the_tiles_over_its_extent(sample_client, layer_id):
    """Layers of the sample, the pipeline's projects (read from the records database) among
    them: the tiles a tileset's limits name at zoom 10 hold every feature between them."""
    described = sample_client.get(f"/collections/{layer_id}/tiles/WebMercatorQuad").json()
    level = next(m for m in described["tileMatrixSetLimits"] if m["tileMatrix"] == "10")
    found: set[str] = set()
    for x in range(level["minTileCol"], level["maxTileCol"] + 1):
        for y in range(level["minTileRow"], level["maxTileRow"] + 1):
            answer = sample_client.get(f"/collections/{layer_id}/tiles/WebMercatorQuad/10/{x}/{y}")
            if answer.status_code == 200:
                layers = mapbox_vector_tile.decode(answer.content)
                found |= {f["properties"]["id"] for f in layers[layer_id]["features"]}
            else:
                assert answer.status_code == 204, answer.text
    items = sample_client.get(f"/collections/{layer_id}/items", params={"limit": 1000}).json()
    assert len(items["features"]) == items["numberMatched"] > 0
    drawable = {f["id"] for f in items["features"] if f["geometry"] is not None}
    assert found == drawable  # a project not yet located has nothing to draw
