"""Raster layers: registration as COGs, tiles and legends, zonal statistics and slope.

Every raster is generated with known values; zonal statistics are checked against
hand-computed pixel weights, slope against the analytic angle of an inclined plane.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from geo_service.app import create_app
from geo_service.rasters.coverage import cover

from .conftest import settings_of
from .raster_data import PIXEL, SITES, layer, make_world, register, vn2000, write_tiff
from .staff import staff_token


@pytest.fixture(scope="module")
def world(tmp_path_factory, backend) -> tuple[TestClient, dict, Path]:
    data = tmp_path_factory.mktemp("rasters")
    return *make_world(backend, data, tmp_path_factory.mktemp("files")), data


def stats_of(client, site: str, rasters: str) -> dict:
    response = client.get(f"/collections/sites/items/{site}/stats", params={"rasters": rasters})
    assert response.status_code == 200, response.text
    return {entry["raster"]: entry for entry in response.json()["stats"]}


# -- registration ---------------------------------------------------------------------------
def test_a_registered_raster_is_a_cog_with_metadata_and_links(world):
    client, _, data = world
    listed = client.get("/rasters").json()["rasters"]
    assert [r["id"] for r in listed] == ["dem", "values"]
    document = client.get("/rasters/values").json()
    assert document["crs"] == "EPSG:9206"
    assert document["value_range"] == [10.0, 20199.0]
    assert document["nodata"] == -9999
    assert document["unit"] == "u" and document["title_en"] == "Values"
    assert document["tiles"].endswith("/rasters/values/tiles/{z}/{x}/{y}.png?v=1")
    assert {link["rel"] for link in document["links"]} == {"self", "tiles", "legend"}
    assert client.get("/rasters/dem").json()["derived"] == ["dem:slope"]
    with rasterio.open(data / "_rasters" / "values" / "current.tif") as cog:
        assert cog.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert cog.block_shapes[0] == (256, 256)
        assert cog.crs.to_epsg() == 9206
    assert client.get("/rasters/nothing").status_code == 404


def test_legend_has_stops_unit_and_titles(world):
    client, _, _ = world
    legend = client.get("/rasters/values/legend").json()
    assert legend["stops"] == [{"value": 0.0, "color": "#0000ff"},
                               {"value": 20000.0, "color": "#ff0000"}]  # fmt: skip
    assert legend["unit"] == "u" and legend["title_vi"] == "Giá trị"
    default = client.get("/rasters/dem/legend").json()["stops"]
    assert len(default) == 5 and default[0]["value"] == pytest.approx(500.0 + 0.1 * 5 - 0.05 * 1995)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("text", 400, "InvalidRaster"),
        ("no_crs", 400, "InvalidRaster"),
        ("bad_crs", 400, "InvalidRaster"),
        ("integer_without_nodata", 400, "InvalidRaster"),
        ("undeclared_minus_9999", 400, "InvalidRaster"),
        ("two_bands", 400, "InvalidRaster"),
        ("outside_province", 400, "InvalidRaster"),
        ("all_nodata", 400, "InvalidRaster"),
        ("too_many_pixels", 413, "PayloadTooLarge"),
        ("bad_metadata_json", 400, "InvalidParameterValue"),
        ("metadata_without_title", 400, "InvalidParameterValue"),
        ("bad_colormap", 400, "InvalidParameterValue"),
        ("bad_id", 400, "InvalidParameterValue"),
        ("exists", 409, "Conflict"),
    ],
)
def test_bad_rasters_are_refused_with_a_clear_error(world, tmp_path, case, status, code):
    client, headers, data = world
    meta = {"title_vi": "Thử", "title_en": "Test"}
    small = np.ones((20, 20), dtype="float32")
    form: dict = {}
    raster_id = "refused"
    if case == "text":
        path = tmp_path / "dem.tif"
        path.write_text("not a raster")
    elif case == "no_crs":
        path = write_tiff(tmp_path / "r.tif", small, crs=None, nodata=0)
    elif case == "bad_crs":
        path = write_tiff(tmp_path / "r.tif", small, crs=None, nodata=0)
        form["crs"] = "EPSG:999999"
    elif case == "integer_without_nodata":
        path = write_tiff(tmp_path / "r.tif", small.astype("int16"))
    elif case == "undeclared_minus_9999":
        path = write_tiff(tmp_path / "r.tif", np.where(np.eye(20) > 0, -9999, small))
    elif case == "two_bands":
        path = write_tiff(tmp_path / "r.tif", np.stack([small, small]), nodata=0)
    elif case == "outside_province":
        transform = from_origin(106.5, 10.8, 0.001, 0.001)  # Hồ Chí Minh City
        path = write_tiff(tmp_path / "r.tif", small, "EPSG:4326", 0, transform)
    elif case == "all_nodata":
        path = write_tiff(tmp_path / "r.tif", small * 0, nodata=0)
    elif case == "too_many_pixels":
        path = write_tiff(tmp_path / "r.tif", np.ones((400, 400), dtype="float32"), nodata=0)
    else:
        path = write_tiff(tmp_path / "r.tif", small, nodata=0)
    if case == "bad_metadata_json":
        meta = "{not json"
    elif case == "metadata_without_title":
        meta = {"title_en": "Test"}
    elif case == "bad_colormap":
        meta = meta | {"colormap": [[10, "#ff0000"], [5, "#00ff00"]]}
    elif case == "bad_id":
        raster_id = "Bad Id"
    elif case == "exists":
        raster_id = "values"
    before = sorted(p.name for p in (data / "_rasters").iterdir())
    response = register(client, headers, path, raster_id, meta, **form)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert " / " in body["description"] or case == "bad_id"  # bilingual
    assert sorted(p.name for p in (data / "_rasters").iterdir()) == before


def test_raster_uploads_need_an_editor_token(world, tmp_path):
    client, _, _ = world
    path = write_tiff(tmp_path / "r.tif", np.ones((5, 5), dtype="float32"), nodata=0)
    assert register(client, {}, path).status_code == 401
    assert register(client, {"Authorization": "Bearer nope"}, path).status_code == 401


def test_an_upload_over_the_byte_limit_is_413(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    editor = staff_token(data, "editor")
    client = TestClient(create_app(settings_of(data, upload_max_bytes=1000)))
    path = write_tiff(tmp_path / "r.tif", np.ones((100, 100), dtype="float32"), nodata=0)
    response = register(client, {"Authorization": f"Bearer {editor}"}, path, "r",
                        {"title_vi": "a", "title_en": "a"})  # fmt: skip
    assert response.status_code == 413 and response.json()["code"] == "PayloadTooLarge"


def test_a_float_raster_without_nodata_a_new_version_keeping_titles_and_rollback(world, tmp_path):
    client, headers, _ = world
    grid = np.full((30, 30), 7.0, dtype="float32")
    grid[0, 0] = np.nan
    path = write_tiff(tmp_path / "nan.tif", grid)
    meta = {"title_vi": "Không có nodata", "title_en": "No nodata"}
    response = register(client, headers, path, "nan_gaps", meta)
    assert response.status_code == 201, response.text
    assert response.json()["raster"]["nodata"] is None
    assert response.json()["raster"]["value_range"] == [7.0, 8.0]
    path = write_tiff(tmp_path / "nan2.tif", grid * 2)
    response = client.put(
        "/admin/rasters/nan_gaps", files={"file": ("nan2.tif", path.read_bytes())}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["raster"]["version"] == 2
    assert client.get("/rasters/nan_gaps").json()["title_en"] == "No nodata"
    # GIS staff list the versions and serve the first one again
    listed = client.get("/admin/rasters/nan_gaps/versions", headers=headers).json()["versions"]
    assert [(v["version"], v["current"]) for v in listed] == [(1, False), (2, True)]
    assert [v["value_range"] for v in listed] == [
        [7.0, 8.0],
        [14.0, 15.0],
    ]  # one value: a unit-wide range
    rolled = client.post("/admin/rasters/nan_gaps/rollback", params={"version": 1}, headers=headers)
    assert rolled.status_code == 200, rolled.text
    served = client.get("/rasters/nan_gaps").json()
    assert served["version"] == 1 and served["tiles"].endswith("?v=1")
    for params, status in (({"version": 9}, 400), ({"version": 0}, 400), ({}, 400)):
        bad = client.post("/admin/rasters/nan_gaps/rollback", params=params, headers=headers)
        assert bad.status_code == status and "code" in bad.json(), params
    assert client.post("/admin/rasters/nope/rollback?version=1", headers=headers).status_code == 404
    assert client.get("/admin/rasters/nope/versions", headers=headers).status_code == 404
    assert client.get("/admin/rasters/nan_gaps/versions").status_code == 401
    assert client.get("/rasters/nan_gaps").json()["version"] == 1  # bad requests changed nothing


def test_an_admin_archives_a_raster_and_keeps_its_versions(world, tmp_path):
    client, headers, data = world
    path = write_tiff(tmp_path / "old.tif", np.full((20, 20), 3.0, dtype="float32"))
    assert (
        register(client, headers, path, "old", {"title_vi": "Cũ", "title_en": "Old"}).status_code
        == 201
    )
    assert (
        client.delete("/admin/rasters/old", headers=headers).status_code == 403
    )  # editors may not
    secret = staff_token(data, "admin")
    admin = {"Authorization": f"Bearer {secret}"}
    archived = client.delete("/admin/rasters/old", headers=admin)
    assert archived.status_code == 200, archived.text
    assert client.get("/rasters/old").status_code == 404
    assert "old" not in [r["id"] for r in client.get("/rasters").json()["rasters"]]
    kept = data / "_rasters" / ".archive" / archived.json()["archived"]
    assert (kept / "v000001.tif").is_file() and (kept / "v000001.json").is_file()
    assert client.delete("/admin/rasters/old", headers=admin).status_code == 404
    assert "values" in [r["id"] for r in client.get("/rasters").json()["rasters"]]


# -- tiles -----------------------------------------------------------------------------------
def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int, int]:
    """The XYZ tile holding (lon, lat) at zoom z, and the pixel (column, row) in it."""
    n = 2**z * 256
    x = (lon + 180) / 360 * n
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int(x // 256), int(y // 256), int(x % 256), int(y % 256)


def read_png(content: bytes) -> np.ndarray:
    with (
        warnings.catch_warnings(category=NotGeoreferencedWarning, action="ignore"),
        MemoryFile(content) as memory,
        memory.open() as image,
    ):
        assert image.driver == "PNG"
        return image.read()


def test_tiles_have_colours_from_the_colour_map_and_transparent_nodata(world):
    client, _, _ = world
    z = 14
    # a valid pixel (row 150, column 250: value 15250) and a nodata one (row 5, column 5)
    (lon, lat), (nlon, nlat) = vn2000((250 * PIXEL + 5, -150 * PIXEL - 5), (55, -55))
    x, y, px, py = tile_of(lon, lat, z)
    response = client.get(f"/rasters/values/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    rgba = read_png(response.content)
    assert rgba.shape == (4, 256, 256)
    fraction = 15250 / 20000
    expected = [round(255 * fraction), 0, round(255 * (1 - fraction)), 255]
    assert np.abs(rgba[:, py, px].astype(int) - expected).max() <= 3
    nx, ny, npx, npy = tile_of(nlon, nlat, z)
    nodata = read_png(client.get(f"/rasters/values/tiles/{z}/{nx}/{ny}.png").content)
    assert nodata[3, npy, npx] == 0
    assert (rgba[3] == 0).any() and (rgba[3] == 255).any()  # the raster's edge crosses the tile


def test_a_tile_away_from_the_raster_is_transparent_and_a_bad_tile_is_400(world):
    client, _, _ = world
    response = client.get("/rasters/values/tiles/3/0/0.png")
    assert response.status_code == 200
    rgba = read_png(response.content)
    assert rgba.shape == (4, 256, 256) and (rgba[3] == 0).all()
    x, y, _, _ = tile_of(*vn2000((1500, -1000))[0], 11)
    overview = read_png(client.get(f"/rasters/values/tiles/11/{x}/{y}.png").content)
    assert (overview[3] == 255).any()  # drawn from an overview
    for bad in ("/rasters/values/tiles/30/0/0.png", "/rasters/values/tiles/2/4/0.png"):
        response = client.get(bad)
        assert response.status_code == 400 and response.json()["code"] == "InvalidParameterValue"
    assert client.get("/rasters/nothing/tiles/1/0/0.png").json()["code"] == "NotFound"


# -- zonal statistics ------------------------------------------------------------------------
def test_a_polygon_cutting_pixels_weights_them_by_the_covered_fraction(world):
    client, _, _ = world
    weights = {(r, c): fr * fc for r, fr in ((100, 0.75), (101, 1.0), (102, 0.75))
               for c, fc in ((1, 0.5), (2, 1.0), (3, 1.0), (4, 0.5))}  # fmt: skip
    values = {key: 100.0 * key[0] + key[1] for key in weights}
    total = sum(weights.values())
    mean = sum(weights[k] * values[k] for k in weights) / total
    std = math.sqrt(sum(weights[k] * (values[k] - mean) ** 2 for k in weights) / total)
    stats = stats_of(client, "EDGE", "values")["values"]
    # VN-2000 → WGS 84 → VN-2000 moves corners by about 1 mm (the datum shift's inverse is not
    # exact), i.e. 1e-4 of a pixel: the tolerances allow for that, not for a wrong weight
    assert stats["count"] == pytest.approx(total, abs=1e-3)  # 7.5 pixel-equivalents
    assert stats["mean"] == pytest.approx(mean, abs=0.01)
    assert stats["std"] == pytest.approx(std, abs=0.01)
    assert (stats["min"], stats["max"]) == (10001.0, 10204.0)
    assert stats["coverage"] == pytest.approx(1.0, abs=1e-6)
    assert stats["crs"] == "EPSG:9206" and stats["unit"] == "u" and stats["reason"] is None


def test_a_point_samples_its_pixel_and_outside_or_nodata_give_a_reason(world):
    client, _, _ = world
    point = stats_of(client, "POINT", "values")["values"]
    assert point | {"links": None} == point | {
        "count": 1.0, "min": 10002.0, "mean": 10002.0, "max": 10002.0, "std": 0.0,
        "coverage": 1.0, "reason": None, "links": None}  # fmt: skip
    far = stats_of(client, "FAR", "values")["values"]
    assert far["count"] == 0 and far["mean"] is None and "outside" in far["reason"]
    nodata = stats_of(client, "NODATA", "values")["values"]
    assert nodata["count"] == 0 and "no data" in nodata["reason"]
    half = stats_of(client, "HALF-OUT", "values")["values"]
    # 200 m × 200 m, half west of the raster: rows 30–49, columns 0–9
    assert half["coverage"] == pytest.approx(0.5, abs=1e-4)
    assert half["count"] == pytest.approx(200, abs=0.01)
    assert half["mean"] == pytest.approx(100 * 39.5 + 4.5, abs=0.01)


def test_slope_of_an_inclined_plane_is_its_analytic_angle(world):
    client, _, _ = world
    expected = math.degrees(math.atan(math.hypot(0.1, 0.05)))
    found = stats_of(client, "HALF-OUT", "dem:slope")["dem:slope"]
    assert found["unit"] == "°" and found["raster"] == "dem:slope"
    assert found["mean"] == pytest.approx(expected, abs=1e-4)
    assert found["min"] == pytest.approx(expected, abs=1e-4)  # the raster's edge pixels too
    assert found["std"] == pytest.approx(0.0, abs=1e-4)
    every = client.get("/collections/sites/items/EDGE/stats").json()["stats"]
    assert [entry["raster"] for entry in every][:2] == ["dem", "dem:slope"]
    assert "values" in [entry["raster"] for entry in every]


def test_zonal_statistics_in_a_geographic_raster(tmp_path, backend):
    """The same polygon over a lon/lat raster: computed in that raster's CRS."""
    data = tmp_path / "data"
    data.mkdir()
    backend.publish(data, *layer("sites", "industrial_zone", "polygon", SITES))
    editor = staff_token(data, "editor")
    client = TestClient(create_app(backend.settings(data)))
    rows, cols = np.mgrid[0:100, 0:100]
    path = write_tiff(tmp_path / "geo.tif", (rows * 1.0 + cols * 0.0).astype("float32"),
                      "EPSG:4326", -1, from_origin(103.9, 21.3, 0.002, 0.002))  # fmt: skip
    response = register(client, {"Authorization": f"Bearer {editor}"}, path, "rows",
                        {"title_vi": "Hàng", "title_en": "Rows"})  # fmt: skip
    assert response.status_code == 201, response.text
    site = SITES["EDGE"]
    top, bottom = (21.3 - site.bounds[3]) / 0.002, (21.3 - site.bounds[1]) / 0.002
    stats = client.get("/collections/sites/items/EDGE/stats?rasters=rows").json()["stats"][0]
    assert stats["crs"] == "EPSG:4326"
    assert math.floor(top) <= stats["min"] <= stats["max"] <= math.floor(bottom)
    assert stats["count"] == pytest.approx(site.area / 0.002**2, rel=1e-6)


