"""The store boundary: every reader (API, map, exports, analysis) and every writer (uploads,
the command line, the sample) asks a `Store`, and only the store knows where and how layers are
kept. `gpkg.GeoPackageStore` keeps each version as a GeoPackage file in the data directory.

A version is whatever the store switches in one step: readers see the whole previous version or
the whole new one, never part of either. Version numbers are per layer and never reused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from ..catalogue import LayerMeta
from ..listing import Listing
from ..query import BBox, Query
from .changes import FeatureChange, FeatureDiff, FeatureRevision

if TYPE_CHECKING:
    import geopandas as gpd

    from ..tilematrix import Tile


@dataclass(frozen=True)
class Feature:
    id: str
    geometry: bytes | None
    """ISO WKB in WGS 84 longitude/latitude."""
    properties: dict[str, Any]


@dataclass(frozen=True)
class VectorTile:
    """One encoded tile of one layer."""

    data: bytes
    """The Mapbox Vector Tile; empty when no feature reaches the tile."""
    features: int
    """How many features it holds."""
    truncated: bool
    """Whether more features reach the tile than it holds (the limit was reached)."""
    version: int | None = None
    """The layer version it was made from, where the store knows it."""


@dataclass(frozen=True)
class FeaturePage:
    features: list[Feature]
    number_matched: int


@dataclass(frozen=True)
class KeptPage:
    """A page whose features the store keeps written in GeoJSON (`Store.geojson_page`)."""

    members: list[bytes]
    """Each feature's Feature member, byte for byte as `feature_json.written_features` writes
    it."""
    number_matched: int


@dataclass(frozen=True)
class Facet:
    values: list[tuple[Any, int]] | None = None
    """(value, count), most frequent first, for text and coded fields."""
    minimum: Any = None
    maximum: Any = None
    count: int = 0
    """Features with a value."""


@dataclass(frozen=True)
class GridCell:
    """Features whose bounding-box centre falls in one cell of a grid over a bbox."""

    count: int
    x: float
    """Mean longitude of the members' box centres (where a cluster marker belongs)."""
    y: float
    bbox: BBox
    """The cell's own rectangle."""


M = TypeVar("M")


@dataclass(frozen=True)
class VersionSummary(Generic[M]):
    """One stored version of a layer or raster, as GIS staff list them."""

    number: int
    current: bool
    """Whether it is the version served."""
    written: str | None = None
    """When it was stored (UTC, to the second)."""
    meta: M | None = None
    """Its metadata; None when it cannot be read."""
    features: int | None = None
    """How many features it holds (layers)."""
    problem: str | None = None
    """Why it cannot be read: it is listed all the same, so that GIS staff can roll back past it."""
    actor: str | None = None
    """Who made it, as the audit log names them; None where it was not recorded."""
    kind: Literal["upload", "changes"] | None = None
    """How it was made: a whole upload, or a change set over the version before it."""


class Versions(Protocol):
    """Versions of what GIS staff publish (layers, rasters): listed, rolled back, archived."""

    def version_numbers(self, item_id: str) -> list[int]:
        """Every stored version of an item, drafts included, oldest first; [] if none."""

    def current_version(self, item_id: str) -> int | None:
        """The version served; None if none is (no such item, or only drafts)."""

    def versions(self, item_id: str) -> list[VersionSummary]:
        """Every stored version with its metadata, oldest first; one that cannot be read is
        listed with its problem. `NotFound` if there is none."""

    def activate(self, item_id: str, version: int) -> None:
        """Serve a stored version: roll back, or publish a draft. `NotFound` if the item is
        not there (any more), `InvalidParameter` if it has no such version."""

    def archive(self, item_id: str) -> str:
        """Take a served item out of the catalogue, keeping every version; returns the name it
        is archived under. `NotFound` unless it is served."""


