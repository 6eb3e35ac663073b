"""The GeoPackage store: one immutable GeoPackage per layer version, read with SQLite.

    DATA_DIR/<layer_id>/v000001.gpkg     one GeoPackage per version (`gpkg_write.py`)
    DATA_DIR/<layer_id>/current.gpkg     symlink to the served version (`versioned.py`)

Connections are opened read-only and `immutable` and lent out per call from a small pool per
version file, so any number of threads and uvicorn worker processes read side by side. A
publish (or rollback) moves `current.gpkg`; the next request resolves the link, opens the new
file and retires the old one: its idle connections close at once, those still lent out when
their reader has finished, so descriptors do not pile up over versions. Because a version file
never changes, metadata, extents and counts are cached per file without any invalidation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

import geopandas as gpd
import shapely

from .. import strict_json
from ..catalogue import ID_FIELD, LayerMeta
from ..errors import LayerUnavailable, NotFound
from ..i18n import _l
from ..listing import UNREADABLE_ERRORS, Listing, Skipped, unreadable
from ..query import BBox, Query
from .base import Facet, Feature, FeaturePage, GridCell, VersionSummary
from .centres import Centres, grid_cells
from .gpkg_write import METADATA_TABLE, write_version
from .sqlite_functions import query_geometry, register_text_functions
from .sqlite_sql import (
    MATCH_ALL,
    FilterCompiler,
    SqlFragment,
    TableInfo,
    quote_identifier,
)
from .versioned import VersionedFolder

FACET_VALUES = 200
"""Most distinct values one facet lists."""
MMAP_BYTES = 2**31 - 2**16
"""SQLite's largest memory map (its compiled-in maximum is just under 2 GiB)."""
IDLE_CONNECTIONS = 4
"""Idle connections kept per version file; readers beyond them open (and close) their own."""
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def gpkg_to_wkb(blob: bytes | None) -> bytes | None:
    """Strip the GeoPackage binary header, leaving standard WKB."""
    if blob is None:
        return None
    flags = blob[3]
    return blob[8 + _ENVELOPE_BYTES[(flags >> 1) & 0b111] :]


def _envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    if (blob[3] >> 1) & 0b111 == 0:
        return None
    minx, maxx, miny, maxy = struct.unpack("<dddd" if blob[3] & 1 else ">dddd", blob[8:40])
    return minx, miny, maxx, maxy


def sql_intersects(blob: bytes | None, query_wkb: bytes) -> int:
    """`gs_intersects(geom, wkb)`: exact intersection, skipping shapely when the box decides."""
    if blob is None:
        return 0
    geometry, rectangle = query_geometry(query_wkb)
    if rectangle is not None:
        envelope = _envelope(blob)
        if envelope is not None:
            qminx, qminy, qmaxx, qmaxy = rectangle
            minx, miny, maxx, maxy = envelope
            if qminx <= minx and maxx <= qmaxx and qminy <= miny and maxy <= qmaxy:
                return 1
    return int(geometry.intersects(shapely.from_wkb(gpkg_to_wkb(blob))))


def _text_function(function):
    """A text function for SQL: numbers, blobs and NULL pass unchanged (SQLite compares them as
    it would without the function), so no column's value can make it raise."""
    return lambda value: function(value) if isinstance(value, str) else value


def open_readonly(path: Path, mapped: bool = True) -> sqlite3.Connection:
    """A read-only connection with our SQL functions.

    Version files never change, so mapping them is safe and spares a read() per page for the
    random reads of pages and bboxes; long sequential reads (exports) go unmapped.
    """
    connection = sqlite3.connect(
        f"file:{pathname2url(str(path))}?mode=ro&immutable=1", uri=True, check_same_thread=False
    )
    connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES if mapped else 0}")
    connection.create_function("gs_intersects", 2, sql_intersects, deterministic=True)
    register_text_functions(connection)
    return connection


