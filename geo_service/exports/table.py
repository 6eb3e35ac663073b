"""Feature batches as tables: typed Arrow columns, reprojected geometry, labels for headers.

Every export format reads through here, so the columns, their order, the CRS handling and the
spreadsheet conveniences (a representative point's x/y, WKT within Excel's cell limit) are the
same in CSV, XLSX, GeoPackage, Shapefile, FlatGeobuf and KML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely
from pyproj import CRS, Transformer

from ..catalogue import FieldSpec, LayerMeta
from ..errors import InvalidParameter
from ..i18n import _l, per_language, pick
from ..store import Feature

EXCEL_CELL_LIMIT = 32_767
WGS84 = CRS.from_epsg(4326)
_ARROW_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.string(),
    "boolean": pa.bool_(),
}


def parse_crs(text: str | None) -> CRS:
    """`EPSG:9206`, an OGC CRS URI or CRS84; a 400 for anything pyproj does not know, or that
    is not a geographic or projected CRS WGS 84 longitude/latitude can be transformed into
    (another planet's, a vertical, geocentric or engineering CRS)."""
    if text is None or text.rstrip("/").endswith(("CRS84", "OGC:CRS84")):
        return WGS84
    candidate = text
    if "/def/crs/EPSG/" in text:
        candidate = "EPSG:" + text.rstrip("/").rsplit("/", 1)[-1]
    try:
        crs = CRS.from_user_input(candidate)
    except Exception:  # pyproj raises CRSError and others for garbage
        raise InvalidParameter(
            _l("crs {text!r} is not a CRS pyproj knows (try EPSG:9206)", text=text)
        ) from None
    try:
        Transformer.from_crs(WGS84, crs, always_xy=True)
        usable = crs.is_geographic or crs.is_projected
    except Exception:  # ProjError: no transformation (another body, …)
        usable = False
    if not usable:
        raise InvalidParameter(
            _l(
                "crs {text!r}: WGS 84 longitude/latitude cannot be transformed into it; use a projected or geographic CRS of the Earth, e.g. EPSG:9206",
                text=text,
            )
        )
    return crs


@dataclass(frozen=True)
class ExportColumns:
    """The property columns of an export, in schema order, with their labels."""

    fields: list[FieldSpec]
    lang: str

    @classmethod
    def of(cls, meta: LayerMeta, properties: tuple[str, ...] | None, lang: str) -> ExportColumns:
        chosen = [f for f in meta.fields if properties is None or f.name in properties]
        return cls(chosen, lang)

    def header(self, spec: FieldSpec) -> str:
        label = pick(per_language(spec, "label"), self.lang, "label")
        return f"{label} ({spec.unit})" if spec.unit else label


def reproject(geometries: np.ndarray, crs: CRS) -> np.ndarray:
    if crs == WGS84:
        return geometries
    transformer = Transformer.from_crs(WGS84, crs, always_xy=True)
    moved = shapely.transform(
        geometries, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    if not np.isfinite(shapely.get_coordinates(moved)).all():
        raise InvalidParameter(
            _l(
                "crs {name!r}: some sites lie outside what this CRS can show (their coordinates would not be finite); choose a CRS that covers them, e.g. EPSG:9206",
                name=crs.name,
            )
        )
    return moved


def _property_array(spec: FieldSpec, values: list) -> pa.Array:
    if spec.type == "date":
        values = [None if v is None else dt.date.fromisoformat(str(v)[:10]) for v in values]
    return pa.array(values, type=_ARROW_TYPES[spec.type])


def geometry_batches(
    columns: ExportColumns, batches: Iterable[list[Feature]], crs: CRS
) -> Iterator[pa.RecordBatch]:
    """Arrow batches with the properties and a WKB `geometry` column in `crs`."""
    for features in batches:
        geometries = reproject(shapely.from_wkb([f.geometry for f in features]), crs)
        arrays = [
            _property_array(s, [f.properties.get(s.name) for f in features]) for s in columns.fields
        ]
        arrays.append(pa.array(shapely.to_wkb(geometries), type=pa.binary()))
        yield pa.RecordBatch.from_arrays(
            arrays, names=[s.name for s in columns.fields] + ["geometry"]
        )


def _too_long_for_a_cell(wkt: str) -> str:
    return _l(
        "(geometry of {count:,} characters is too long for a spreadsheet cell; export GeoPackage for it)",
        count=len(wkt),
    )


def spreadsheet_batches(
    columns: ExportColumns, batches: Iterable[list[Feature]], crs: CRS
) -> Iterator[pa.RecordBatch]:
    """Labelled columns: the properties, x and y of a representative point, then WKT.

    WKT longer than an Excel cell holds is replaced by a note saying so.
    """
    names = spreadsheet_header(columns, crs)
    for features in batches:
        geometries = reproject(shapely.from_wkb([f.geometry for f in features]), crs)
        points = shapely.point_on_surface(geometries)
        texts = [
            None if t is None else (t if len(t) <= EXCEL_CELL_LIMIT else _too_long_for_a_cell(t))
            for t in shapely.to_wkt(geometries, rounding_precision=-1)
        ]
        arrays = [
            _property_array(s, [f.properties.get(s.name) for f in features]) for s in columns.fields
        ]
        arrays += [
            pa.array(shapely.get_x(points), type=pa.float64(), from_pandas=True),
            pa.array(shapely.get_y(points), type=pa.float64(), from_pandas=True),
            pa.array(texts, type=pa.string()),
        ]
        yield pa.RecordBatch.from_arrays(arrays, names=names)


def spreadsheet_header(columns: ExportColumns, crs: CRS) -> list[str]:
    code = crs.to_epsg()
    crs_name = f"EPSG:{code}" if code else crs.name
    return [
        *(columns.header(s) for s in columns.fields),
        f"x ({crs_name})",
        f"y ({crs_name})",
        f"WKT ({crs_name})",
    ]
