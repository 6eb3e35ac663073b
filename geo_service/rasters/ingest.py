"""Validate an uploaded GeoTIFF and turn it into a Cloud Optimised GeoTIFF with metadata.

Refused with 400 (nothing stored): not a GeoTIFF, more than one band, a non-numeric band, a
rotated grid, no CRS or one pyproj cannot place on the Earth, a raster away from the province,
gaps that cannot be told from data (below), only nodata, bad metadata. Refused with 413: more
pixels than the limit (the upload's byte limit is the API's). Only a complete COG reaches the
store.

Nodata: the file's own value, else the metadata's `nodata`. Without either, a floating-point
raster's gaps are its NaN pixels, unless its minimum is -9999 or lower (a nodata value nobody
declared: refused); an integer raster has no NaN, so it must declare one.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from pydantic import ValidationError
from pyproj import CRS
from rasterio.crs import CRS as RioCRS
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from ..catalogue import LAYER_ID_PATTERN
from ..clock import utc_now
from ..errors import InvalidParameter, ServiceError, TooLarge, check_existence
from ..i18n import _l
from ..i18n.validation import described
from ..places import province_extent
from .meta import RasterInput, RasterMeta, default_colormap
from .store import RasterStore

SCAN_PIXELS = 1 << 24
UNDECLARED_NODATA = -9999.0
"""A minimum at or below this is taken for a nodata value the file forgot to declare."""


class RasterRefused(ServiceError):
    status = 400
    code = "InvalidRaster"


def parse_input(metadata: dict[str, Any]) -> RasterInput:
    try:
        return RasterInput.model_validate(metadata)
    except ValidationError as exc:
        raise InvalidParameter(_l("metadata: {problems}", problems=described(exc))) from None


def ingest_raster(
    path: Path,
    raster_id: str,
    metadata: dict[str, Any],
    crs_text: str | None,
    max_pixels: int,
    province: str,
    store: RasterStore,
    dry_run: bool = False,
    new: bool | None = None,
) -> RasterMeta:
    """Validate `path` (a file the caller lets us change); unless `dry_run`, publish it as the
    next version of `raster_id`. Returns the metadata as published (or as it would be).

    `new` True: a new raster (409 if it exists), False: a new version (404 unless it exists),
    asked before the work and again under the raster's lock."""
    if not LAYER_ID_PATTERN.fullmatch(raster_id):
        raise InvalidParameter(
            _l(
                "raster id {raster_id!r} must match {pattern}",
                raster_id=raster_id,
                pattern=LAYER_ID_PATTERN.pattern,
            )
        )
    check_existence("raster", raster_id, bool(store.version_numbers(raster_id)), new)
    given = parse_input(metadata)
    try:
        source = rasterio.open(path)
    except RasterioError:
        raise RasterRefused(_l("the file is not a raster GDAL can read; send a GeoTIFF")) from None
    with source:
        _check_grid(source, max_pixels)
        crs = _crs(source.crs, crs_text)
        nodata = _nodata(source, given.nodata)
    _set_header(path, crs, nodata)
    with rasterio.open(path) as source:
        value_range = given.value_range or _value_range(source)
        _check_extent(transform_bounds(source.crs, "EPSG:4326", *source.bounds), province)
    with tempfile.TemporaryDirectory(prefix="geo-service-raster-") as folder:
        cog = Path(folder) / "cog.tif"
        rasterio.shutil.copy(
            path,
            cog,
            driver="COG",
            # ZSTD decodes about a quarter faster than DEFLATE at the same size. No predictor:
            # on a DEM-like float surface the floating-point predictor saves a fifth of the
            # file but makes every read (tiles, statistics) about 40 % slower to decode.
            COMPRESS="ZSTD",
            LEVEL=9,
            BLOCKSIZE=256,
            OVERVIEW_RESAMPLING="AVERAGE",
            BIGTIFF="IF_SAFER",
            NUM_THREADS="ALL_CPUS",
        )
        with rasterio.open(cog) as written:
            meta = RasterMeta(
                **given.model_dump(exclude={"colormap", "value_range", "nodata"}),
                id=raster_id,
                colormap=given.colormap or default_colormap(*value_range),
                value_range=value_range,
                nodata=None if math.isnan(nodata) else nodata,
                crs=_crs_name(crs),
                crs_wkt=crs.to_wkt(),
                width=written.width,
                height=written.height,
                resolution=written.res,
                bounds=tuple(written.bounds),
                bounds_wgs84=transform_bounds(written.crs, "EPSG:4326", *written.bounds),
                dtype=written.dtypes[0],
                updated=utc_now()[:10],
            )
        if dry_run:
            return meta
        return store.publish(meta, cog, new)


