"""Exports of any query: every format read back with an independent reader."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import openpyxl
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from geo_service.exports.formats import shapefile_names

OPERATING = {"filter": "status = 'operating'"}  # 33 grid squares


def download(client, collection="grid", **params):
    response = client.get(f"/collections/{collection}/items", params=params)
    assert response.status_code == 200, response.text
    return response


def read_vector(tmp_path, response, name):
    path = tmp_path / name
    path.write_bytes(response.content)
    return pyogrio.read_dataframe(path)


def expected(client, **params):
    body = client.get("/collections/grid/items", params={**params, "limit": 1000}).json()
    return {f["id"]: f for f in body["features"]}


@pytest.mark.parametrize(
    ("f", "suffix"), [("gpkg", "gpkg"), ("fgb", "fgb"), ("geojson", "geojson"), ("kml", "kml")]
)
def test_vector_formats_round_trip(grid_client, tmp_path, f, suffix):
    response = download(grid_client, f=f, **OPERATING)
    assert response.headers["content-disposition"] == f'attachment; filename="grid.{suffix}"'
    frame = read_vector(tmp_path, response, f"grid.{suffix}")
    want = expected(grid_client, **OPERATING)
    assert len(frame) == len(want) == 33  # the whole result, not one page
    for row in frame.itertuples():
        feature = want[row.code]
        if f != "kml":  # KML keeps names and descriptions, not typed attributes
            assert row.name_vi == feature["properties"]["name_vi"]
            assert row.area_ha == pytest.approx(feature["properties"]["area_ha"])
        assert row.geometry.equals_exact(shapely.geometry.shape(feature["geometry"]), 1e-9)


def test_gpkg_in_vn2000_lands_where_pyproj_says(sample_client, tmp_path):
    response = download(
        sample_client, "communes", f="gpkg", crs="EPSG:9206", filter="code = '04123'"
    )
    path = tmp_path / "communes.gpkg"
    path.write_bytes(response.content)
    assert pyogrio.read_info(path)["crs"] == "EPSG:9206"
    (point,) = pyogrio.read_dataframe(path).geometry
    easting, northing = Transformer.from_crs(4326, 9206, always_xy=True).transform(104.07, 21.255)
    assert point.x == pytest.approx(easting, abs=0.01)
    assert point.y == pytest.approx(northing, abs=0.01)
    # the published figures, given to 0.1 m
    assert point.x == pytest.approx(507_068.7, abs=0.05)
    assert point.y == pytest.approx(2_351_183.3, abs=0.05)
    uri = download(
        sample_client,
        "communes",
        f="gpkg",
        crs="http://www.opengis.net/def/crs/EPSG/0/9206",
        q="chieng mung",
    )
    path.write_bytes(uri.content)
    assert pyogrio.read_info(path)["crs"] == "EPSG:9206"


def test_csv_has_bom_labels_xy_and_wkt(grid_client):
    response = download(grid_client, f="csv", lang="vi", crs="EPSG:9206", **OPERATING)
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert "Tên (tiếng Việt)" in header and "Diện tích (ha)" in header
    assert header[-3:] == ["x (EPSG:9206)", "y (EPSG:9206)", "WKT (EPSG:9206)"]
    assert len(body) == 33
    name = header.index("Tên (tiếng Việt)")
    assert {r[name] for r in body} >= {"Khu Mộc Châu 2", "Khu Đà Bắc 11"}
    geometry = shapely.from_wkt(body[0][-1])
    assert geometry.area > 100_000  # square metres: reprojected, not degrees
    assert shapely.Point(float(body[0][-3]), float(body[0][-2])).within(geometry)
    english = download(grid_client, f="csv", lang="en", **OPERATING).content.decode("utf-8-sig")
    assert english.splitlines()[0].startswith("Code,Name (Vietnamese)")


def test_xlsx_has_frozen_header_autofilter_and_values(grid_client, tmp_path):
    response = download(grid_client, f="xlsx", lang="en", **OPERATING)
    path = tmp_path / "grid.xlsx"
    path.write_bytes(response.content)
    sheet = openpyxl.load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Code", "Name (Vietnamese)") and "Area (ha)" in rows[0]
    assert (
        len(rows) == 34 and sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    )
    names = {r[1] for r in rows[1:]}
    assert "Khu Mộc Châu 2" in names


def test_shapefile_zip_has_prj_cpg_and_field_sidecar(grid_client, tmp_path):
    response = download(grid_client, f="shp", crs="EPSG:9206", **OPERATING)
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"grid.shp", "grid.shx", "grid.dbf", "grid.prj", "grid.cpg", "fields.csv"} <= names
    archive.extractall(tmp_path)
    frame = pyogrio.read_dataframe(tmp_path / "grid.shp")
    assert len(frame) == 33 and frame.crs.to_epsg() == 9206
    assert "leasable_a" in frame.columns and "name_vi" in frame.columns
    sidecar = list(csv.DictReader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig"))))
    assert {
        "shapefile_field": "leasable_a",
        "field": "leasable_area_ha",
        "label_vi": "Diện tích đất cho thuê",
        "label_en": "Leasable area",
        "unit": "ha",
    } in sidecar
    assert set(frame["name_vi"]) >= {"Khu Mộc Châu 2"}


def test_shapefile_names_are_predictable():
    assert shapefile_names(["priority_sectors", "priority_sector_x", "code"]) == [
        "priority_s",
        "priority_1",
        "code",
    ]


def test_export_errors(grid_client):
    assert (
        grid_client.get(
            "/collections/grid/items", params={"f": "kml", "crs": "EPSG:9206"}
        ).status_code
        == 400
    )
    bad = grid_client.get("/collections/grid/items", params={"f": "csv", "crs": "EPSG:0"})
    assert bad.status_code == 400 and "crs" in bad.json()["description"]
    assert grid_client.get("/collections/grid/items", params={"f": "docx"}).status_code == 400
    assert grid_client.get("/collections/nope/items", params={"f": "csv"}).status_code == 404


def test_export_over_the_limit_is_413_saying_the_limit(grid_dir, backend):
    from fastapi.testclient import TestClient

    from geo_service.app import create_app

    client = TestClient(create_app(backend.settings(grid_dir, max_export=20)))
    response = client.get("/collections/grid/items", params={"f": "csv"})
    assert response.status_code == 413
    assert "20" in response.json()["description"] and "bbox" in response.json()["description"]
    assert (
        client.get(
            "/collections/grid/items", params={"f": "csv", "bbox": "104.0,21.0,104.02,21.1"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("f", ["csv", "xlsx", "gpkg", "shp", "fgb", "geojson", "kml"])
def test_an_empty_result_still_exports(grid_client, f):
    response = download(grid_client, f=f, filter="status = 'no such status'")
    assert response.content


def test_gpkg_in_vn2000_keeps_polygons_where_pyproj_puts_them(grid_client, tmp_path):
    response = download(grid_client, f="gpkg", crs="EPSG:9206", **OPERATING)
    frame = read_vector(tmp_path, response, "grid9206.gpkg")
    assert frame.crs.to_epsg() == 9206
    to_vn2000 = Transformer.from_crs(4326, 9206, always_xy=True)
    want = expected(grid_client, **OPERATING)
    for row in frame.itertuples():
        source = shapely.geometry.shape(want[row.code]["geometry"])
        projected = shapely.transform(
            source, lambda xy: np.column_stack(to_vn2000.transform(xy[:, 0], xy[:, 1]))
        )
        assert row.geometry.equals_exact(projected, 0.01)


def test_wkt_too_long_for_a_cell_is_replaced_by_a_note():
    from geo_service.catalogue import FieldSpec
    from geo_service.exports.table import (
        EXCEL_CELL_LIMIT,
        WGS84,
        ExportColumns,
        spreadsheet_batches,
    )
    from geo_service.store import Feature

    ring = shapely.Point(104, 21).buffer(0.1, quad_segs=2000)
    small = shapely.box(104, 21, 104.1, 21.1)
    features = [
        Feature("big", shapely.to_wkb(ring), {"code": "big"}),
        Feature("small", shapely.to_wkb(small), {"code": "small"}),
    ]
    columns = ExportColumns(
        [FieldSpec(name="code", type="string", label_vi="Mã", label_en="Code")], "en"
    )
    (batch,) = spreadsheet_batches(columns, [features], WGS84)
    wkt = batch.column(3).to_pylist()
    assert len(shapely.to_wkt(ring)) > EXCEL_CELL_LIMIT
    assert "too long for a spreadsheet cell" in wkt[0] and len(wkt[0]) < 300
    assert shapely.from_wkt(wkt[1]).equals(small)
    assert batch.column(1).to_pylist()[1] == pytest.approx(104.05) and batch.column(2).to_pylist()[
        1
    ] == pytest.approx(21.05)


def test_a_shapefile_of_a_layer_mixing_points_and_polygons_is_refused_clearly(tmp_path, backend):
    from fastapi.testclient import TestClient

    from geo_service.app import create_app

    from .raster_data import SITES, layer

    backend.publish(tmp_path, *layer("sites", "industrial_zone", "polygon", SITES))
    client = TestClient(create_app(backend.settings(tmp_path)))
    refused = client.get("/collections/sites/items", params={"f": "shp"})
    assert refused.status_code == 400, refused.text
    assert "GeoPackage" in refused.json()["description"]
    assert client.get("/collections/sites/items", params={"f": "gpkg"}).status_code == 200
