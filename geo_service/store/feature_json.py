"""RFC 7946 GeoJSON of store features, one Feature member at a time: what a page of features
is made of, whether written for the request or kept written by the store (`gpkg_rows.py`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import orjson
import shapely

from .base import Feature


def geometry_json(features: Sequence[Feature]) -> list[str]:
    """GeoJSON geometry members for a batch of features, converted in one vectorised call."""
    wkb = np.array([f.geometry for f in features], dtype=object)
    return ["null" if g is None else g for g in shapely.to_geojson(shapely.from_wkb(wkb))]


def feature_member(feature: Feature, geometry: str) -> dict[str, Any]:
    """The Feature as a dict orjson writes, its geometry already written."""
    return {
        "type": "Feature",
        "id": feature.id,
        "geometry": orjson.Fragment(geometry),
        "properties": feature.properties,
    }


def written_batch(features: Sequence[Feature]) -> bytes:
    """A batch of features as their Feature members, comma-separated (no brackets)."""
    return orjson.dumps(list(_members(features)))[1:-1]


def written_features(features: Sequence[Feature]) -> list[bytes]:
    """Each feature as its Feature member: joined with commas, the bytes of `written_batch`."""
    return list(map(orjson.dumps, _members(features)))


def _members(features: Sequence[Feature]) -> Iterator[dict[str, Any]]:
    return map(feature_member, features, geometry_json(features))
