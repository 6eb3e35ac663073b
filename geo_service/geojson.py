"""RFC 7946 GeoJSON encoding of store features, as byte chunks ready to stream."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import orjson
import shapely

from .store import Feature

CHUNK_FEATURES = 500


def geometry_json(features: Sequence[Feature]) -> list[bytes]:
    """GeoJSON geometry members for a batch of features, converted in one vectorised call."""
    wkb = np.array([f.geometry for f in features], dtype=object)
    encoded = shapely.to_geojson(shapely.from_wkb(wkb))
    return [b"null" if g is None else g.encode() for g in encoded]


def feature_bytes(feature: Feature, geometry: bytes, extra: dict[str, Any] | None = None) -> bytes:
    head = orjson.dumps({"type": "Feature", "id": feature.id})[:-1]
    tail = orjson.dumps(feature.properties)
    links = b"" if extra is None else b"," + orjson.dumps(extra)[1:-1]
    return head + b',"geometry":' + geometry + b',"properties":' + tail + links + b"}"


def feature_document(feature: Feature, extra: dict[str, Any]) -> bytes:
    (geometry,) = geometry_json([feature])
    return feature_bytes(feature, geometry, extra)


def feature_collection(features: Sequence[Feature], members: dict[str, Any]) -> Iterator[bytes]:
    """A FeatureCollection in chunks: header, features in batches, then `members`."""
    yield b'{"type":"FeatureCollection","features":['
    for start in range(0, len(features), CHUNK_FEATURES):
        batch = features[start : start + CHUNK_FEATURES]
        encoded = (feature_bytes(f, g) for f, g in zip(batch, geometry_json(batch), strict=True))
        yield (b"," if start else b"") + b",".join(encoded)
    yield b"]," + orjson.dumps(members)[1:]
