"""Rasters derived from the sample catalogue itself: the offline machine has no real terrain,
so none is invented. Each says it is derived, from what and how."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry.base import BaseGeometry

from ..facts import target_state
from ..ingest.validate import PROVINCE_ZONES
from ..places import province_bounds
from ..rasters.ingest import ingest_raster
from ..rasters.meta import RasterMeta
from ..rasters.store import RasterStore

PROVINCE = "14"
PIXEL_M = 500.0
RASTER_ID = "logistics_distance"
NODATA = -1.0


def logistics_distance(
    data_dir: Path, records: list[dict], geometries: list[BaseGeometry]
) -> RasterMeta:
    """Straight-line distance (m) from each 500 m pixel of Sơn La's extent to the nearest of the
    sample's logistics centres and border gates there, in the province's VN-2000 zone, published
    through the same ingest path as an upload."""
    zone = PROVINCE_ZONES[PROVINCE]
    to_zone = Transformer.from_crs(4326, zone, always_xy=True)
    targets = [
        (r["code"] + target_state(r["status"]), to_zone.transform(*shapely.get_coordinates(g)[0]))
        for r, g in zip(records, geometries, strict=True)
        if r["province_code"] == PROVINCE
        and r.get("facility_type") in ("logistics_centre", "border_gate")
    ]
    minx, miny, maxx, maxy = to_zone.transform_bounds(*province_bounds(PROVINCE))
    west, north = np.floor(minx / PIXEL_M) * PIXEL_M, np.ceil(maxy / PIXEL_M) * PIXEL_M
    width = int(np.ceil((maxx - west) / PIXEL_M))
    height = int(np.ceil((north - miny) / PIXEL_M))
    x = west + (np.arange(width) + 0.5) * PIXEL_M
    y = north - (np.arange(height) + 0.5) * PIXEL_M
    distance = np.full((height, width), np.inf)
    for _, (tx, ty) in targets:
        distance = np.minimum(distance, np.hypot(x[None, :] - tx, y[:, None] - ty))
    codes = ", ".join(code for code, _ in targets)
    metadata = {
        "title_vi": "Khoảng cách tới trung tâm logistics hoặc cửa khẩu gần nhất (dẫn xuất)",
        "title_en": "Distance to the nearest logistics centre or border gate (derived)",
        "description_vi": "Tính từ lớp mẫu logistics_trade (vị trí minh họa): khoảng cách đường "
        "thẳng, không phải quãng đường đi. Không phải dữ liệu đo đạc. Các trung tâm logistics là "
        "Đích (đích chưa xây dựng được ghi rõ): " + codes,
        "description_en": "Computed from the sample layer logistics_trade (indicative "
        "locations): straight-line distance, not travel distance. Not surveyed data. "
        "Targets (those not built say so): " + codes,
        "unit": "m",
        "source": "derived by `geo-service sample` from the sample catalogue",
        "licence": "CC BY 4.0 (sample compiled from public plans)",
        "derived_from": f"logistics_trade ({codes}): distance in EPSG:{zone} to the nearest, "
        f"{PIXEL_M:g} m pixels over province {PROVINCE}'s extent",
        "colormap": [[0, "#1a9850"], [20_000, "#fee08b"], [60_000, "#d73027"]],
    }
    with tempfile.TemporaryDirectory(prefix="geo-service-sample-") as folder:
        path = Path(folder) / f"{RASTER_ID}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32",
            crs=f"EPSG:{zone}", transform=from_origin(west, north, PIXEL_M, PIXEL_M),
            nodata=NODATA,
        ) as target:  # fmt: skip
            target.write(distance.astype("float32"), 1)
        return ingest_raster(
            path, RASTER_ID, metadata, None, width * height, PROVINCE, RasterStore(data_dir)
        )
