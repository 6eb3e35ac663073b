"""Vector tiles as the API serves them: which properties a tile carries, its entity tag, and the
encoded tiles each process keeps in memory.

A tile's ETag names everything its bytes follow from: the layer, its version and date (a
publish, a rollback and a change set each serve another version), the tile, the request's
filter parameters and the feature limit. It is the key of the memory cache too, so a new
version is never answered from the old one's tiles; those simply age out (least recently used
first, within `GEO_SERVICE_TILE_CACHE_BYTES`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass

from .catalogue import ID_FIELD, LayerMeta
from .memory_cache import MemoryCache
from .query import Query
from .store import Store, VectorTile
from .tilematrix import Tile

NAME_FIELDS = ("name_vi", "name_en")


def tile_properties(meta: LayerMeta) -> tuple[str, ...]:
    """The fields a tile carries unless the request names its own `properties`: the names, and
    every field that is not free text (numbers, dates, yes/no, coded values), which a map
    styles, filters and labels by. Long texts (descriptions, addresses) stay in `/items`."""
    return tuple(
        spec.name
        for spec in meta.fields
        if spec.name != ID_FIELD
        and (spec.name in NAME_FIELDS or spec.type != "string" or spec.codes)
    )


@dataclass(frozen=True)
class ServedTile:
    tile: VectorTile
    etag: str | None
    """None when the layer changed while the tile was made (it may be of either version)."""


def tile_cache(max_bytes: int) -> MemoryCache[VectorTile]:
    """Encoded tiles by ETag within `max_bytes`."""
    return MemoryCache(max_bytes, lambda tile: len(tile.data))


class VectorTiles:
    """Tiles of the store's layers, at most `limit` features each, through the cache."""

    def __init__(self, store: Store, limit: int, cache_bytes: int) -> None:
        self.store = store
        self.limit = limit
        self.cache = tile_cache(cache_bytes)

    def etag(self, meta: LayerMeta, request: Hashable, tile: Tile) -> str:
        """The tile's entity tag; `request` is the request's filter parameters as sent."""
        named = repr((meta.id, meta.version, meta.updated, tile, self.limit, request))
        return '"' + hashlib.sha256(named.encode()).hexdigest()[:32] + '"'

    def tile(self, meta: LayerMeta, query: Query, request: Hashable, tile: Tile) -> ServedTile:
        """The tile of `query` over the version `meta` describes."""
        etag = self.etag(meta, request, tile)
        cached = self.cache.get(etag)
        if cached is not None:
            return ServedTile(cached, etag)
        made = self.store.tile(meta.id, query, tile, self.limit)
        version = made.version if made.version is not None else self.store.layer(meta.id).version
        if version != meta.version:
            return ServedTile(made, None)  # published meanwhile: not the version tagged
        self.cache.put(etag, made)
        return ServedTile(made, etag)
