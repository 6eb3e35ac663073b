"""OGC API – Tiles: the tile matrix set, each collection's vector tileset and its Mapbox Vector
Tiles, filtered with the same parameters as its items.

An empty tile is `204 No Content` (OGC API – Tiles allows it; map clients draw nothing), a
tile the tile matrix set does not have is 404, a tile cut at the feature limit says so in
`Geo-Service-Tile-Truncated`. Every tile has an ETag (`vector_tiles.py`) and must be
revalidated (`Cache-Control: no-cache`), so an edit shows on the next view while an unchanged
tile costs a 304.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from ..catalogue import LayerMeta
from ..errors import InvalidParameter, NotFound
from ..i18n import _l, in_language, per_language
from ..query import BBox, Query
from ..settings import Settings
from ..store import Store
from ..tilematrix import (
    MAX_ZOOM,
    MERCATOR_LATITUDE,
    TILE_MATRIX_SET,
    TILE_MATRIX_SET_URI,
    Tile,
    tile_matrix_set,
)
from ..vector_tiles import VectorTiles, tile_properties
from .deps import JsonOnly, LangDep, SettingsDep, StoreDep, TileReadsDep, VectorTilesDep
from .features import if_none_match
from .links import JSON, base_url, link
from .params import FEATURE_PARAMETERS, FeatureParams, FeatureQueryParams
from .strict_input import StrictRoute

router = APIRouter(tags=["Tiles"], route_class=StrictRoute)

MVT = "application/vnd.mapbox-vector-tile"
TILE_CACHE_CONTROL = "public, no-cache"
TRUNCATED_HEADER = "Geo-Service-Tile-Truncated"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
REL_VECTOR_TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
]
NOT_FOR_TILES = ("bbox", "bbox_crs", "crs", "limit", "sortby")
"""Items parameters a tile does not take: the tile is its own box, order and size."""
PROPERTY_TYPES = {"integer": "integer", "number": "number", "boolean": "boolean"}

TileMatrixSetId = Annotated[str, Path(description="only WebMercatorQuad")]


def check_tile_matrix_set(tile_matrix_set_id: str) -> None:
    if tile_matrix_set_id != TILE_MATRIX_SET:
        raise NotFound(
            _l(
                "no tile matrix set {id!r}: only {known}",
                id=tile_matrix_set_id,
                known=TILE_MATRIX_SET,
            )
        )


def tile_matrix_set_link(root: str, rel: str = REL_TILING_SCHEME) -> dict[str, Any]:
    return link(f"{root}/tileMatrixSets/{TILE_MATRIX_SET}", rel, JSON, TILE_MATRIX_SET)


@router.get("/tileMatrixSets", summary="Tile matrix sets / Các lưới ô")
def tile_matrix_sets(request: Request, f: JsonOnly) -> dict[str, Any]:
    root = base_url(request)
    return {
        "tileMatrixSets": [
            {
                "id": TILE_MATRIX_SET,
                "title": tile_matrix_set()["title"],
                "uri": TILE_MATRIX_SET_URI,
                "links": [tile_matrix_set_link(root, "self")],
            }
        ],
        "links": [link(f"{root}/tileMatrixSets", "self", JSON, _l("Tile matrix sets"))],
    }


@router.get("/tileMatrixSets/{tile_matrix_set_id}", summary="One tile matrix set / Một lưới ô")
def one_tile_matrix_set(
    request: Request, tile_matrix_set_id: TileMatrixSetId, f: JsonOnly
) -> dict[str, Any]:
    check_tile_matrix_set(tile_matrix_set_id)
    return {**tile_matrix_set(), "links": [tile_matrix_set_link(base_url(request), "self")]}


def tile_url_template(request: Request, collection_id: str) -> str:
    """The collection's tile URL with {z}/{x}/{y} left to fill, and the request's own query
    (its filter) kept: a filtered tileset's tiles are filtered alike."""
    query = f"?{request.url.query}" if request.url.query else ""
    return (
        f"{base_url(request)}/collections/{collection_id}/tiles/{TILE_MATRIX_SET}"
        f"/{{z}}/{{x}}/{{y}}{query}"
    )


def tileset_links(request: Request, collection_id: str) -> list[dict[str, Any]]:
    root = base_url(request)
    url = f"{root}/collections/{collection_id}/tiles/{TILE_MATRIX_SET}"
    template = link(tile_url_template(request, collection_id), "item", MVT, _l("Vector tiles"))
    return [
        link(url, "self", JSON, _l("Vector tileset")),
        tile_matrix_set_link(root),
        template | {"templated": True},
        link(f"{root}/collections/{collection_id}", "collection", JSON, _l("The collection")),
    ]


@router.get("/collections/{collection_id}/tiles", summary="Vector tilesets / Bộ ô vector")
def tilesets(
    request: Request, collection_id: str, store: StoreDep, lang: LangDep, f: JsonOnly
) -> dict[str, Any]:
    meta = store.layer(collection_id)
    return {
        "tilesets": [
            {
                **in_language(per_language(meta, "title"), "title", lang),
                "dataType": "vector",
                "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                "tileMatrixSetURI": TILE_MATRIX_SET_URI,
                "links": tileset_links(request, collection_id),
            }
        ],
        "links": [
            link(f"{base_url(request)}/collections/{collection_id}/tiles", "self", JSON,
                 _l("Vector tilesets")),
        ],
    }  # fmt: skip


