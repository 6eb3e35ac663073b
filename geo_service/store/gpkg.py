"""The GeoPackage store: a GeoPackage per uploaded layer version, later versions of the same
layer made by change sets stamped into its rows, all read with SQLite.

    DATA_DIR/<layer_id>/v000001.gpkg     a GeoPackage per upload (`gpkg_write.py`)
    DATA_DIR/<layer_id>/v000002.gpkg     a change set over version 1: a symlink to the file that
                                         holds it (`row_versions.py`, `gpkg_edits.py`)
    DATA_DIR/<layer_id>/current.gpkg     symlink to the served version's name (`versioned.py`)

A file can be amended by a change set at any time, so no file is opened `immutable`: readers
open it read-only in WAL mode, and a change set is written while they read (measured: no
slower than `immutable` was, see benchmarks/README.md). What a version holds never changes
once it exists (`row_versions.py`), so metadata, extents and counts are cached per (file,
version) without any invalidation. Connections are lent out per call from a small pool per
(file, version); when another version is served, the next request opens it and retires the
old one: its idle connections close at once, those still lent out when their reader has
finished, so descriptors do not pile up over versions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

import geopandas as gpd
import numpy as np

from ..catalogue import ID_FIELD, LayerMeta
from ..errors import LayerUnavailable, NotFound, no_collection, no_feature, no_version
from ..i18n import N_
from ..listing import UNREADABLE_ERRORS, Listing, Skipped, unreadable
from ..query import BBox, Query
from ..sqlite_functions import register_text_functions, wkb_intersects
from ..tilematrix import Tile
from . import etags, gpkg_history
from .base import (
    BlockingReads,
    Facet,
    Feature,
    FeaturePage,
    GridCell,
    KeptPage,
    VectorTile,
    VersionSummary,
)
from .centres import Centres, grid_cells
from .changes import FeatureChange, FeatureDiff, FeatureRevision
from .gpkg_blobs import gpkg_to_wkb
from .gpkg_edits import write_changes, write_kept_rows
from .gpkg_rows import WRITTEN_TABLE, feature_columns, keeps_written, row_feature
from .gpkg_write import geometry_column, stored_meta, write_version
from .mvt import encode_features, tile_query
from .request_reads import forget, once
from .row_versions import TO, VersionRecord, meta_of, read_records, visible, visible_ids
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
WRITTEN_JOIN = f" LEFT JOIN {WRITTEN_TABLE} AS w ON w.fid = t.fid"
"""Each row's GeoJSON beside it (a LEFT JOIN: the scan of `t` stays what it is without it)."""
KEPT_RECHECK_SECONDS = 5.0
"""How often a file without its rows' GeoJSON is asked again whether it has it now (given by
`geo-service layers --keep-geojson` while the service runs)."""
IDLE_CONNECTIONS = 4
"""Idle connections kept per version file; readers beyond them open (and close) their own."""


def sql_intersects(blob: bytes | None, query_wkb: bytes) -> int:
    """`gs_intersects(geom, wkb)`: exact intersection of a GeoPackage geometry. The features a
    rectangle holds whole never come here: the compiled SQL decides them (`sqlite_sql`)."""
    return wkb_intersects(gpkg_to_wkb(blob), query_wkb)


def _text_function(function):
    """A text function for SQL: numbers, blobs and NULL pass unchanged (SQLite compares them as
    it would without the function), so no column's value can make it raise."""
    return lambda value: function(value) if isinstance(value, str) else value


def open_readonly(path: Path, mapped: bool = True) -> sqlite3.Connection:
    """A read-only connection with our SQL functions.

    Mapping the file spares a read() per page for the random reads of pages and bboxes (SQLite
    keeps a mapping right as a change set is written); long sequential reads (exports) go
    unmapped.
    """
    connection = sqlite3.connect(
        f"file:{pathname2url(str(path))}?mode=ro", uri=True, check_same_thread=False
    )
    connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES if mapped else 0}")
    connection.create_function("gs_intersects", 2, sql_intersects, deterministic=True)
    register_text_functions(connection)
    return connection


