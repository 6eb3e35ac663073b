"""The value types of per-feature edits and their history, shared by every layer store.

A change set (`FeatureChange`s) becomes one new version of a layer; `FeatureRevision` is one
version in which a feature changed; `FeatureDiff` one feature that differs between two versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


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
