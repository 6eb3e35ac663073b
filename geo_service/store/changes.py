"""Per-feature edits and versions: what a change set holds, and what history and diffs report.

Both layer stores keep every feature row with the version it appeared in and the version that
superseded it, so a change set of a few features becomes one new version at the cost of those
features, and history and diffs are read from the rows (`base.Store.apply_changes`,
`feature_history`, `diff`). What they report is computed here, once for every store: a
feature's ETag from its content, the fields that differ between two states of a feature, and
how far a geometry moved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import shapely
from pyproj import Geod

GEOMETRY = "geometry"
"""The name a changed geometry goes by among a revision's changed fields."""
_ELLIPSOID = Geod(ellps="WGS84")


@dataclass(frozen=True)
class FeatureChange:
    op: Literal["create", "replace", "update", "delete"]
    feature_id: str
    properties: dict[str, Any] | None = None  # create/replace: all; update: only those given
    geometry: bytes | None = None  # WKB in WGS 84; update: None = unchanged
    if_match: str | None = None  # the feature ETag the editor last saw


@dataclass(frozen=True)
class FeatureRevision:
    version: int
    change: Literal["created", "changed", "deleted"]
    fields: tuple[str, ...]  # fields that changed ("geometry" included when it moved)
    actor: str | None  # who made the version (from the version's record)
    at: str  # ISO 8601 UTC, when the version was made


@dataclass(frozen=True)
class FeatureDiff:
    feature_id: str
    change: Literal["added", "removed", "changed"]
    fields: dict[str, tuple[Any, Any]]  # name -> (before, after); empty for added/removed
    geometry_moved_m: float | None  # None when the geometry did not change


def content_etag(feature_id: str, properties: Mapping[str, Any], geometry: bytes | None) -> str:
    """A feature's ETag: a digest of its id, properties and geometry, so it changes exactly when
    the feature does (and two stores holding the same feature give the same tag)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([feature_id, properties], sort_keys=True, default=str).encode())
    digest.update(shapely.to_wkb(shapely.from_wkb(geometry)) if geometry else b"")
    return digest.hexdigest()[:32]


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """The properties whose values differ, as name -> (before, after), in `after`'s order."""
    names = [*after, *(name for name in before if name not in after)]
    return {
        name: (before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    }


def geometry_moved_m(before: bytes | None, after: bytes | None) -> float | None:
    """How far a geometry moved: the distance between the centroids of its two states, in metres
    on the WGS 84 ellipsoid (a geodesic); 0.0 for a geometry reshaped around the same centroid,
    or given to (taken from) a feature that had none; None when both states are the same."""
    if before == after:
        return None
    first = shapely.from_wkb(before) if before else None
    second = shapely.from_wkb(after) if after else None
    if first is not None and second is not None and shapely.equals_exact(first, second, 0):
        return None
    if first is None or second is None or first.is_empty or second.is_empty:
        return 0.0
    a, b = first.centroid, second.centroid
    _, _, metres = _ELLIPSOID.inv(a.x, a.y, b.x, b.y)
    return float(metres)
