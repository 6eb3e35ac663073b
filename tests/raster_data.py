"""Test data for rasters and site analytics, generated with known values: GeoTIFFs in VN-2000
(EPSG:9206) near Mai Sơn, sites cut at known pixel fractions, and border gates at known offsets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.transform import from_origin

from geo_service.app import create_app
from geo_service.catalogue import LayerMeta
from geo_service.kinds import fields_for_kind
from geo_service.layer_frame import records_to_frame

from .conftest import Backend, grid_layer
from .staff import staff_token

ORIGIN = (500_000.0, 2_350_000.0)
"""Top-left corner of the test rasters in EPSG:9206 (near Mai Sơn, 104° E, 21.2° N)."""
PIXEL = 10.0
SIZE = (200, 300)  # rows, columns
TO_WGS84 = Transformer.from_crs(9206, 4326, always_xy=True)


def write_tiff(path: Path, data: np.ndarray, crs="EPSG:9206", nodata=None, transform=None) -> Path:
    profile = {"driver": "GTiff", "width": data.shape[-1], "height": data.shape[-2],
               "count": 1 if data.ndim == 2 else data.shape[0], "dtype": data.dtype.name,
               "crs": crs, "transform": transform or from_origin(*ORIGIN, PIXEL, PIXEL)}  # fmt: skip
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as target:
        target.write(data if data.ndim == 3 else data[None])
    return path


def values_grid() -> np.ndarray:
    """Pixel (row, col) holds 100 · row + col; rows 0–9 × columns 0–9 are nodata."""
    rows, cols = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    data = (100.0 * rows + cols).astype("float32")
    data[:10, :10] = -9999
    return data


def plane_grid(gx: float = 0.1, gy: float = 0.05) -> np.ndarray:
    """An inclined plane rising `gx` m per m eastwards and `gy` northwards."""
    rows, cols = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    x, y = (cols + 0.5) * PIXEL, -(rows + 0.5) * PIXEL
    return (500.0 + gx * x + gy * y).astype("float32")


def vn2000(*points: tuple[float, float]) -> list[tuple[float, float]]:
    """Offsets in metres from ORIGIN (east, north) as WGS 84 longitude/latitude."""
    return [TO_WGS84.transform(ORIGIN[0] + e, ORIGIN[1] + n) for e, n in points]


def box_offsets(west: float, south: float, east: float, north: float) -> shapely.Polygon:
    return shapely.Polygon(vn2000((west, south), (east, south), (east, north), (west, north)))


SITES = {
    # cuts columns 1 (half), 2, 3, 4 (half) and rows 100 (¾), 101, 102 (¾)
    "EDGE": box_offsets(15, -1027.5, 45, -1002.5),
    "POINT": shapely.Point(vn2000((25, -1005))[0]),
    "NODATA": box_offsets(5, -95, 95, -5),
    "HALF-OUT": box_offsets(-100, -500, 100, -300),
    "FAR": box_offsets(50_000, 50_000, 50_100, 50_100),
}
GATES = {
    "GATE-1": shapely.Point(vn2000((2_000, -1_000))[0]),
    "GATE-2": shapely.Point(vn2000((-3_000, 4_000))[0]),
    "GATE-3": shapely.Point(vn2000((10_000, -20_000))[0]),
    "GATE-4": shapely.Point(vn2000((40_000, 30_000))[0]),
}


def layer(layer_id: str, kind: str, geometry_type: str, sites: dict, area=None) -> tuple:
    meta = LayerMeta(id=layer_id, title_vi=layer_id, title_en=layer_id, kind=kind,
                     geometry_type=geometry_type, fields=fields_for_kind(kind),
                     updated="2026-01-01", data_quality="synthetic_demo", provinces=["14"])  # fmt: skip
    records = [
        {
            "code": code,
            "name_vi": f"Địa điểm {code}",
            "name_en": f"Site {code}",
            "status": "planned",
            "source": "generated",
            "data_quality": "synthetic_demo",
            "updated_at": "2026-01-01",
            "area_ha": (area or {}).get(code),
        }  # fmt: skip
        for code in sites
    ]
    return meta, records_to_frame(meta, records, list(sites.values()))


def make_world(backend: Backend, data: Path, files: Path) -> tuple[TestClient, dict]:
    """A data directory (and, with PostGIS, a database) with sites and gates, an editor token,
    and the rasters `values` (continuous) and `dem` (an inclined plane) registered through the
    API."""
    backend.publish(data, *layer("sites", "industrial_zone", "polygon", SITES))
    backend.publish(data, *layer("gates", "logistics_trade", "point", GATES))
    editor = staff_token(data, "editor")
    client = TestClient(create_app(backend.settings(data, raster_max_pixels=100_000)))
    headers = {"Authorization": f"Bearer {editor}"}
    for raster_id, grid, meta in (
        ("values", values_grid(), {"title_vi": "Giá trị", "title_en": "Values", "unit": "u",
                                   "colormap": [[0, "#0000ff"], [20000, "#ff0000"]]}),
        ("dem", plane_grid(), {"title_vi": "Độ cao", "title_en": "Elevation", "unit": "m",
                               "kind": "dem"}),
    ):  # fmt: skip
        path = write_tiff(files / f"{raster_id}.tif", grid, nodata=-9999)
        response = register(client, headers, path, raster_id, meta)
        assert response.status_code == 201, response.text
    return client, headers


def make_world_with_grid(backend: Backend, data: Path, files: Path) -> tuple[TestClient, dict]:
    """`make_world` with the test grid (conftest's `grid_layer`) published beside it."""
    meta, records, geometries = grid_layer()
    backend.publish(data, meta, records_to_frame(meta, records, geometries))
    return make_world(backend, data, files)


def register(client, headers, path: Path, raster_id="r", metadata=None, **form):
    data = {"id": raster_id, **form}
    if metadata is not None:
        data["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)
    files = {"file": (path.name, path.read_bytes())}
    return client.post("/admin/rasters", files=files, data=data, headers=headers)
