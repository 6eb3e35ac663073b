"""A change set written into the GeoPackage that holds the newest version of a layer, as the
next version: rows it replaces or deletes are closed (`gs_to`), new rows are added (`gs_from`),
with their R-tree boxes, search text and GeoJSON, and the version's record, in one SQLite
transaction. The cost follows the size of the change, never of the layer; readers, in WAL mode,
go on reading their own version meanwhile (`row_versions.py` says which rows each version
holds).

Rows are written as the GeoPackage stores them (`gpkg_blobs.py`), and the R-tree is kept by the
triggers GDAL wrote, which call the `ST_*` functions registered here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..catalogue import ID_FIELD, LayerMeta
from ..clock import utc_now
from ..errors import (
    Conflict,
    InvalidParameter,
    changed_twice,
    feature_exists,
    no_feature,
    stale_feature,
)
from ..i18n import _l
from .base import Feature
from .changes import FeatureChange
from .etags import feature_etag
from .gpkg_blobs import bounds, gpkg_to_wkb, wkb_to_gpkg
from .gpkg_rows import WRITTEN_TABLE, forget_rows, keeps_written, write_rows
from .gpkg_write import SEARCH_COLUMNS, geometry_column, search_text, stored_meta
from .row_versions import (
    FROM,
    TO,
    VERSIONS_TABLE,
    VersionRecord,
    insert_record,
    is_editable,
    make_editable,
    read_records,
    visible,
)
from .sqlite_sql import quote_identifier, sql_value

BUSY_TIMEOUT_MS = 30_000
"""How long a change set waits for SQLite's write lock (a reader never holds it in WAL mode;
only turning a file written before WAL mode into WAL waits for readers to finish)."""


def _bound(index: int):
    """`ST_MinX` (0), `ST_MinY` (1), `ST_MaxX` (2) or `ST_MaxY` (3) of a blob."""

    def bound(blob: bytes | None) -> float | None:
        box = None if blob is None else bounds(blob)
        return None if box is None else box[index]

    return bound


def open_for_writing(path: Path) -> sqlite3.Connection:
    """A connection that writes change sets: WAL, synchronous, autocommit (transactions are
    explicit), and the functions the GeoPackage's R-tree triggers call."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode.lower() != "wal":
        connection.close()
        raise Conflict(
            _l(
                "the layer's file is being read by a long export and cannot take changes yet; "
                "try again"
            )
        )
    connection.execute("PRAGMA synchronous = FULL")
    connection.create_function(
        "ST_IsEmpty", 1, lambda blob: int(blob is None or bounds(blob) is None), deterministic=True
    )
    for index, name in enumerate(("ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY")):
        connection.create_function(name, 1, _bound(index), deterministic=True)
    return connection


