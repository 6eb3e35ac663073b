"""Zonal statistics of a raster over features' shapes, in the raster's own CRS.

Shapes come in WGS 84 and are reprojected (vertex by vertex, with pyproj) to the raster's CRS,
where polygons weight each pixel by the exact fraction of it they cover (`coverage.cover`);
lines are widened to half a pixel each side; a point samples the pixel it falls in. Per shape:

- `count`: valid pixels under the shape, in pixel-equivalents (the sum of covered fractions);
- `min`, `max`: over the valid pixels the shape covers any part of;
- `mean`, `std`: weighted by covered fraction (population standard deviation);
- `coverage`: the share of the shape's area over valid pixels (0–1); a point: 1 or 0.

A shape off the raster, or over nodata only, gets empty statistics with a bilingual reason.
The raster is read in bands of rows, each only as wide as the shapes in it, so one small site
reads a few blocks of the COG and ten thousand parcels read each block once.

From a DEM (`kind = dem`) the slope in degrees is derived with Horn's 3 × 3 method (as
`gdaldem slope`), pixel sizes in metres, and summarised the same way.
"""

from __future__ import annotations

import math
import queue
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import CRS, Geod, Transformer
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from ..i18n import _l
from .coverage import Coverage, cover
from .meta import RasterMeta

Reader = Callable[[rasterio.DatasetReader, Window], np.ndarray]
"""Reads a window of an open raster: any numeric dtype, gaps NaN or the raster's nodata."""

BAND_ROWS = 256
"""Rows read at a time: one row of the COG's 256-pixel blocks."""
READ_THREADS = 2
"""Bands decoded side by side (GDAL releases the GIL), while the previous one is summed."""
GEOD = Geod(ellps="WGS84")
OUTSIDE = _l("the feature lies outside the raster")
ALL_NODATA = _l("the raster has no data under the feature")


@lru_cache(maxsize=32)
def _to_raster(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(4326), CRS.from_wkt(crs_wkt), always_xy=True)


def to_raster_crs(geometries: list[BaseGeometry], meta: RasterMeta) -> list[BaseGeometry]:
    """WGS 84 shapes in the raster's CRS; a shape the CRS cannot hold becomes empty."""
    transformer = _to_raster(meta.crs_wkt)
    moved = shapely.transform(
        np.asarray(geometries, dtype=object),
        lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])),
    )
    finite = np.array([np.isfinite(shapely.get_coordinates(g)).all() for g in moved])
    return [g if ok else shapely.Point() for g, ok in zip(moved, finite, strict=True)]


def empty(reason: str) -> dict:
    return {"count": 0.0, "min": None, "mean": None, "max": None, "std": None, "coverage": 0.0,
            "reason": reason}  # fmt: skip


def raw_values(source: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """The values as stored: gaps are told apart only for the pixels summed, not the window."""
    return source.read(1, window=window)


def slope_values(source: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """Slope in degrees of a DEM (NaN gaps), read with a one-pixel margin so that windows
    join seamlessly; at the raster's own edges the elevation is extended linearly, so a plane
    keeps its slope."""
    col, row = int(window.col_off), int(window.row_off)
    width, height = int(window.width), int(window.height)
    c0, r0 = max(col - 1, 0), max(row - 1, 0)
    c1, r1 = min(col + width + 1, source.width), min(row + height + 1, source.height)
    z = source.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
    z = np.ma.filled(z.astype("float64"), np.nan)
    pads = ((r0 - row + 1, row + height + 1 - r1), (c0 - col + 1, col + width + 1 - c1))
    z = np.pad(z, pads, mode="reflect" if min(z.shape) > 1 else "edge", reflect_type="odd")
    rx, ry = abs(source.transform.a), abs(source.transform.e)
    if source.crs.is_geographic:
        lon, lat = source.transform @ (col + width / 2, row + height / 2)
        dx, dy = GEOD.inv(lon, lat, lon + rx, lat)[2], GEOD.inv(lon, lat, lon, lat + ry)[2]
    else:
        factor = source.crs.linear_units_factor[1]
        dx, dy = rx * factor, ry * factor
    return slope_degrees(z, dx, dy)


class _Handles:
    """A few open handles on one raster, so that bands can be decoded on several threads."""

    def __init__(self, path: Path, count: int) -> None:
        self.all = [rasterio.open(path) for _ in range(count)]
        self.free: queue.SimpleQueue = queue.SimpleQueue()
        for handle in self.all:
            self.free.put(handle)

    def read(self, read: Reader, window: Window) -> np.ndarray:
        handle = self.free.get()
        try:
            return read(handle, window)
        finally:
            self.free.put(handle)

    def close(self) -> None:
        for handle in self.all:
            handle.close()


def slope_degrees(z: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Horn's slope of the interior of `z` (one pixel narrower each side); NaN spreads."""
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dz_dx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)
    dz_dy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy)
    return np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))


