"""A feature's ETag: a digest of what it holds, its geometry and every property.

The same content gives the same tag in every store and every version, so a reader computes it
from the feature it has just read (no second lookup, no moment between them), and a store
compares it with the `If-Match` an editor sends before changing the feature.
"""

from __future__ import annotations

import hashlib

import orjson

from .base import Feature


def feature_etag(feature: Feature) -> str:
    """32 hex digits of SHA-256 over the WKB and the properties as sorted JSON."""
    digest = hashlib.sha256(feature.geometry or b"")
    digest.update(b"\0")
    digest.update(orjson.dumps(feature.properties, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()[:32]