def _check_grid(source: rasterio.DatasetReader, max_pixels: int) -> None:
    if source.driver != "GTiff":
        raise RasterRefused(
            _l("the file is a {driver} raster; only GeoTIFF is accepted", driver=source.driver)
        )
    if source.count != 1:
        raise RasterRefused(
            _l("the raster has {count} bands; send one band per layer", count=source.count)
        )
    if not np.issubdtype(np.dtype(source.dtypes[0]), np.number) or np.issubdtype(
        np.dtype(source.dtypes[0]), np.complexfloating
    ):
        raise RasterRefused(
            _l(
                "the raster's values are {value}; send integers or real numbers",
                value=source.dtypes[0],
            )
        )
    pixels = source.width * source.height
    if pixels > max_pixels:
        raise TooLarge(
            _l(
                "the raster has {pixels:,} pixels, more than the limit of {max_pixels:,}; resample or tile it",
                pixels=pixels,
                max_pixels=max_pixels,
            )
        )
    if source.transform.b != 0 or source.transform.d != 0:
        raise RasterRefused(_l("the raster grid is rotated; warp it north-up first (gdalwarp)"))


def _crs(declared: RioCRS | None, given: str | None) -> CRS:
    """The file's CRS, else the one sent with it, as pyproj knows it; one that pyproj cannot
    place on the Earth is refused."""
    if declared is None and not given:
        raise RasterRefused(
            _l("the raster has no CRS; send crs=EPSG:9206 (or its CRS) with the file")
        )
    text = declared.to_wkt() if declared is not None else given
    try:
        crs = CRS.from_user_input(text)
    except Exception:  # pyproj raises CRSError, and others for garbage
        crs = None
    if crs is None or not (crs.is_geographic or crs.is_projected):
        raise RasterRefused(
            _l(
                "the raster's CRS is not one pyproj can place on the Earth ({value!r}); reproject it to EPSG:9206 or EPSG:4326",
                value=text[:80],
            )
        )
    # the registry's definition, so reprojections pick the same datum shift as vector uploads
    authority = crs.to_authority(min_confidence=90)
    return CRS.from_authority(*authority) if authority else crs


def _crs_name(crs: CRS) -> str:
    authority = crs.to_authority()
    return ":".join(authority) if authority else crs.name


def _nodata(source: rasterio.DatasetReader, given: float | None) -> float:
    if source.nodata is not None:
        if math.isinf(source.nodata):
            raise RasterRefused(
                _l(
                    "the raster's nodata value is {nodata}, which metadata cannot hold; set a finite one (or NaN)",
                    nodata=source.nodata,
                )
            )
        return float(source.nodata)
    if given is not None:
        return given
    if not np.issubdtype(np.dtype(source.dtypes[0]), np.floating):
        raise RasterRefused(
            _l(
                'the raster holds integers and declares no nodata value, so its gaps cannot be told from data; set one in the file or send metadata {{"nodata": …}} with a value the data never takes'
            )
        )
    low = _statistics(source)[0]
    if low <= UNDECLARED_NODATA:
        raise RasterRefused(
            _l(
                'the raster declares no nodata value but its minimum is {low:g}, which looks like one; set it in the file or send metadata {{"nodata": {low:g}}}',
                low=low,
            )
        )
    return math.nan


def _set_header(path: Path, crs: CRS, nodata: float) -> None:
    """Write the CRS and nodata decided on into the (request's own copy of the) file."""
    rio_crs = RioCRS.from_wkt(crs.to_wkt())
    with rasterio.open(path, "r+") as target:
        if target.crs != rio_crs:
            target.crs = rio_crs
        if target.nodata is None or not (
            target.nodata == nodata or (math.isnan(target.nodata) and math.isnan(nodata))
        ):
            target.nodata = nodata


def _statistics(source: rasterio.DatasetReader) -> tuple[float, float]:
    """Exact minimum and maximum over valid pixels, read in bands of about `SCAN_PIXELS`."""
    low, high = math.inf, -math.inf
    rows = max(1, SCAN_PIXELS // source.width)
    for row in range(0, source.height, rows):
        window = Window(0, row, source.width, min(rows, source.height - row))
        values = source.read(1, window=window, masked=True).compressed()
        values = values[np.isfinite(values)]
        if values.size:
            low, high = min(low, float(values.min())), max(high, float(values.max()))
    if low > high:
        raise RasterRefused(_l("every pixel of the raster is nodata"))
    return low, high


def _value_range(source: rasterio.DatasetReader) -> tuple[float, float]:
    """The data's own range; a constant raster gets [v, v + 1] so its colours have a span."""
    low, high = _statistics(source)
    return (low, high) if high > low else (low, low + 1.0)


def _check_extent(bounds: tuple[float, float, float, float], province: str) -> None:
    minx, miny, maxx, maxy = province_extent(province)
    west, south, east, north = bounds
    if west > maxx or east < minx or south > maxy or north < miny:
        raise RasterRefused(
            _l(
                "the raster ({west:.2f}, {south:.2f}, {east:.2f}, {north:.2f} in WGS 84) does not reach province {province} ({minx:.2f}, {miny:.2f}, {maxx:.2f}, {maxy:.2f}); is its CRS right?",
                west=west,
                south=south,
                east=east,
                north=north,
                province=province,
                minx=minx,
                miny=miny,
                maxx=maxx,
                maxy=maxy,
            )
        )
