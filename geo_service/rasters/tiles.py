"""Web-mercator map tiles of a raster, drawn with its colour map, and its legend.

A tile is warped from the COG by GDAL (`WarpedVRT`) straight onto the tile's 256 × 256 grid in
EPSG:3857, from the coarsest overview that still has at least the tile's resolution, so GDAL
reads only the blocks under the tile at that level. Nodata, and anything beyond the raster,
is transparent; a tile away from the raster is a transparent PNG, not an error.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds
from rasterio.vrt import WarpedVRT

from ..errors import InvalidParameter
from ..i18n import _l
from ..tilematrix import HALF_WORLD, MERCATOR_LATITUDE, TILE_SIZE, Tile
from .meta import ColourStop, RasterMeta

MAX_ZOOM = 22
_TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidParameter(
            _l(
                "no tile {z}/{x}/{y}: zoom is 0–{max_zoom} and x, y 0–2^zoom−1",
                z=z,
                x=x,
                y=y,
                max_zoom=MAX_ZOOM,
            )
        )


def colour_lookup(stops: list[ColourStop], values: np.ndarray) -> np.ndarray:
    """RGB (…, 3) uint8 for `values`: linear between the stops, clamped at the ends."""
    at = np.array([s.value for s in stops])
    rgb = np.array([s.rgb for s in stops], dtype="float64")
    channels = [np.interp(values, at, rgb[:, c]) for c in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype("uint8")


def render_tile(path: Path, meta: RasterMeta, z: int, x: int, y: int) -> bytes:
    """A 256 × 256 RGBA PNG of the raster over tile z/x/y."""
    check_tile(z, x, y)
    bounds = Tile(z, x, y).bounds()
    left, bottom, right, top = _mercator_extent(meta.bounds_wgs84)
    if not (left < bounds[2] and bounds[0] < right and bottom < bounds[3] and bounds[1] < top):
        return empty_tile()
    with rasterio.open(path) as source:
        level = _overview_level(source, _from_mercator(meta.crs_wkt).transform_bounds(*bounds))
    options = {} if level is None else {"overview_level": level}
    with (
        rasterio.open(path, **options) as source,
        WarpedVRT(
            source,
            crs="EPSG:3857",
            transform=from_bounds(*bounds, TILE_SIZE, TILE_SIZE),
            width=TILE_SIZE,
            height=TILE_SIZE,
            resampling=Resampling.nearest,
            add_alpha=True,
        ) as vrt,
    ):
        values = vrt.read(1).astype("float64")
        valid = (vrt.read(2) > 0) & np.isfinite(values)
    if not valid.any():
        return empty_tile()
    rgb = colour_lookup(meta.colormap, np.where(valid, values, meta.value_range[0]))
    alpha = np.where(valid, 255, 0).astype("uint8")
    return encode_png(np.dstack([rgb, alpha]))


@lru_cache(maxsize=256)
def _mercator_extent(bounds_wgs84: tuple[float, float, float, float]) -> tuple[float, ...]:
    """The raster's extent in EPSG:3857, clipped to the latitudes web-mercator reaches."""
    west, south, east, north = bounds_wgs84
    south, north = max(south, -MERCATOR_LATITUDE), min(north, MERCATOR_LATITUDE)
    if south >= north:
        return (0.0, 0.0, 0.0, 0.0)
    return _TO_MERCATOR.transform_bounds(west, south, east, north)


@lru_cache(maxsize=32)
def _from_mercator(crs_wkt: str) -> Transformer:
    return Transformer.from_crs("EPSG:3857", CRS.from_wkt(crs_wkt), always_xy=True)


def _overview_level(source: rasterio.DatasetReader, tile: tuple[float, ...]) -> int | None:
    """The coarsest overview (index for `overview_level`) still as fine as the tile, whose
    bounds `tile` are in the raster's CRS."""
    left, bottom, right, top = tile
    needed = min(abs(right - left), abs(top - bottom)) / TILE_SIZE
    pixel = min(abs(source.transform.a), abs(source.transform.e))
    level = None
    for index, factor in enumerate(source.overviews(1)):
        if pixel * factor <= needed:
            level = index
    return level


def encode_png(rgba: np.ndarray) -> bytes:
    """An (h, w, 4) uint8 array as PNG bytes (GDAL's PNG driver)."""
    height, width, _ = rgba.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as memory:
            with memory.open(
                driver="PNG", width=width, height=height, count=4, dtype="uint8"
            ) as target:
                target.write(np.moveaxis(rgba, -1, 0))
            return memory.read()


@lru_cache(maxsize=1)
def empty_tile() -> bytes:
    return encode_png(np.zeros((TILE_SIZE, TILE_SIZE, 4), dtype="uint8"))


def legend(meta: RasterMeta) -> dict:
    """The colour stops with their values, unit and titles, for a map's legend."""
    return {
        "id": meta.id,
        "title_vi": meta.title_vi,
        "title_en": meta.title_en,
        "unit": meta.unit,
        "kind": meta.kind,
        "derived_from": meta.derived_from,
        "value_range": list(meta.value_range),
        "stops": [{"value": s.value, "color": s.color} for s in meta.colormap],
        "interpolation": "linear",
        "clamped": True,
        "nodata_vi": "trong suốt",
        "nodata_en": "transparent",
    }


def native_zoom(meta: RasterMeta) -> int:
    """The zoom whose tiles show the raster's pixels about one to one: beyond it a map should
    enlarge tiles (Leaflet's `maxNativeZoom`) rather than ask for more."""
    west, _, east, _ = meta.bounds_wgs84
    pixel = (east - west) / max(meta.width, 1) * (2 * HALF_WORLD / 360)  # mercator metres
    world_pixels = 2 * HALF_WORLD / max(pixel, 1e-9)
    return max(0, min(MAX_ZOOM, round(math.log2(world_pixels / TILE_SIZE))))