class Store(Versions, Protocol):
    """Layers: their reads, and publishing their versions."""

    def layers(self) -> Listing:
        """Metadata of every published layer, ordered by id. A layer that cannot be read is left
        out and named in `skipped`; one archived while the listing is made is left out."""

    def layer(self, layer_id: str, version: int | None = None) -> LayerMeta:
        """Metadata of one layer as served, or of one of its stored `version`s (a draft, an
        earlier one); `NotFound` if there is no such layer or version, `LayerUnavailable` if
        its stored files cannot be read."""

    def extent(self, layer_id: str) -> BBox | None:
        """Bounding box of the layer's geometries in WGS 84, None when empty."""

    def query(self, layer_id: str, query: Query) -> FeaturePage:
        """One page of features matching the query, and how many match in all."""

    def geojson_page(self, layer_id: str, query: Query) -> KeptPage | None:
        """`query`'s page as GeoJSON Feature members the store keeps written, where it keeps
        them for this layer and query; None where it does not (the caller writes `query`'s
        features itself). The same page as `query` gives, spared its writing."""

    def keep_geojson(self, layer_id: str) -> int:
        """Write the GeoJSON `geojson_page` reads where the served version lacks it (a layer
        stored before the store kept it); returns how many features were written: 0 where
        none was missing, or where the store keeps none."""

    def iter_features(
        self, layer_id: str, query: Query, batch_size: int = 2000
    ) -> Iterator[list[Feature]]:
        """Every feature the query selects, in batches, without holding them all (exports)."""

    def feature(self, layer_id: str, feature_id: str, version: int | None = None) -> Feature:
        """One feature by its stable id, as served or in one of the layer's stored `version`s
        (a draft an edit goes on top of); `NotFound` if absent."""

    async def awaited_feature(self, layer_id: str, feature_id: str) -> Feature | None:
        """`feature` of the served version awaited on the event loop, where the store can read
        it so without blocking the loop (a lookup so short that a thread hop costs more);
        None where it cannot (the caller then reads `feature` in a thread)."""

    def awaited_reads(self) -> AbstractAsyncContextManager[None]:
        """Opens what `awaited_feature` reads with, for as long as the running event loop is in
        the block (the service's lifespan)."""

    def facets(self, layer_id: str, query: Query, fields: tuple[str, ...]) -> dict[str, Facet]:
        """Per field, over every feature the query matches (its paging ignored): the counts of
        each value, or for numbers and dates their range."""

    def grid(
        self, layer_id: str, query: Query, bbox: BBox, columns: int, rows: int
    ) -> list[GridCell]:
        """Counts of the features the query matches (its own bbox and paging ignored) per cell
        of a columns × rows grid over `bbox`, by bounding-box centre, empty cells left out.
        The map draws these where a view holds too many features to draw one by one."""

    def tile(self, layer_id: str, query: Query, tile: Tile, limit: int) -> VectorTile:
        """The features `query` matches (its bbox, paging and order aside) that reach `tile`,
        as a Mapbox Vector Tile with one layer named `layer_id`: their id and
        `query.properties` (all fields if None), at most `limit` of them (`mvt.py`)."""

    def warm(self) -> None:
        """Build in-memory aids for large layers before the first request needs them; run in
        the background at start-up, so it must be safe alongside requests."""

    def dispose(self) -> None:
        """Close what the store holds open (database connections); called once, at the end."""

    def publish(
        self,
        meta: LayerMeta,
        frame: gpd.GeoDataFrame,
        *,
        new: bool | None = None,
        draft: bool = False,
        actor: str | None = None,
    ) -> int:
        """Store `frame` as the next version of `meta.id` and, unless a `draft`, serve it;
        returns the version's number. `actor` is recorded as who made it, where the store keeps
        version records.

        `frame` is in EPSG:4326 with a column per field of `meta` (missing values as None/NaN).
        `new` True: the layer must not exist yet (`Conflict`); False: it must (`NotFound`);
        None: either. Checked where the publish itself is serialised, so two creations never
        both succeed and an archive is never undone by a version in flight. A failure at any
        point leaves the layer as it was.
        """

    def apply_changes(
        self,
        layer_id: str,
        changes: Sequence[FeatureChange],
        *,
        base_version: int,
        draft: bool = False,
        actor: str,
    ) -> int:
        """Publish `changes` as one new version on top of `base_version` (which must be the newest
        version, else Conflict; and, unless `draft`, the served one, else Conflict: serving the
        new version would serve the drafts between unseen); returns the new version number.
        Both are checked under the layer's lock. Each change's `if_match` (a feature ETag) must
        equal the feature's current ETag, else PreconditionFailed (412). Validation of
        properties/geometry happens before, in the service layer, like uploads."""

    def feature_etag(self, layer_id: str, feature_id: str) -> str:
        """The feature's ETag in the served version: changes whenever the feature changes."""

    def feature_history(self, layer_id: str, feature_id: str) -> list[FeatureRevision]:
        """Every version in which the feature changed (created, changed, deleted), oldest first;
        `NotFound` if no version ever held it."""

    def diff(self, layer_id: str, from_version: int, to_version: int) -> Iterator[FeatureDiff]:
        """Features added, removed and changed between two versions, with field-level changes and
        how far the geometry moved (metres, on the ellipsoid, Hausdorff or centroid: say which)."""


class BlockingReads:
    """The awaited half of `Store` for a store whose every read blocks (SQLite, SQLAlchemy's
    sessions): nothing is awaited, so each feature is read in a thread."""

    async def awaited_feature(self, layer_id: str, feature_id: str) -> Feature | None:
        return None

    def awaited_reads(self) -> AbstractAsyncContextManager[None]:
        return nullcontext()
