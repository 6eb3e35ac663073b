"""Build a GeoDataFrame that matches a layer's field schema, column for column and type for type."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from .catalogue import LayerMeta
from .text import nfc

_DTYPES = {"integer": "Int64", "number": "float64", "boolean": "boolean"}


def records_to_frame(
    meta: LayerMeta, records: Iterable[Mapping[str, Any]], geometries: Iterable[BaseGeometry]
) -> gpd.GeoDataFrame:
    """One row per record; fields the record lacks are empty, text is NFC, dates are ISO text."""
    rows = list(records)
    columns: dict[str, Any] = {}
    for spec in meta.fields:
        values = [row.get(spec.name) for row in rows]
        if spec.type in ("string", "date", "datetime"):
            values = [None if v is None else nfc(str(v)) for v in values]
            columns[spec.name] = pd.Series(values, dtype="object")
        else:
            columns[spec.name] = pd.Series(values, dtype=_DTYPES[spec.type])
    return gpd.GeoDataFrame(columns, geometry=list(geometries), crs="EPSG:4326")