def zonal_stats(path: Path, shapes: list[BaseGeometry], slope: bool = False) -> list[dict]:
    """The statistics of each shape (in the raster's CRS) over the raster at `path`, or over
    its slope in degrees when `slope` (a DEM)."""
    read = slope_values if slope else raw_values
    handles = _Handles(path, READ_THREADS)
    try:
        source = handles.all[0]
        results: list[dict | None] = [None] * len(shapes)
        polygons, positions, points = [], [], []
        half_pixel = min(abs(source.transform.a), abs(source.transform.e)) / 2
        raster_box = shapely.box(*source.bounds)
        for index, shape in enumerate(shapes):
            if shape.is_empty or not shape.intersects(raster_box):
                results[index] = empty(OUTSIDE)
            elif shape.geom_type in ("Point", "MultiPoint"):
                points.append(index)
            else:
                polygonal = shape.geom_type in ("Polygon", "MultiPolygon")
                polygons.append(shape if polygonal else shape.buffer(half_pixel))
                positions.append(index)
        for index in points:
            results[index] = _point_stats(source, read, shapes[index])
        if polygons:
            found = _polygon_stats(handles, read, polygons)
            for index, stats in zip(positions, found, strict=True):
                results[index] = stats
        return results  # type: ignore[return-value]
    finally:
        handles.close()


def _valid(values: np.ndarray, source: rasterio.DatasetReader) -> np.ndarray:
    valid = np.isfinite(values)
    if source.nodata is not None and not math.isnan(source.nodata):
        valid &= values != source.nodata
    return valid


def _point_stats(source: rasterio.DatasetReader, read: Reader, shape: BaseGeometry) -> dict:
    samples = []
    for x, y in shapely.get_coordinates(shape):
        col, row = (math.floor(v) for v in ~source.transform @ (x, y))
        if 0 <= col < source.width and 0 <= row < source.height:
            samples.append(read(source, Window(col, row, 1, 1))[0, 0])
    if not samples:
        return empty(OUTSIDE)
    samples = np.array(samples, dtype="float64")
    valid = samples[_valid(samples, source)]
    if valid.size == 0:
        return empty(ALL_NODATA)
    return {"count": float(valid.size), "min": float(valid.min()), "mean": float(valid.mean()),
            "max": float(valid.max()), "std": float(valid.std()),
            "coverage": valid.size / len(shapely.get_coordinates(shape)), "reason": None}  # fmt: skip


def _polygon_stats(handles: _Handles, read: Reader, polygons: list[BaseGeometry]) -> list[dict]:
    """Reads start from the polygons' bounds while their exact coverage is being computed."""
    source = handles.all[0]
    count = len(polygons)
    windows = _band_windows(polygons, source)
    inside, weight, first, second = (np.zeros(count) for _ in range(4))
    low, high = np.full(count, np.inf), np.full(count, -np.inf)
    reference = None  # values are summed about it, so the variance keeps its precision

    def add(window: Window, values: np.ndarray, feature, rows, cols, fraction) -> None:
        nonlocal reference
        values = values[rows - window.row_off, cols - window.col_off].astype("float64")
        inside[:] += np.bincount(feature, fraction, count)
        valid = _valid(values, source)
        feature, values, fraction = feature[valid], values[valid], fraction[valid]
        if reference is None and values.size:
            reference = float(values.mean())
        shifted = values - (reference or 0.0)
        weight[:] += np.bincount(feature, fraction, count)
        first[:] += np.bincount(feature, fraction * shifted, count)
        second[:] += np.bincount(feature, fraction * shifted * shifted, count)
        np.minimum.at(low, feature, values)
        np.maximum.at(high, feature, values)

    with ThreadPoolExecutor(READ_THREADS) as pool:
        upcoming = iter(windows.items())
        reads: deque = deque()

        def read_ahead() -> None:
            while len(reads) <= READ_THREADS and (item := next(upcoming, None)):
                reads.append((item[0], pool.submit(handles.read, read, item[1])))

        read_ahead()
        coverage = cover(polygons, source.transform)
        for band, *pixels in _band_pixels(coverage, source.height, source.width):
            while reads[0][0] != band:  # a band the bounds reach but no pixel is in
                reads.popleft()
                read_ahead()
            _, future = reads.popleft()
            read_ahead()
            add(windows[band], future.result(), *pixels)
    cell_area = abs(source.transform.determinant)
    results = []
    for i, polygon in enumerate(polygons):
        if weight[i] <= 0:
            results.append(empty(OUTSIDE if inside[i] <= 0 else ALL_NODATA))
            continue
        mean = first[i] / weight[i]
        variance = max(second[i] / weight[i] - mean * mean, 0.0)
        results.append(
            {
                "count": float(weight[i]),
                "min": float(low[i]),
                "mean": float(mean + (reference or 0.0)),
                "max": float(high[i]),
                "std": math.sqrt(variance),
                "coverage": min(1.0, float(weight[i] * cell_area / polygon.area)),
                "reason": None,
            }
        )
    return results