def version_summary(path: Path, version: int) -> tuple[LayerMeta, VersionRecord]:
    """The metadata and record of one version (served or not) in the file `path`;
    `LayerUnavailable` if it cannot be read."""
    try:
        connection = open_readonly(path, mapped=False)
    except sqlite3.Error as exc:
        raise unreadable(N_("layer version"), f"v{version:06d}", exc) from None
    try:
        layer = _LayerFile(path, version, connection)
        return layer.meta, layer.record
    except UNREADABLE_ERRORS as exc:
        raise unreadable(N_("layer version"), f"v{version:06d}", exc) from None
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
        raise unreadable(N_("layer"), layer_id, exc) from None


class _LayerFile:
    """Everything fixed about one version of a layer in one file, and its pool of connections."""

    def __init__(self, path: Path, version: int, connection: sqlite3.Connection) -> None:
        """Read the version's facts over `connection`, which joins the pool (the caller closes
        it if this raises)."""
        self.path = path
        self.version = version
        stored = stored_meta(connection)
        self.records = read_records(connection, path, stored)
        if version not in self.records:
            raise KeyError(f"the file {path.name} does not hold version {version}")
        self.record = self.records[version]
        self.meta = meta_of(stored, self.record)
        column = geometry_column(connection, stored.id)
        self.table = TableInfo(stored.id, column, f"rtree_{stored.id}_{column}")
        self.compiler = FilterCompiler(self.meta, self.table)
        self.columns = [f.name for f in self.meta.fields]
        self._keeps_written = keeps_written(connection)
        self._written_asked = time.monotonic()
        self.visible = visible("t", version, self.records)
        """The rows this version holds, as a condition on the table's alias `t`."""
        self.extent: BBox | None = self.record.extent
        if not self.record.extent_known:
            self.extent = self._extent(connection)
        # fids run 1..count: an unfiltered offset becomes a rowid seek instead of a walk
        self.dense_fids = self.record.max_fid == self.record.features
        self.count: int = self.record.features
        self.cache: OrderedDict[tuple, Any] = OrderedDict()
        """Counts and grids by query: a version never changes, so they never go stale."""
        self.cache_lock = threading.Lock()
        self.centres: Centres | None = None
        """Read on the first unfiltered grid request (see centres.py)."""
        self.earlier_centres: tuple[int, Centres] | None = None
        """An earlier version of the same file and its centres, to derive these from."""
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
                raise no_collection(self.meta.id) from None  # archived just now
        try:
            yield connection
        finally:
            with self._pool_lock:
                keep = not self._retired and len(self._idle) < IDLE_CONNECTIONS
                if keep:
                    self._idle.append(connection)
            if not keep:
                connection.close()

    def keeps_written(self, connection: sqlite3.Connection) -> bool:
        """Whether the file keeps its rows written in GeoJSON (`gpkg_rows.py`). Once it does,
        it always will; until then it is asked again every `KEPT_RECHECK_SECONDS`."""
        if self._keeps_written:
            return True
        now = time.monotonic()
        if now - self._written_asked >= KEPT_RECHECK_SECONDS:
            self._written_asked = now
            self._keeps_written = keeps_written(connection)
        return self._keeps_written

    def where(self, conditions: SqlFragment) -> SqlFragment:
        """A query's conditions (`FilterCompiler.where`) restricted to the rows of this version."""
        if conditions.sql == MATCH_ALL:
            return SqlFragment(self.visible)
        return SqlFragment(f"{self.visible} AND {conditions.sql}", list(conditions.params))

    def rtree_ids(self) -> str:
        """The condition on an R-tree's `id` for the boxes of this version's rows."""
        return visible_ids("id", self.table.table, self.version, self.records)

    def centres_after(
        self, connection: sqlite3.Connection, earlier: int, centres: Centres
    ) -> Centres:
        """This version's centres from those of an `earlier` version of the file: less the rows
        closed since, with the rows added since that this version holds."""
        old_max = self.records[earlier].max_fid
        table = quote_identifier(self.table.table)
        removed = np.array(
            connection.execute(
                f"SELECT fid FROM {table} WHERE {TO} IS NOT NULL AND {TO} > ? AND {TO} <= ? "
                "AND fid <= ?",
                (earlier, self.version, old_max),
            ).fetchall(),
            dtype=np.int64,
        ).reshape(-1)
        ids = f"id > {int(old_max)} AND {self.rtree_ids()}"
        return centres.changed(removed, Centres.from_rtree(connection, self.table.rtree, ids))

    def _extent(self, connection: sqlite3.Connection) -> BBox | None:
        """The version's extent from its R-tree boxes, where its record does not know it."""
        row = connection.execute(
            f"SELECT min(minx), min(miny), max(maxx), max(maxy) "
            f"FROM {quote_identifier(self.table.rtree)} WHERE {self.rtree_ids()}"
        ).fetchone()
        return None if row[0] is None else tuple(row)

    def retire(self) -> None:
        """No longer the served version: close idle connections now, lent ones on return."""
        with self._pool_lock:
            self._retired = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class GeoPackageStore(BlockingReads):
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
    def _open(
        self, layer_id: str, version: int | None = None
    ) -> Iterator[tuple[_LayerFile, sqlite3.Connection]]:
        """The served version of a layer (or another stored `version` of it, opened for this
        call alone) and a connection to it, for one call."""
        if version is None or version == self.folder.current_version(layer_id):
            layer = self._layer_file(layer_id)
            with layer.reading() as connection, _damage_reported(layer_id):
                yield layer, connection
            return
        self._check_version(layer_id, version)
        layer = self._read(layer_id, self.folder.file(layer_id, version), version)
        try:
            with layer.reading() as connection, _damage_reported(layer_id):
                yield layer, connection
        finally:
            layer.retire()

    def _layer_file(self, layer_id: str) -> _LayerFile:
        """The served version's facts; the version it replaces is retired. `NotFound` if the
        layer is not published (or was archived a moment ago), `LayerUnavailable` if its file
        cannot be read. Which version is served is asked once a request (`request_reads`)."""
        served = once((id(self), layer_id), lambda: self.folder.served(layer_id))
        if served is None:
            self._retire(layer_id)
            raise no_collection(layer_id)
        version, path = served
        with self._files_lock:
            known = self._files.get(layer_id)
        if known is not None and (known.path, known.version) == (path, version):
            return known
        try:
            fresh = self._read(layer_id, path, version)
        except (NotFound, LayerUnavailable):
            self._retire(layer_id)  # what it served before is no longer served either
            raise
        with self._files_lock:
            known = self._files.get(layer_id)
            if known is not None and (known.path, known.version) == (path, version):
                stale, fresh = fresh, known  # another thread read it first
            else:
                stale, self._files[layer_id] = known, fresh
                if (
                    stale is not None
                    and stale.centres is not None
                    and stale.path == path
                    and stale.version < version
                ):  # a change set over the version served: its grid follows from that one's
                    fresh.earlier_centres = (stale.version, stale.centres)
        if stale is not None:
            stale.retire()
        return fresh

    def _read(self, layer_id: str, path: Path, version: int) -> _LayerFile:
        connection = None
        try:
            connection = open_readonly(path)
            return _LayerFile(path, version, connection)
        except UNREADABLE_ERRORS as exc:
            if connection is not None:
                connection.close()
            if self.folder.current(layer_id) is None:  # archived while we looked
                raise no_collection(layer_id) from None
            raise unreadable(N_("layer"), layer_id, exc) from None

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
        self._check_version(layer_id, version)
        return version_summary(self.folder.file(layer_id, version), version)[0]

    def extent(self, layer_id: str) -> BBox | None:
        return self._layer_file(layer_id).extent

    def query(self, layer_id: str, query: Query) -> FeaturePage:
        with self._open(layer_id) as (layer, connection):
            conditions = layer.compiler.where(query)
            sql, params, columns = self._select(layer, query, conditions)
            rows = connection.execute(sql, params).fetchall()
            number_matched = self._matched(layer, connection, query, conditions, len(rows))
        return FeaturePage([row_feature(row, columns) for row in rows], number_matched)

    def geojson_page(self, layer_id: str, query: Query) -> KeptPage | None:
        if query.properties is not None:
            return None
        with self._open(layer_id) as (layer, connection):
            if not layer.keeps_written(connection):
                return None
            conditions = layer.compiler.where(query)
            sql, params = self._statement(layer, query, conditions, "w.feature", WRITTEN_JOIN)
            members = [feature for (feature,) in connection.execute(sql, params).fetchall()]
            if None in members:  # a row without its text (not as written): write the page
                return None
            number_matched = self._matched(layer, connection, query, conditions, len(members))
        return KeptPage(members, number_matched)

    def keep_geojson(self, layer_id: str) -> int:
        """Into the served version's file, which other versions may share. This store reads it
        from its next request, others (a running service) within `KEPT_RECHECK_SECONDS`."""
        layer = self._layer_file(layer_id)
        with self._readable(layer_id):
            written = write_kept_rows(layer.path)
        if written:
            self._retire(layer_id)
        return written

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
                    yield [row_feature(row, columns) for row in rows]
        finally:
            connection.close()

    def feature(self, layer_id: str, feature_id: str, version: int | None = None) -> Feature:
        with self._open(layer_id, version) as (layer, connection):
            columns = layer.columns
            row = connection.execute(
                f"SELECT {feature_columns(layer.table.geometry_column, columns)}"
                f" FROM {quote_identifier(layer.table.table)} AS t"
                f" WHERE t.{ID_FIELD} = ? AND {layer.visible}",
                (feature_id,),
            ).fetchone()
        if row is None:
            raise no_feature(feature_id, layer_id)
        return row_feature(row, columns)

    def facets(self, layer_id: str, query: Query, fields: tuple[str, ...]) -> dict[str, Facet]:
        with self._open(layer_id) as (layer, connection):
            return self._facets(layer, connection, query, fields)

    @staticmethod
    def _facets(
        layer: _LayerFile, connection: sqlite3.Connection, query: Query, fields: tuple[str, ...]
    ) -> dict[str, Facet]:
        where = layer.where(layer.compiler.where(query))
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
            conditions = layer.compiler.where(dataclasses.replace(query, bbox=None))
            if conditions.sql == MATCH_ALL:
                return self._centres(layer, connection).grid(bbox, columns, rows)
            where = layer.where(conditions)
            key = ("grid", where.sql, tuple(where.params), bbox, columns, rows)
            return self._cached(
                layer, key, lambda: self._grid(layer, connection, where, bbox, columns, rows)
            )

    def tile(self, layer_id: str, query: Query, tile: Tile, limit: int) -> VectorTile:
        """Features read through the R-tree (in feature order), encoded here."""
        tiled = tile_query(query, tile, limit)
        with self._open(layer_id) as (layer, connection):
            sql, params, columns = self._select(layer, tiled, layer.compiler.where(tiled))
            rows = connection.execute(sql, params).fetchall()
        made = encode_features([row_feature(row, columns) for row in rows], tile, layer_id, limit)
        return dataclasses.replace(made, version=layer.version)

    def dispose(self) -> None:
        """Nothing to do: the idle read-only connections of the version files hold no lock and
        nothing unwritten, and close with the files when they are collected."""

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
            if layer.centres is None and layer.earlier_centres is not None:
                layer.centres = layer.centres_after(connection, *layer.earlier_centres)
            if layer.centres is None:
                layer.centres = Centres.from_rtree(connection, layer.table.rtree, layer.rtree_ids())
            layer.earlier_centres = None
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
        def read(version: int, name: Path) -> dict[str, Any]:
            meta, record = version_summary(self.folder.file(layer_id, version), version)
            return {
                "meta": meta,
                "features": record.features,
                "written": record.at,
                "actor": record.actor,
                "kind": record.kind,
            }

        return self.folder.summaries(layer_id, read)

    def publish(
        self,
        meta: LayerMeta,
        frame: gpd.GeoDataFrame,
        *,
        new: bool | None = None,
        draft: bool = False,
        actor: str | None = None,
    ) -> int:
        def write(version: int, path: Path) -> None:
            write_version(path, meta.model_copy(update={"version": version}), frame, actor)

        with self._changing(meta.id):
            return self.folder.publish(meta.id, write, new=new, serve=not draft)

    def activate(self, layer_id: str, version: int) -> None:
        with self._changing(layer_id):
            self.folder.activate(layer_id, version)

    def archive(self, layer_id: str) -> str:
        with self._changing(layer_id):
            return self.folder.archive(layer_id)

    # -- per-feature changes and their history ------------------------------------------------
    def apply_changes(
        self,
        layer_id: str,
        changes: Sequence[FeatureChange],
        *,
        base_version: int,
        draft: bool = False,
        actor: str,
    ) -> int:
        """The change set is written into the file holding `base_version`, as the next version
        (`gpkg_edits.py`), and named there (`VersionedFolder.amend`): no copy of the layer."""

        def write(version: int, path: Path) -> None:
            write_changes(path, base_version, version, changes, actor)

        with self._changing(layer_id):
            return self.folder.amend(layer_id, base_version, write, serve=not draft)

    def feature_etag(self, layer_id: str, feature_id: str) -> str:
        return etags.feature_etag(self.feature(layer_id, feature_id))

    def feature_history(self, layer_id: str, feature_id: str) -> list[FeatureRevision]:
        numbers = self.folder.numbers(layer_id)
        if not numbers:
            raise no_collection(layer_id)
        versions = [(number, self.folder.file(layer_id, number)) for number in numbers]
        with self._readable(layer_id):
            revisions = gpkg_history.feature_history(versions, feature_id, open_readonly)
        if not revisions:
            raise no_feature(feature_id, layer_id)
        return revisions

    def diff(self, layer_id: str, from_version: int, to_version: int) -> Iterator[FeatureDiff]:
        """Checks both versions exist first (`NotFound`), then yields the differences."""
        for version in (from_version, to_version):
            self._check_version(layer_id, version)
        before = (from_version, self.folder.file(layer_id, from_version))
        after = (to_version, self.folder.file(layer_id, to_version))

        def differences() -> Iterator[FeatureDiff]:
            with self._readable(layer_id):
                yield from gpkg_history.diff(before, after, open_readonly)

        return differences()

    @contextlib.contextmanager
    def _readable(self, layer_id: str) -> Iterator[None]:
        """Around reads of stored versions' files: one that cannot be read is `LayerUnavailable`."""
        try:
            yield
        except UNREADABLE_ERRORS as exc:
            raise unreadable(N_("layer"), layer_id, exc) from None

    # -- helpers -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _changing(self, layer_id: str) -> Iterator[None]:
        """Around a write that may change which version is served: the request forgets the
        version it read, even where the write failed part way."""
        try:
            yield
        finally:
            forget((id(self), layer_id))

    def _check_version(self, layer_id: str, version: int) -> None:
        numbers = self.folder.numbers(layer_id)
        if version not in numbers:
            raise NotFound(no_version("layer", layer_id, version, numbers).description)

    def _select(
        self, layer: _LayerFile, query: Query, conditions: SqlFragment
    ) -> tuple[str, list, list[str]]:
        """The statement of `query`'s page of rows, read into `row_feature`, its parameters,
        and the fields it selects."""
        columns = self._selected_columns(layer, query.properties)
        selected = feature_columns(layer.table.geometry_column, columns)
        return *self._statement(layer, query, conditions, selected), columns

    @staticmethod
    def _statement(
        layer: _LayerFile, query: Query, conditions: SqlFragment, selected: str, join: str = ""
    ) -> tuple[str, list]:
        """The statement of `query`'s page selecting `selected` from the layer's table `t`
        (and what `join` adds to it), and its parameters."""
        where = layer.where(conditions)
        where_sql, params, offset = where.sql, list(where.params), query.offset
        if conditions.sql == MATCH_ALL and not query.sortby and layer.dense_fids:
            where_sql, params, offset = f"t.fid > ? AND {where.sql}", [offset], 0
        sql = (
            f"SELECT {selected} FROM {quote_identifier(layer.table.table)} AS t{join}"
            f" WHERE {where_sql}"
            f" ORDER BY {layer.compiler.order_by(query.sortby)} LIMIT ? OFFSET ?"
        )
        limit = -1 if query.limit is None else query.limit
        return sql, [*params, limit, offset]

    def _matched(
        self,
        layer: _LayerFile,
        connection: sqlite3.Connection,
        query: Query,
        conditions: SqlFragment,
        returned: int,
    ) -> int:
        """How many features match in all, for a page of `returned` of them."""
        if query.limit is None or (returned < query.limit and (returned or query.offset == 0)):
            return query.offset + returned  # the page reached the end: no count
        return self._count(layer, connection, conditions)

    def _count(
        self, layer: _LayerFile, connection: sqlite3.Connection, conditions: SqlFragment
    ) -> int:
        if conditions.sql == MATCH_ALL:
            return layer.count
        where = layer.where(conditions)
        params = tuple(where.params)
        sql = f"SELECT count(*) FROM {quote_identifier(layer.table.table)} AS t WHERE {where.sql}"
        return self._cached(
            layer,
            ("count", where.sql, params),
            lambda: connection.execute(sql, params).fetchone()[0],
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
