"""One feature an editor sends (an RFC 7946 GeoJSON Feature), checked as an upload's features are:
the layer's own fields with their types and code lists, a valid geometry of the layer's family,
inside the province, in WGS 84 (`validate.prepare`, strict), the same derived fields filled in.
Nothing here writes; the report says what is wrong, as an upload's does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from shapely.errors import GEOSException

from ..catalogue import ID_FIELD, LayerMeta
from ..i18n import _l
from .validate import Report, prepare

CRS84_NAMES = {
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
}
SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class CheckedFeature:
    """A feature ready for the store: its id, every field of the layer, and WKB in WGS 84."""

    id: str
    properties: dict[str, Any]
    geometry: bytes


def check_feature(
    meta: LayerMeta, document: Any, feature_id: str | None, province: str
) -> tuple[CheckedFeature | None, Report]:
    """The feature of a GeoJSON `document` for layer `meta`, or None when the report has errors.

    Its id is `feature_id` (the URL's, for a replace) and else the document's `id` or its `code`
    property; where more than one is given they must agree.
    """
    report = Report(meta.id, features=1)
    if not isinstance(document, dict) or document.get("type") != "Feature":
        report.add(
            "error",
            "feature_structure",
            _l(
                "the body must be a GeoJSON Feature: {shape}",
                shape='{"type": "Feature", "geometry": …, "properties": {…}}',
            ),
        )
        return None, report
    properties = document.get("properties") or {}
    if not isinstance(properties, dict):
        report.add("error", "feature_structure", _l("properties must be a JSON object"))
        return None, report
    crs = document.get("crs")
    if crs is not None and _crs_name(crs) not in CRS84_NAMES:
        report.add(
            "error",
            "crs_not_wgs84",
            _l(
                "GeoJSON is in WGS 84 longitude/latitude (RFC 7946); leave out the crs member "
                "or name CRS84"
            ),
        )
    ids = {
        str(value)
        for value in (feature_id, document.get("id"), properties.get(ID_FIELD))
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip()
    }
    if len(ids) != 1:
        report.add(
            "error",
            "id_mismatch" if ids else "id_missing",
            _l(
                "the feature's id, its `id` and its `{field}` property must agree: {ids}",
                field=ID_FIELD,
                ids=sorted(ids),
            )
            if ids
            else _l("the feature needs an id: `id` or a `{field}` property", field=ID_FIELD),
        )
        return None, report
    (code,) = ids
    not_scalar = sorted(
        name for name, value in properties.items() if not isinstance(value, SCALARS)
    )
    if not_scalar:
        report.add(
            "error",
            "field_type",
            _l(
                "properties must be text, numbers, booleans or null, not objects or lists: {names}",
                names=", ".join(not_scalar),
            ),
            [code],
        )
    geometry = _geometry(document.get("geometry"), report, code)
    if not report.ok:
        return None, report
    frame = gpd.GeoDataFrame(
        pd.DataFrame([{**properties, ID_FIELD: code}]), geometry=[geometry], crs="EPSG:4326"
    )
    prepared, _, checked = prepare(frame, meta, None, province, strict=True)
    if prepared is None:
        return None, checked
    values = {name: _python(prepared[name].iloc[0]) for name in meta.field_names}
    return CheckedFeature(code, values, shapely.to_wkb(prepared.geometry.iloc[0])), checked


def _crs_name(crs: Any) -> Any:
    if isinstance(crs, dict):
        return (crs.get("properties") or {}).get("name")
    return crs


def _geometry(value: Any, report: Report, code: str) -> Any:
    """The shapely geometry of a GeoJSON geometry object; None for none (`prepare` reports it)."""
    if value is None:
        return None
    try:
        return shapely.from_geojson(orjson.dumps(value))
    except (GEOSException, ValueError, TypeError) as exc:
        report.add(
            "error",
            "geometry_unreadable",
            _l("the geometry is not GeoJSON: {exc}", exc=str(exc)[:200]),
            [code],
        )
        return None


def _python(value: Any) -> Any:
    """A frame's cell as a plain Python value (the store writes them)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value