@router.get(
    "/collections/{collection_id}/tiles/{tile_matrix_set_id}",
    summary="A vector tileset's description / Mô tả bộ ô vector",
)
def tileset(
    request: Request,
    collection_id: str,
    tile_matrix_set_id: TileMatrixSetId,
    store: StoreDep,
    f: JsonOnly,
) -> dict[str, Any]:
    """OGC TileSet metadata, with the TileJSON 3.0 members (`tiles`, `bounds`, `minzoom`,
    `maxzoom`, `vector_layers`) beside them, so either kind of client can use it."""
    check_tile_matrix_set(tile_matrix_set_id)
    meta = store.layer(collection_id)
    extent = store.extent(collection_id) or (-180.0, -MERCATOR_LATITUDE, 180.0, MERCATOR_LATITUDE)
    fields = tile_properties(meta)
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "the feature's id (/items/{featureId})"},
            **{
                name: {"type": PROPERTY_TYPES.get(meta.field(name).type, "string")}
                for name in fields
            },
        },
    }
    return {
        "title": meta.title_en,
        "description": meta.description_en,
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": TILE_MATRIX_SET_URI,
        "tileMatrixSetLimits": tile_limits(extent),
        "boundingBox": {
            "lowerLeft": [extent[0], extent[1]],
            "upperRight": [extent[2], extent[3]],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        },
        "layers": [
            {
                "id": meta.id,
                "title": meta.title_en,
                "dataType": "vector",
                "geometryDimension": {"point": 0, "line": 1, "polygon": 2}[meta.geometry_type],
                "propertiesSchema": schema,
            }
        ],
        "links": tileset_links(request, collection_id),
        "tilejson": "3.0.0",
        "tiles": [tile_url_template(request, collection_id)],
        "bounds": list(extent),
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "vector_layers": [
            {"id": meta.id, "fields": {name: s["type"] for name, s in schema["properties"].items()}}
        ],
    }


def tile_limits(extent: BBox) -> list[dict[str, Any]]:
    """The rows and columns of each tile matrix that the layer's extent reaches."""
    west, south, east, north = extent
    south, north = max(south, -MERCATOR_LATITUDE), min(north, MERCATOR_LATITUDE)
    limits = []
    for z in range(MAX_ZOOM + 1):
        count = 2**z

        def column(lon: float, count: int = count) -> int:
            return min(count - 1, max(0, math.floor((lon + 180) / 360 * count)))

        def row(lat: float, count: int = count) -> int:
            mercator = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
            return min(count - 1, max(0, math.floor((1 - mercator / math.pi) / 2 * count)))

        limits.append(
            {
                "tileMatrix": str(z),
                "minTileRow": row(north),
                "maxTileRow": row(south),
                "minTileCol": column(west),
                "maxTileCol": column(east),
            }
        )
    return limits


@router.get(
    "/collections/{collection_id}/tiles/{tile_matrix_set_id}/{z}/{x}/{y}",
    summary="A vector tile / Một ô vector",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}, "description": "a Mapbox Vector Tile, with its ETag"},
        204: {"description": "no feature reaches the tile"},
        304: {"description": "unchanged since the ETag sent in If-None-Match"},
    },
    openapi_extra=FEATURE_PARAMETERS,
)
async def vector_tile(
    request: Request,
    collection_id: str,
    tile_matrix_set_id: TileMatrixSetId,
    z: Annotated[int, Path(description="tile matrix (zoom)")],
    x: Annotated[int, Path(description="column, from the west")],
    y: Annotated[int, Path(description="row, from the north")],
    params: FeatureParams,
    store: StoreDep,
    settings: SettingsDep,
    tiles: VectorTilesDep,
    reads: TileReadsDep,
) -> Response:
    check_tile_matrix_set(tile_matrix_set_id)
    tile = Tile.checked(z, x, y)
    return await reads.run(
        tile_response, request, collection_id, tile, params, store, settings, tiles
    )


def tile_response(
    request: Request,
    collection_id: str,
    tile: Tile,
    params: FeatureQueryParams,
    store: Store,
    settings: Settings,
    tiles: VectorTiles,
) -> Response:
    """The tile, a 204 where no feature reaches it, or a 304 where the client holds it."""
    meta = store.layer(collection_id)
    query = tile_query_of(params, meta, settings)
    request_key = tuple(request.query_params.multi_items())
    etag = tiles.etag(meta, request_key, tile)
    headers = {"Cache-Control": TILE_CACHE_CONTROL, "ETag": etag}
    if if_none_match(request, etag):
        return Response(status_code=304, headers=headers)
    served = tiles.tile(meta, query, request_key, tile)
    if served.etag is None:
        headers = {"Cache-Control": "no-store"}
    if served.tile.truncated:
        headers[TRUNCATED_HEADER] = str(tiles.limit)
    if not served.tile.data:
        return Response(status_code=204, headers=headers)
    return Response(served.tile.data, media_type=MVT, headers=headers)


def tile_query_of(params: FeatureQueryParams, meta: LayerMeta, settings: Settings) -> Query:
    """The items query of a tile request: its filters, and the properties it carries (those
    named in `properties`, else `tile_properties`)."""
    given = [name for name in NOT_FOR_TILES if getattr(params, name) is not None]
    if params.offset:
        given.append("offset")
    if given:
        names = ", ".join(name.replace("_", "-") for name in given)
        raise InvalidParameter(
            _l("a tile takes no {names}: the tile is its own box, order and size", names=names)
        )
    query = params.to_query(meta, settings)
    if params.properties is None:
        query = dataclasses.replace(query, properties=tile_properties(meta))
    return query
