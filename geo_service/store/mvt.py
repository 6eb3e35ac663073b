"""Mapbox Vector Tiles of a layer: what a store answers for one tile, and the encoding of
features read through a store's own index (GeoPackage R-tree, any SQL table) into one.

Both stores cut a tile alike: coordinates on a 4096 × 4096 grid over the tile (y down from the
north), geometries clipped to the tile widened by 64 units each side (so lines and outlines
run on across tile edges), snapped to the grid, what collapses to nothing left out. PostGIS does
it with `ST_AsMVTGeom`; features read by other stores go through `encode_features`, which does
the same with shapely and `mapbox-vector-tile`.

A tile holds at most `limit` features (`GEO_SERVICE_TILE_MAX_FEATURES`): a store reads one
more than that, in the order its index gives them, so it knows whether the tile was cut short
without counting the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import mapbox_vector_tile
import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import Float, Integer, Select, bindparam, func, literal_column, select

from ..query import Query
from ..tilematrix import Tile
from .base import Feature, VectorTile
from .sql_query import PostGISColumn, QueryCompiler, SqlLayer

EXTENT = 4096
"""Grid units across a tile."""
BUFFER = 64
"""Grid units a tile's geometries reach beyond each of its edges."""
ID_PROPERTY = "id"
"""The property holding a feature's stable id (what `/items/{featureId}` takes)."""
WEB_MERCATOR_SRID = 3857
MVT_GEOMETRY = "geom"
"""The column of a PostGIS tile's rows holding their geometry."""
_TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def tile_query(query: Query, tile: Tile, limit: int) -> Query:
    """The features a tile may hold: those of `query` whose geometry reaches the widened tile,
    one more than `limit`, unsorted (the index's order)."""
    return replace(
        query, bbox=tile.wgs84_bounds(BUFFER / EXTENT), limit=limit + 1, offset=0, sortby=()
    )


def encode_features(
    features: Sequence[Feature], tile: Tile, layer_name: str, limit: int
) -> VectorTile:
    """The tile of (at most `limit` of) `features`, read with `tile_query`; each carries its
    id and its properties but those without a value (a vector tile has no null)."""
    kept = features[:limit]
    geometries = shapely.from_wkb([f.geometry for f in kept])
    minx, _, _, maxy = tile.bounds()
    scale = EXTENT / tile.size

    def to_grid(coordinates: np.ndarray) -> np.ndarray:
        x, y = _TO_MERCATOR.transform(coordinates[:, 0], coordinates[:, 1])
        return np.column_stack(((np.asarray(x) - minx) * scale, (maxy - np.asarray(y)) * scale))

    gridded = shapely.transform(geometries, to_grid)
    clipped = shapely.clip_by_rect(gridded, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    # exterior rings of positive area on the y-down grid (clockwise on screen), as the MVT
    # specification asks: oriented here in one call rather than by the encoder, which rebuilds
    # every polygon in Python to do it (a fifth of a crowded tile's time)
    snapped = shapely.orient_polygons(_on_grid(clipped), exterior_cw=False)
    encoded = [
        {
            "geometry": geometry,
            "properties": {
                ID_PROPERTY: feature.id,
                **{k: v for k, v in feature.properties.items() if v is not None},
            },
        }
        for feature, geometry in zip(kept, snapped, strict=True)
        if geometry is not None and not geometry.is_empty
    ]
    if not encoded:
        return VectorTile(b"", 0, len(features) > limit)
    data = mapbox_vector_tile.encode(
        [{"name": layer_name, "features": encoded}],
        default_options={"extents": EXTENT, "y_coord_down": True, "check_winding_order": False},
    )
    return VectorTile(data, len(encoded), len(features) > limit)


def _on_grid(geometries: np.ndarray) -> np.ndarray:
    """Coordinates rounded to the grid, as `ST_AsMVTGeom` snaps them. What rounding leaves
    invalid (a ring now crossing itself, a part collapsed to a line) is rebuilt by GEOS's
    precision reducer instead; run on every geometry, that reducer took 40 % of a crowded tile's
    time and dropped parcels of about one grid unit that rounding keeps, as PostGIS does."""
    rounded = shapely.set_precision(geometries, 1.0, mode="pointwise")
    broken = ~shapely.is_valid(rounded)
    rounded[broken] = shapely.set_precision(geometries[broken], 1.0)
    return rounded


def postgis_tile_statement(
    layer: SqlLayer, compiler: QueryCompiler, query: Query, limit: int
) -> Select:
    """One statement answering the tiles of a layer kept in PostGIS (`tile_query`'s `query`,
    its box aside): the tile (NULL when empty), how many features it holds, and how many rows
    reached it (at most `limit`: one scan, no second pass to learn whether more would have;
    reaching the limit counts as cut). The tile and its widened box are bound parameters
    (`tile_parameters`), so one statement serves every tile of a query. The widened tile's
    box narrows through the GiST index; `ST_AsMVTGeom` clips and snaps."""
    assert isinstance(layer.spatial, PostGISColumn)
    z, x, y = (bindparam(name, type_=Integer) for name in _TILE)
    envelope = func.ST_TileEnvelope(z, x, y)
    geometry = func.ST_AsMVTGeom(
        func.ST_Transform(layer.spatial.column, WEB_MERCATOR_SRID), envelope, EXTENT, BUFFER, True
    )
    widened = [bindparam(name, type_=Float) for name in _WIDENED]
    fields = compiler.selected(query.properties)
    reaching = (
        select(
            layer.id.label(ID_PROPERTY),
            *(f.sql.label(f.name) for f in fields),
            geometry.label(MVT_GEOMETRY),
        )
        .select_from(layer.source)
        .where(layer.spatial.overlaps(widened), compiler.where(replace(query, bbox=None)))
        .limit(limit)
        .subquery("t")
    )
    return select(
        func.ST_AsMVT(literal_column(reaching.name), layer.meta.id, EXTENT, MVT_GEOMETRY).filter(
            reaching.c[MVT_GEOMETRY].is_not(None)
        ),
        func.count(reaching.c[MVT_GEOMETRY]),
        func.count(),
    ).select_from(reaching)


_TILE = ("tile_z", "tile_x", "tile_y")
_WIDENED = ("tile_west", "tile_south", "tile_east", "tile_north")


def tile_parameters(tile: Tile) -> dict[str, int | float]:
    """The values of `postgis_tile_statement`'s parameters for one tile."""
    widened = tile.wgs84_bounds(BUFFER / EXTENT)
    return dict(zip(_TILE + _WIDENED, (tile.z, tile.x, tile.y, *widened), strict=True))