def _band_windows(polygons: list[BaseGeometry], source: rasterio.DatasetReader) -> dict:
    """For each band of `BAND_ROWS` rows that polygons' bounds reach, in order, the window of
    the grid spanning their columns there (a superset of the pixels they cover)."""
    minx, miny, maxx, maxy = shapely.bounds(np.asarray(polygons, dtype=object)).T
    inverse = ~source.transform
    cols, rows = zip(*(inverse @ (x, y) for x, y in ((minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy))), strict=True)  # fmt: skip
    c0 = np.clip(np.floor(np.min(cols, axis=0)), 0, source.width).astype("int64")
    c1 = np.clip(np.ceil(np.max(cols, axis=0)), 0, source.width).astype("int64")
    r0 = np.clip(np.floor(np.min(rows, axis=0)), 0, source.height).astype("int64")
    r1 = np.clip(np.ceil(np.max(rows, axis=0)), 0, source.height).astype("int64")
    keep = (c1 > c0) & (r1 > r0)
    c0, c1, first, last = c0[keep], c1[keep], r0[keep] // BAND_ROWS, (r1[keep] - 1) // BAND_ROWS
    spans = last - first + 1
    band = (
        np.repeat(first, spans)
        + np.arange(spans.sum())
        - np.repeat(np.cumsum(spans) - spans, spans)
    )
    bands = np.unique(band)
    left, right = np.full(bands.size, source.width), np.zeros(bands.size, dtype="int64")
    at = np.searchsorted(bands, band)
    np.minimum.at(left, at, np.repeat(c0, spans))
    np.maximum.at(right, at, np.repeat(c1, spans))
    windows = {}
    for b, lo, hi in zip(bands.tolist(), left.tolist(), right.tolist(), strict=True):
        top = b * BAND_ROWS
        windows[b] = Window(lo, top, hi - lo, min(top + BAND_ROWS, source.height) - top)
    return windows


def _band_pixels(coverage: Coverage, height: int, width: int):
    """The covered pixels inside the grid, `BAND_ROWS` rows at a time, as (band, feature, row,
    col, fraction). Runs are expanded one band at a time, so a large polygon never holds all
    its pixels in memory at once."""
    edge = (
        (coverage.edge_row >= 0)
        & (coverage.edge_row < height)
        & (coverage.edge_col >= 0)
        & (coverage.edge_col < width)
    )
    start = np.clip(coverage.run_start, 0, width)
    stop = np.clip(coverage.run_stop, 0, width)
    run = (coverage.run_row >= 0) & (coverage.run_row < height) & (stop > start)
    edges = _by_row(coverage.edge_row[edge], coverage.edge_feature[edge],
                    coverage.edge_col[edge], coverage.edge_fraction[edge])  # fmt: skip
    runs = _by_row(coverage.run_row[run], coverage.run_feature[run], start[run], stop[run])
    for band in np.union1d(edges[0] // BAND_ROWS, runs[0] // BAND_ROWS):
        limits = np.array([band, band + 1]) * BAND_ROWS
        e0, e1 = np.searchsorted(edges[0], limits)
        s0, s1 = np.searchsorted(runs[0], limits)
        lengths = runs[3][s0:s1] - runs[2][s0:s1]
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        rows = np.concatenate([edges[0][e0:e1], np.repeat(runs[0][s0:s1], lengths)])
        feature = np.concatenate([edges[1][e0:e1], np.repeat(runs[1][s0:s1], lengths)])
        cols = np.concatenate([edges[2][e0:e1], np.repeat(runs[2][s0:s1], lengths) + offsets])
        fraction = np.concatenate([edges[3][e0:e1], np.ones(lengths.sum())])
        yield int(band), feature, rows, cols, fraction


def _by_row(rows: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(rows, kind="stable")
    return rows[order], *(c[order] for c in columns)
