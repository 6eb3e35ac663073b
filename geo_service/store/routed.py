"""One `Store` over several: named collections are kept by a store of their own (pipeline
projects in the records database), every other by the default store (GeoPackages).

Readers and writers see one catalogue; a write to a collection goes to the store that keeps
it, which may refuse it with its own typed error.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from ..catalogue import LayerMeta
from ..listing import Listing
from ..query import BBox, Query
from ..tilematrix import Tile
from .base import Facet, Feature, FeaturePage, GridCell, KeptPage, Store, VectorTile, VersionSummary
from .changes import FeatureChange, FeatureDiff, FeatureRevision


class RoutedStore:
    """The `Store` protocol, each call sent to the store keeping its collection."""

    def __init__(self, default: Store, routes: Mapping[str, Store]) -> None:
        self.default = default
        self.routes = dict(routes)

    def store(self, layer_id: str) -> Store:
        return self.routes.get(layer_id, self.default)

    def layers(self) -> Listing:
        """Every store's layers, ordered by id; a default store's layer whose id is routed
        elsewhere is not served, so it is not listed."""
        listings = [self.default.layers(), *(store.layers() for store in self.routes.values())]
        found = [m for m in listings[0] if m.id not in self.routes]
        skipped = [s for s in listings[0].skipped if s.id not in self.routes]
        for listing in listings[1:]:
            found += listing
            skipped += listing.skipped
        return Listing(sorted(found, key=lambda m: m.id), sorted(skipped, key=lambda s: s.id))

    def layer(self, layer_id: str, version: int | None = None) -> LayerMeta:
        return self.store(layer_id).layer(layer_id, version)

    def extent(self, layer_id: str) -> BBox | None:
        return self.store(layer_id).extent(layer_id)

    def query(self, layer_id: str, query: Query) -> FeaturePage:
        return self.store(layer_id).query(layer_id, query)

    def geojson_page(self, layer_id: str, query: Query) -> KeptPage | None:
        return self.store(layer_id).geojson_page(layer_id, query)

    def keep_geojson(self, layer_id: str) -> int:
        return self.store(layer_id).keep_geojson(layer_id)

    def iter_features(
        self, layer_id: str, query: Query, batch_size: int = 2000
    ) -> Iterator[list[Feature]]:
        return self.store(layer_id).iter_features(layer_id, query, batch_size)

    def feature(self, layer_id: str, feature_id: str, version: int | None = None) -> Feature:
        return self.store(layer_id).feature(layer_id, feature_id, version)

    async def awaited_feature(self, layer_id: str, feature_id: str) -> Feature | None:
        return await self.store(layer_id).awaited_feature(layer_id, feature_id)

    @contextlib.asynccontextmanager
    async def awaited_reads(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for store in (self.default, *self.routes.values()):
                await stack.enter_async_context(store.awaited_reads())
            yield

    def facets(self, layer_id: str, query: Query, fields: tuple[str, ...]) -> dict[str, Facet]:
        return self.store(layer_id).facets(layer_id, query, fields)

    def grid(
        self, layer_id: str, query: Query, bbox: BBox, columns: int, rows: int
    ) -> list[GridCell]:
        return self.store(layer_id).grid(layer_id, query, bbox, columns, rows)

    def tile(self, layer_id: str, query: Query, tile: Tile, limit: int) -> VectorTile:
        return self.store(layer_id).tile(layer_id, query, tile, limit)

    def warm(self) -> None:
        for store in (self.default, *self.routes.values()):
            store.warm()

    def dispose(self) -> None:
        for store in (self.default, *self.routes.values()):
            store.dispose()

    def publish(self, meta: LayerMeta, frame: Any, **options: Any) -> int:
        return self.store(meta.id).publish(meta, frame, **options)

    def version_numbers(self, layer_id: str) -> list[int]:
        return self.store(layer_id).version_numbers(layer_id)

    def current_version(self, layer_id: str) -> int | None:
        return self.store(layer_id).current_version(layer_id)

    def versions(self, layer_id: str) -> list[VersionSummary]:
        return self.store(layer_id).versions(layer_id)

    def activate(self, layer_id: str, version: int) -> None:
        self.store(layer_id).activate(layer_id, version)

    def archive(self, layer_id: str) -> str:
        return self.store(layer_id).archive(layer_id)

    def apply_changes(
        self,
        layer_id: str,
        changes: Sequence[FeatureChange],
        *,
        base_version: int,
        draft: bool = False,
        actor: str,
    ) -> int:
        return self.store(layer_id).apply_changes(
            layer_id, changes, base_version=base_version, draft=draft, actor=actor
        )

    def feature_etag(self, layer_id: str, feature_id: str) -> str:
        return self.store(layer_id).feature_etag(layer_id, feature_id)

    def feature_history(self, layer_id: str, feature_id: str) -> list[FeatureRevision]:
        return self.store(layer_id).feature_history(layer_id, feature_id)

    def diff(self, layer_id: str, from_version: int, to_version: int) -> Iterator[FeatureDiff]:
        return self.store(layer_id).diff(layer_id, from_version, to_version)
