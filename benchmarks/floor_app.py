"""The least an HTTP answer can cost on this stack: a bare ASGI app under uvicorn, with no
framework, no middleware and no thread hop, that runs one statement a request and sends what
it gives. Any service built on uvicorn over the same statements costs at least this much;
`http_floor.py` measures it beside this service, TiPG and the raw SQLite loop.

Its paths are this service's, so one request list serves both:

- `/collections/{id}/items/{code}`: the feature, from PostGIS, built by PostgreSQL as GeoJSON
  text by one prepared statement on the parcels' unique `code` (as TiPG reads it);
- `/collections/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}`: the tile, from PostGIS, by the
  statement both servers run: `ST_AsMVTGeom` of the rows the widened tile's box reaches
  through the GiST index (at most 10,001), `ST_AsMVT` of them, with the tile's properties;
- `/collections/{id}/items`: the GeoPackage store's first-page statement with every row
  fetched, then a body of `FLOOR_PAGE_BYTES` bytes it does not compute, so that sending and
  reading the answer cost what ours do.

Environment: `FLOOR_DATABASE_URL` and `FLOOR_TABLE` (schema.table) for PostGIS,
`FLOOR_GPKG_DIR` and `FLOOR_PAGE_BYTES` for the GeoPackage; either pair may be left out.

    uvicorn floor_app:app --app-dir benchmarks --workers 2 --log-level error
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from make_parcels import parcel_meta
from psycopg import sql
from sqlite_limit import first_page
from tile_cases import properties

CONNECTIONS = 4
"""PostgreSQL connections a worker keeps: its share of 8 requests in flight over 2 workers."""
FEATURE = re.compile(r"/collections/[^/]+/items/([^/]+)")
TILE = re.compile(r"/collections/[^/]+/tiles/WebMercatorQuad/(\d+)/(\d+)/(\d+)")
PAGE = re.compile(r"/collections/[^/]+/items")
GEOJSON = b"application/geo+json"
MVT = b"application/vnd.mapbox-vector-tile"

Answer = tuple[int, bytes, bytes]


def feature_statement(table: sql.Composable) -> sql.Composed:
    fields = parcel_meta().field_names
    members = sql.SQL(", ").join(sql.SQL("{}, {}").format(f, sql.Identifier(f)) for f in fields)
    return sql.SQL(
        "SELECT json_build_object('type', 'Feature', 'id', code, "
        "'geometry', ST_AsGeoJSON(gs_geom)::json, 'properties', json_build_object({}))::text "
        "FROM {} WHERE code = %s"
    ).format(members, table)


def tile_statement(table: sql.Composable) -> sql.Composed:
    kept = sql.SQL(", ").join(sql.Identifier(p) for p in properties())
    return sql.SQL(
        "SELECT ST_AsMVT(t.*, 'parcels', 4096, 'geom') FROM (SELECT code AS id, {}, "
        "ST_AsMVTGeom(ST_Transform(gs_geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), "
        "4096, 64, true) AS geom FROM {} WHERE gs_geom && "
        "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096), 4326) "
        "LIMIT 10001) AS t"
    ).format(kept, table)


class PostGIS:
    """A worker's connections (autocommit, every statement prepared on first use)."""

    def __init__(self, url: str, table: str) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        name = sql.Identifier(*table.split("."))
        self.feature_sql, self.tile_sql = feature_statement(name), tile_statement(name)
        self.idle: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(CONNECTIONS):
            connection = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, prepare_threshold=0
            )
            self.idle.put_nowait(connection)

    async def one(self, statement: sql.Composed, params: Any) -> Any:
        connection = await self.idle.get()
        try:
            row = await (await connection.execute(statement, params)).fetchone()
        finally:
            self.idle.put_nowait(connection)
        return row[0] if row else None

    async def feature(self, code: str) -> Answer:
        text = await self.one(self.feature_sql, (code,))
        return (200, GEOJSON, text.encode()) if text else (404, GEOJSON, b"{}")

    async def tile(self, z: str, x: str, y: str) -> Answer:
        tile = await self.one(self.tile_sql, {"z": int(z), "x": int(x), "y": int(y)})
        return (200, MVT, bytes(tile)) if tile else (204, MVT, b"")


class GeoPackagePage:
    """The first page's statement over a worker's read-only connection, run in the event loop
    (SQLite works in this process: a thread would only add a hop)."""

    def __init__(self, data_dir: Path, body_bytes: int) -> None:
        self.connection, self.sql, self.params = first_page(data_dir)
        self.body = b" " * body_bytes

    async def page(self) -> Answer:
        rows = self.connection.execute(self.sql, self.params).fetchall()
        return (200, GEOJSON, self.body) if len(rows) == 100 else (500, GEOJSON, b"{}")


postgis = None
if os.environ.get("FLOOR_DATABASE_URL"):
    postgis = PostGIS(os.environ["FLOOR_DATABASE_URL"], os.environ["FLOOR_TABLE"])
geopackage = None
if os.environ.get("FLOOR_GPKG_DIR"):
    geopackage = GeoPackagePage(
        Path(os.environ["FLOOR_GPKG_DIR"]), int(os.environ["FLOOR_PAGE_BYTES"])
    )


async def answer(path: str) -> Answer:
    if postgis and (match := FEATURE.fullmatch(path)):
        return await postgis.feature(match[1])
    if postgis and (match := TILE.fullmatch(path)):
        return await postgis.tile(*match.groups())
    if geopackage and PAGE.fullmatch(path):
        return await geopackage.page()
    if path == "/":
        return 200, b"text/plain", b"ok"
    return 404, b"text/plain", b"not found"


async def app(
    scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            if postgis:
                await postgis.open()
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    status, content_type, body = await answer(scope["path"])
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