def version_summary(path: Path) -> tuple[LayerMeta, int]:
    """The metadata and feature count of one version file (current or not); `LayerUnavailable`
    if it cannot be read."""
    try:
        connection = open_readonly(path, mapped=False)
    except sqlite3.Error as exc:
        raise unreadable("layer version", path.stem, exc) from None
    try:
        layer = _LayerFile(path, connection)
        return layer.meta, layer.count
    except UNREADABLE_ERRORS as exc:
        raise unreadable("layer version", path.stem, exc) from None
    finally:
        connection.close()


@contextlib.contextmanager
def _damage_reported(layer_id: str) -> Iterator[None]:
    """A page found damaged in the middle of a query (opening checks only the file's header and
    metadata) is `LayerUnavailable`; SQLite's other errors (`OperationalError` and kin, raised
    for the query itself) pass."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if type(exc) is not sqlite3.DatabaseError:
            raise
        raise unreadable("layer", layer_id, exc) from None


class _LayerFile:
    """Everything fixed about one immutable version file, and its pool of connections."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        """Read the file's facts over `connection`, which joins the pool (the caller closes it
        if this raises)."""
        self.path = path
        (raw,) = connection.execute(f"SELECT metadata FROM {METADATA_TABLE}").fetchone()
        self.meta = LayerMeta.model_validate(strict_json.loads(raw))
        (geometry_column,) = connection.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (self.meta.id,)
        ).fetchone()
        self.table = TableInfo(
            self.meta.id, geometry_column, f"rtree_{self.meta.id}_{geometry_column}"
        )
        self.compiler = FilterCompiler(self.meta, self.table)
        self.columns = [f.name for f in self.meta.fields]
        row = connection.execute(
            "SELECT c.min_x, c.min_y, c.max_x, c.max_y, o.feature_count FROM gpkg_contents c "
            "LEFT JOIN gpkg_ogr_contents o USING (table_name) WHERE c.table_name = ?",
            (self.meta.id,),
        ).fetchone()
        self.extent: BBox | None = None if not row[4] or row[0] is None else tuple(row[:4])
        (max_fid, count) = connection.execute(
            f"SELECT max(fid), count(*) FROM {quote_identifier(self.meta.id)}"
        ).fetchone()
        # fids run 1..count: an unfiltered offset becomes a rowid seek instead of a walk
        self.dense_fids = max_fid == count
        self.count: int = count
        self.cache: OrderedDict[tuple, Any] = OrderedDict()
        """Counts and grids by query: the file never changes, so they never go stale."""
        self.cache_lock = threading.Lock()
        self.centres: Centres | None = None
        """Read on the first unfiltered grid request (see centres.py)."""
        self.centres_lock = threading.Lock()
        self._idle = [connection]
        self._retired = False
        self._pool_lock = threading.Lock()

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection of this file's own for one call; back to the pool afterwards, or closed
        if the pool is full or the file has been retired meanwhile."""
        with self._pool_lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            try:
                connection = open_readonly(self.path)
            except sqlite3.OperationalError:
                if self.path.exists():
                    raise
                raise NotFound(
                    _l("no collection {id!r}", id=self.meta.id)
                ) from None  # archived just now
        try:
            yield connection
        finally:
            with self._pool_lock:
                keep = not self._retired and len(self._idle) < IDLE_CONNECTIONS
                if keep:
                    self._idle.append(connection)
            if not keep:
                connection.close()

    def retire(self) -> None:
        """No longer the served version: close idle connections now, lent ones on return."""
        with self._pool_lock:
            self._retired = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class GeoPackageStore:
    """The `Store` over a data directory of GeoPackage layers."""

    CACHE_SIZE = 256
    WARM_CENTRES_FROM = 50_000
    """Layers larger than this have their grid centres read at start-up (1 s per million)."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = VersionedFolder(Path(data_dir), ".gpkg", "layer")
        self._files: dict[str, _LayerFile] = {}
        """By layer id: the version file served when the layer was last opened."""
        self._files_lock = threading.Lock()

    # -- version files and their connections --------------------------------------------------
    @contextlib.contextmanager
    def _open(self, layer_id: str) -> Iterator[tuple[_LayerFile, sqlite3.Connection]]:
        """The served version of a layer and a connection to it, for one call."""
        layer = self._layer_file(layer_id)
        with layer.reading() as connection, _damage_reported(layer_id):
            yield layer, connection

    def _layer_file(self, layer_id: str) -> _LayerFile:
        """The served version's facts; the version it replaces is retired. `NotFound` if the
        layer is not published (or was archived a moment ago), `LayerUnavailable` if its file
        cannot be read."""
        path = self.folder.current(layer_id)
        if path is None:
            self._retire(layer_id)
            raise NotFound(_l("no collection {layer_id!r}", layer_id=layer_id))
        with self._files_lock:
            known = self._files.get(layer_id)
        if known is not None and known.path == path:
            return known
        try:
            fresh = self._read(layer_id, path)
        except (NotFound, LayerUnavailable):
            self._retire(layer_id)  # what it served before is no longer served either
            raise
        with self._files_lock:
            known = self._files.get(layer_id)
            if known is not None and known.path == path:  # another thread read it first
                stale, fresh = fresh, known
            else:
                stale, self._files[layer_id] = known, fresh
        if stale is not None:
            stale.retire()
        return fresh

    def _read(self, layer_id: str, path: Path) -> _LayerFile:
        connection = None
        try:
            connection = open_readonly(path)
            return _LayerFile(path, connection)
        except UNREADABLE_ERRORS as exc:
            if connection is not None:
                connection.close()
            if self.folder.current(layer_id) is None:  # archived while we looked
                raise NotFound(_l("no collection {layer_id!r}", layer_id=layer_id)) from None
            raise unreadable("layer", layer_id, exc) from None

    def _retire(self, layer_id: str) -> None:
        with self._files_lock:
            gone = self._files.pop(layer_id, None)
        if gone is not None:
            gone.retire()

    # -- the Store protocol -------------------------------------------------------------------
    def layers(self) -> Listing:
        found, skipped = [], []
        for layer_id in self.folder.ids():
            try:
                found.append(self._layer_file(layer_id).meta)
            except NotFound:
                continue  # archived between the listing and the opening
            except LayerUnavailable as exc:
                skipped.append(Skipped(layer_id, exc.description))
        listed = {meta.id for meta in found} | {s.id for s in skipped}
        with self._files_lock:
            archived = set(self._files) - listed
        for layer_id in archived:
            self._retire(layer_id)  # its connections go
        return Listing(found, skipped)

    def layer(self, layer_id: str, version: int | None = None) -> LayerMeta:
        if version is None:
            return self._layer_file(layer_id).meta
        if version not in self.folder.numbers(layer_id):
            raise NotFound(
                _l(
                    "layer {layer_id!r} has no version {version}",
                    layer_id=layer_id,
                    version=version,
                )
            )
        return version_summary(self.folder.path(layer_id, version))[0]

    def extent(self, layer_id: str) -> BBox | None:
        return self._layer_file(layer_id).extent

    def query(self, layer_id: str, query: Query) -> FeaturePage:
        with self._open(layer_id) as (layer, connection):
            where = layer.compiler.where(query)
            sql, params, columns = self._select(layer, query, where)
            rows = connection.execute(sql, params).fetchall()
            if query.limit is None or (len(rows) < query.limit and (rows or query.offset == 0)):
                number_matched = query.offset + len(rows)  # the page reached the end: no count
            else:
                number_matched = self._count(layer, connection, where.sql, tuple(where.params))
        return FeaturePage([_feature(row, columns) for row in rows], number_matched)

    def iter_features(
        self, layer_id: str, query: Query, batch_size: int = 2000
    ) -> Iterator[list[Feature]]:
        """Every feature the query selects (its limit and offset too), in batches, from one SELECT
        on a connection of its own, so a long export ties up nothing else."""
        layer = self._layer_file(layer_id)
        sql, params, columns = self._select(layer, query, layer.compiler.where(query))
        connection = open_readonly(layer.path, mapped=False)
        try:
            with _damage_reported(layer_id):
                cursor = connection.execute(sql, params)
                while rows := cursor.fetchmany(batch_size):
                    yield [_feature(row, columns) for row in rows]
        finally:
            connection.close()

    def feature(self, layer_id: str, feature_id: str) -> Feature:
        with self._open(layer_id) as (layer, connection):
            columns = layer.columns
            row = connection.execute(
                f"SELECT {ID_FIELD}, {quote_identifier(layer.table.geometry_column)}"
                + "".join(f", {quote_identifier(c)}" for c in columns)
                + f" FROM {quote_identifier(layer.table.table)} WHERE {ID_FIELD} = ?",
                (feature_id,),
            ).fetchone()
        if row is None:
            raise NotFound(
                _l(
                    "no feature {feature_id!r} in collection {layer_id!r}",
                    feature_id=feature_id,
                    layer_id=layer_id,
                )
            )
        return _feature(row, columns)

    def facets(self, layer_id: str, query: Query, fields: tuple[str, ...]) -> dict[str, Facet]:
        with self._open(layer_id) as (layer, connection):
            return self._facets(layer, connection, query, fields)

    @staticmethod
    def _facets(
        layer: _LayerFile, connection: sqlite3.Connection, query: Query, fields: tuple[str, ...]
    ) -> dict[str, Facet]:
        where = layer.compiler.where(query)
        table = quote_identifier(layer.table.table)
        result = {}
        for name in fields:
            spec = layer.compiler.field_spec(name)
            column = f"t.{quote_identifier(spec.name)}"
            if spec.type in ("integer", "number", "date", "datetime") and not spec.codes:
                low, high, count = connection.execute(
                    f"SELECT min({column}), max({column}), count({column}) FROM {table} AS t WHERE {where.sql}",
                    where.params,
                ).fetchone()
                result[name] = Facet(minimum=low, maximum=high, count=count)
            else:
                rows = connection.execute(
                    f"SELECT {column}, count(*) FROM {table} AS t WHERE {where.sql} AND {column} IS NOT NULL "
                    f"GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT {FACET_VALUES}",
                    where.params,
                ).fetchall()
                result[name] = Facet(
                    values=[(v, n) for v, n in rows], count=sum(n for _, n in rows)
                )
        return result

    def grid(
        self, layer_id: str, query: Query, bbox: BBox, columns: int, rows: int
    ) -> list[GridCell]:
        with self._open(layer_id) as (layer, connection):
            where = layer.compiler.where(dataclasses.replace(query, bbox=None))
            if where.sql == MATCH_ALL:
                return self._centres(layer, connection).grid(bbox, columns, rows)
            key = ("grid", where.sql, tuple(where.params), bbox, columns, rows)
            return self._cached(
                layer, key, lambda: self._grid(layer, connection, where, bbox, columns, rows)
            )

    def warm(self) -> None:
        for meta in self.layers():
            with (
                contextlib.suppress(NotFound, LayerUnavailable),
                self._open(meta.id) as (layer, connection),
            ):
                if layer.count > self.WARM_CENTRES_FROM:
                    self._centres(layer, connection)

    @staticmethod
    def _centres(layer: _LayerFile, connection: sqlite3.Connection) -> Centres:
        with layer.centres_lock:
            if layer.centres is None:
                layer.centres = Centres.from_rtree(connection, layer.table.rtree)
            return layer.centres

    @staticmethod
    def _grid(
        layer: _LayerFile,
        connection: sqlite3.Connection,
        where: SqlFragment,
        bbox: BBox,
        columns: int,
        rows: int,
    ) -> list[GridCell]:
        xmin, ymin, xmax, ymax = bbox
        width, height = (xmax - xmin) / columns, (ymax - ymin) / rows
        join = f" JOIN {quote_identifier(layer.table.table)} AS t ON t.fid = r.id AND {where.sql}"
        # One integer key per cell sorts faster than two; centres are computed once per row.
        sql = (
            "SELECT cell, count(*), avg(cx), avg(cy) FROM ("
            " SELECT min(CAST((cx - ?) / ? AS INTEGER), ?) * ?"
            "  + min(CAST((cy - ?) / ? AS INTEGER), ?) AS cell, cx, cy"
            " FROM (SELECT (r.minx + r.maxx) / 2 AS cx, (r.miny + r.maxy) / 2 AS cy"
            f"  FROM {quote_identifier(layer.table.rtree)} AS r{join}"
            "  WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?)"
            " WHERE cx >= ? AND cx < ? AND cy >= ? AND cy < ?)"
            " GROUP BY cell"
        )
        params = [xmin, width, columns - 1, rows, ymin, height, rows - 1, *where.params]
        params += [xmax, xmin, ymax, ymin, xmin, xmax, ymin, ymax]
        return grid_cells(connection.execute(sql, params), bbox, columns, rows)

    # -- versions ----------------------------------------------------------------------------
    def version_numbers(self, layer_id: str) -> list[int]:
        return self.folder.numbers(layer_id)

    def current_version(self, layer_id: str) -> int | None:
        return self.folder.current_version(layer_id)

    def versions(self, layer_id: str) -> list[VersionSummary[LayerMeta]]:
        return self.folder.summaries(layer_id, lambda version, path: version_summary(path))

    def publish(
        self,
        meta: LayerMeta,
        frame: gpd.GeoDataFrame,
        *,
        new: bool | None = None,
        draft: bool = False,
    ) -> int:
        def write(version: int, path: Path) -> None:
            write_version(path, meta.model_copy(update={"version": version}), frame)

        return self.folder.publish(meta.id, write, new=new, serve=not draft)

    def activate(self, layer_id: str, version: int) -> None:
        self.folder.activate(layer_id, version)

    def archive(self, layer_id: str) -> str:
        return self.folder.archive(layer_id)

    # -- helpers -----------------------------------------------------------------------------
    def _select(self, layer: _LayerFile, query: Query, where) -> tuple[str, list, list[str]]:
        columns = self._selected_columns(layer, query.properties)
        where_sql, params, offset = where.sql, list(where.params), query.offset
        if where_sql == MATCH_ALL and not query.sortby and layer.dense_fids:
            where_sql, params, offset = "t.fid > ?", [offset], 0
        sql = (
            f"SELECT t.{ID_FIELD}, t.{quote_identifier(layer.table.geometry_column)}"
            + "".join(f", t.{quote_identifier(c)}" for c in columns)
            + f" FROM {quote_identifier(layer.table.table)} AS t WHERE {where_sql}"
            + f" ORDER BY {layer.compiler.order_by(query.sortby)} LIMIT ? OFFSET ?"
        )
        limit = -1 if query.limit is None else query.limit
        return sql, [*params, limit, offset], columns

    def _count(
        self, layer: _LayerFile, connection: sqlite3.Connection, where: str, params: tuple
    ) -> int:
        table = quote_identifier(layer.table.table)
        sql = f"SELECT count(*) FROM {table} AS t WHERE {where}"
        return self._cached(
            layer, ("count", where, params), lambda: connection.execute(sql, params).fetchone()[0]
        )

    def _cached(self, layer: _LayerFile, key: tuple, compute: Callable[[], Any]) -> Any:
        with layer.cache_lock:
            if key in layer.cache:
                layer.cache.move_to_end(key)
                return layer.cache[key]
        value = compute()
        with layer.cache_lock:
            layer.cache[key] = value
            while len(layer.cache) > self.CACHE_SIZE:
                layer.cache.popitem(last=False)
        return value

    @staticmethod
    def _selected_columns(layer: _LayerFile, properties: tuple[str, ...] | None) -> list[str]:
        if properties is None:
            return layer.columns
        for name in properties:
            layer.compiler.field_spec(name)
        return [c for c in layer.columns if c in properties]


def _feature(row: tuple, columns: list[str]) -> Feature:
    code, blob, *values = row
    return Feature(str(code), gpkg_to_wkb(blob), dict(zip(columns, values, strict=True)))