def test_stats_errors(world):
    client, _, _ = world
    for url, status in (
        ("/collections/sites/items/EDGE/stats?rasters=nothing", 404),
        ("/collections/sites/items/EDGE/stats?rasters=values:slope", 400),
        ("/collections/sites/items/EDGE/stats?rasters=dem:aspect", 400),
        ("/collections/sites/items/EDGE/stats?rasters=,", 400),
        ("/collections/sites/items/NOPE/stats", 404),
        ("/collections/nothing/items/EDGE/stats", 404),
    ):
        response = client.get(url)
        assert response.status_code == status, url
        assert response.json()["code"] in ("NotFound", "InvalidParameterValue")


def test_coverage_fractions_match_shapely_intersections():
    """Random polygons with holes, several parts and grid-aligned edges against GEOS."""
    rng = np.random.default_rng(7)
    transform = from_origin(1000.0, 5000.0, 20.0, 20.0)
    polygons = [shapely.box(1000, 4000, 1100, 4100), shapely.box(1000, 4000, 1100, 4100).reverse()]
    for _ in range(25):
        cx, cy = rng.uniform(1200, 1800), rng.uniform(4200, 4800)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
        radii = rng.uniform(10, 120, 9)
        ring = shapely.Polygon(np.c_[cx + radii * np.cos(angles), cy + radii * np.sin(angles)])
        shape = shapely.make_valid(ring).difference(shapely.Point(cx, cy).buffer(8))
        polygons.append(shapely.union(shape, shapely.box(cx + 150, cy, cx + 190, cy + 33)))
    found = cover(polygons, transform)
    inverse = ~transform
    for index, polygon in enumerate(polygons):
        cells: dict = {}
        edge = found.edge_feature == index
        for r, c, f in zip(
            found.edge_row[edge], found.edge_col[edge], found.edge_fraction[edge], strict=True
        ):
            cells[(r, c)] = f
        run = found.run_feature == index
        for r, s, e in zip(
            found.run_row[run], found.run_start[run], found.run_stop[run], strict=True
        ):
            cells.update({(r, c): 1.0 for c in range(s, e)})
        c0, r0 = (math.floor(v) for v in inverse @ (polygon.bounds[0], polygon.bounds[3]))
        c1, r1 = (math.ceil(v) for v in inverse @ (polygon.bounds[2], polygon.bounds[1]))
        for r in range(r0 - 1, r1 + 1):
            for c in range(c0 - 1, c1 + 1):
                (x0, y1), (x1, y0) = transform @ (c, r), transform @ (c + 1, r + 1)
                exact = shapely.box(x0, y0, x1, y1).intersection(polygon).area / 400.0
                assert cells.get((r, c), 0.0) == pytest.approx(exact, abs=1e-9)


def test_the_sample_has_a_derived_distance_raster_and_no_invented_terrain(sample_client):
    rasters = sample_client.get("/rasters").json()["rasters"]
    assert [r["id"] for r in rasters] == ["logistics_distance"]
    (raster,) = rasters
    assert "(derived)" in raster["title_en"] and raster["kind"] == "continuous"
    assert raster["derived_from"].startswith("logistics_trade") and raster["unit"] == "m"
    url = "/collections/logistics_trade/items/SL-CK-LONGSAP/stats?rasters=logistics_distance"
    (gate,) = sample_client.get(url).json()["stats"]
    assert gate["mean"] < 500 / math.sqrt(2)  # its own pixel: at most half a diagonal away
