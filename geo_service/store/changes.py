"""Per-feature edits and versions: what a change set holds, and what history and diffs report.

Both layer stores keep every feature row with the version it appeared in and the version that
superseded it, so a change set of a few features becomes one new version at the cost of those
features, and history and diffs are read from the rows (`base.Store.apply_changes`,
`feature_history`, `diff`). What they report is computed here, once for every store: the
fields that differ between two states of a feature, and how far a geometry moved; a feature's
ETag is `etags.feature_etag`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import shapely

from .moves import metres_moved

GEOMETRY = "geometry"
"""The name a changed geometry goes by among a revision's changed fields."""


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
    fields: tuple[str, ...]
    """The fields that changed ("geometry" when it moved); none when the feature was created or
    deleted, as for a diff's added and removed features."""
    actor: str | None  # who made the version (from the version's record)
    at: str  # ISO 8601 UTC, when the version was made


@dataclass(frozen=True)
class FeatureDiff:
    feature_id: str
    change: Literal["added", "removed", "changed"]
    fields: dict[str, tuple[Any, Any]]  # name -> (before, after); empty for added/removed
    geometry_moved_m: float | None  # None when the geometry did not change


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
    """How far a geometry moved (`moves.metres_moved`); 0.0 for a geometry given to (taken from)
    a feature that had none; None when both states are the same."""
    if before == after:
        return None
    first = shapely.from_wkb(before) if before else None
    second = shapely.from_wkb(after) if after else None
    if first is not None and second is not None and shapely.equals_exact(first, second, 0):
        return None
    if first is None or second is None or first.is_empty or second.is_empty:
        return 0.0
    return metres_moved([before], [after])[0]