class _ChangeSet:
    """One change set being written, inside its transaction."""

    def __init__(self, db: sqlite3.Connection, meta: LayerMeta, base: int, version: int) -> None:
        self.db = db
        self.meta = meta
        self.base = base
        self.version = version
        self.table = quote_identifier(meta.id)
        (self.geometry_column, self.srs_id) = db.execute(
            "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?",
            (meta.id,),
        ).fetchone()
        self.columns = meta.field_names
        self.records: dict[int, VersionRecord] = {}
        self.created = self.closed = 0
        self.new_boxes: list[tuple[float, float, float, float]] = []
        self.shrinks = False
        """Whether a closed row touched the base version's extent (which may then shrink)."""

    def discard_unnamed(self, path: Path) -> None:
        """Forget what an earlier attempt left after the base version without naming it (a
        crash between its commit and its name): no reader can see it, and it is in the way."""
        records = read_records(self.db, path, self.meta)
        max_fid = records[self.base].max_fid
        search = quote_identifier(self.meta.id + "_search")
        self.db.execute(f"DELETE FROM {search} WHERE rowid > ?", (max_fid,))
        forget_rows(self.db, max_fid)
        self.db.execute(f"DELETE FROM {self.table} WHERE fid > ?", (max_fid,))
        self.db.execute(
            f"UPDATE {self.table} SET {TO} = NULL WHERE {TO} IS NOT NULL AND {TO} > ?",
            (self.base,),
        )
        self.db.execute(f"DELETE FROM {VERSIONS_TABLE} WHERE version > ?", (self.base,))
        self.records = {n: r for n, r in records.items() if n <= self.base}

    def current(self, feature_id: str) -> tuple[int, bytes | None, dict[str, Any]] | None:
        """The row holding the feature in the base version: fid, blob, properties."""
        row = self.db.execute(
            f"SELECT t.fid, t.{quote_identifier(self.geometry_column)}"
            + "".join(f", t.{quote_identifier(c)}" for c in self.columns)
            + f" FROM {self.table} AS t WHERE t.{ID_FIELD} = ? AND "
            + visible("t", self.base, self.records),
            (feature_id,),
        ).fetchone()
        if row is None:
            return None
        fid, blob, *values = row
        return fid, blob, dict(zip(self.columns, values, strict=True))

    def apply(self, change: FeatureChange) -> None:
        found = self.current(change.feature_id)
        if change.op == "create":
            if found is not None:
                raise feature_exists(change.feature_id)
            self.insert(change.feature_id, change.properties or {}, change.geometry)
            return
        if found is None:
            raise no_feature(change.feature_id, self.meta.id)
        fid, blob, properties = found
        wkb = gpkg_to_wkb(blob)
        if change.if_match is not None:
            etag = feature_etag(Feature(change.feature_id, wkb, properties))
            if change.if_match != etag:
                raise stale_feature(change.feature_id, etag, change.if_match)
        self.close(fid, blob)
        if change.op == "delete":
            return
        if change.op == "update":
            merged = properties | (change.properties or {})
            self.insert(change.feature_id, merged, change.geometry or wkb)
        else:
            self.insert(change.feature_id, change.properties or {}, change.geometry)

    def close(self, fid: int, blob: bytes | None) -> None:
        self.db.execute(f"UPDATE {self.table} SET {TO} = ? WHERE fid = ?", (self.version, fid))
        self.closed += 1
        extent = self.records[self.base].extent
        box = None if blob is None else bounds(blob)
        if extent is not None and box is not None:
            minx, miny, maxx, maxy = box
            emin_x, emin_y, emax_x, emax_y = extent
            if minx <= emin_x or miny <= emin_y or maxx >= emax_x or maxy >= emax_y:
                self.shrinks = True

    def insert(self, feature_id: str, properties: dict[str, Any], wkb: bytes | None) -> None:
        unknown = set(properties) - set(self.columns)
        if unknown:
            raise InvalidParameter(
                _l(
                    "layer {layer!r} has no fields {fields}",
                    layer=self.meta.id,
                    fields=sorted(unknown),
                )
            )
        values = {name: sql_value(properties.get(name)) for name in self.columns}
        values[ID_FIELD] = feature_id
        blob = None if wkb is None else wkb_to_gpkg(wkb, self.srs_id)
        names = [self.geometry_column, *self.columns, FROM]
        cursor = self.db.execute(
            f"INSERT INTO {self.table} ({', '.join(map(quote_identifier, names))}) "
            f"VALUES ({', '.join('?' for _ in names)})",
            (blob, *(values[c] for c in self.columns), self.version),
        )
        text = search_text(values.get(c) for c in SEARCH_COLUMNS)
        self.db.execute(
            f"INSERT INTO {quote_identifier(self.meta.id + '_search')} (rowid, text) VALUES (?, ?)",
            (cursor.lastrowid, text),
        )
        self.created += 1
        box = None if blob is None else bounds(blob)
        if box is not None:
            self.new_boxes.append(box)

    def write_rows(self) -> None:
        """The added rows in GeoJSON, where the file keeps its rows so (`gpkg_rows.py`)."""
        if keeps_written(self.db):
            write_rows(self.db, self.meta, self.geometry_column, self.records[self.base].max_fid)

    def record(self, actor: str) -> VersionRecord:
        base = self.records[self.base]
        (max_fid,) = self.db.execute(f"SELECT max(fid) FROM {self.table}").fetchone()
        features = base.features - self.closed + self.created
        boxes = [*self.new_boxes] + ([base.extent] if base.extent is not None else [])
        known = base.extent_known and not self.shrinks
        extent = None
        if known and features and boxes:
            extent = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
        return VersionRecord(
            self.version,
            "changes",
            actor,
            utc_now(),
            features,
            max(max_fid or 0, base.max_fid),
            extent,
            known or not features,
        )


def write_changes(
    path: Path, base: int, version: int, changes: Sequence[FeatureChange], actor: str
) -> None:
    """Make the file at `path`, which holds version `base` as its newest, hold `version` too:
    `base` with `changes` applied, all or nothing. `NotFound` for a feature to change that is
    not there, `Conflict` for one to create that is, `PreconditionFailed` for a stale
    `if_match`, `InvalidParameter` for a feature named twice or a field the layer lacks."""
    seen: set[str] = set()
    for change in changes:
        if change.feature_id in seen:
            raise changed_twice(change.feature_id)
        seen.add(change.feature_id)
    with contextlib.closing(open_for_writing(path)) as db:
        meta = stored_meta(db)
        if not is_editable(db):
            make_editable(db, path, meta)
        db.execute("BEGIN IMMEDIATE")
        try:
            change_set = _ChangeSet(db, meta, base, version)
            change_set.discard_unnamed(path)
            for change in changes:
                change_set.apply(change)
            change_set.write_rows()
            insert_record(db, change_set.record(actor))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        checkpoint(db)


def write_kept_rows(path: Path) -> int:
    """Give the file at `path` the GeoJSON of every row if it has none (`gpkg_rows.py`), in one
    transaction beside its readers; returns how many rows were written (0: it had it)."""
    with contextlib.closing(open_for_writing(path)) as db:
        meta = stored_meta(db)
        column = geometry_column(db, meta.id)
        db.execute("BEGIN IMMEDIATE")  # a change set waits, and then writes its rows' text too
        try:
            written = 0
            if not keeps_written(db):
                write_rows(db, meta, column)
                (written,) = db.execute(f"SELECT count(*) FROM {WRITTEN_TABLE}").fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        checkpoint(db)
    return written


def checkpoint(db: sqlite3.Connection) -> None:
    """Copy the WAL into the file and empty it, as far as readers still reading an older
    version allow, without waiting for them: a large WAL costs every process that opens the file
    next a pass over it."""
    db.execute("PRAGMA busy_timeout = 0")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
