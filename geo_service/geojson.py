"""RFC 7946 GeoJSON encoding of store features, as byte chunks ready to stream."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import orjson
import shapely

from .store import Feature

CHUNK_FEATURES = 500


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


def feature_document(feature: Feature, extra: dict[str, Any]) -> bytes:
    (geometry,) = geometry_json([feature])
    return orjson.dumps(feature_member(feature, geometry) | extra)


def feature_collection(features: Sequence[Feature], members: dict[str, Any]) -> Iterator[bytes]:
    """A FeatureCollection in chunks: header, features in batches, then `members`."""
    yield b'{"type":"FeatureCollection","features":['
    for start in range(0, len(features), CHUNK_FEATURES):
        batch = features[start : start + CHUNK_FEATURES]
        written = map(feature_member, batch, geometry_json(batch))
        yield (b"," if start else b"") + orjson.dumps(list(written))[1:-1]
    yield b"]," + orjson.dumps(members)[1:]
