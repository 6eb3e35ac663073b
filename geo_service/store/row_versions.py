"""Several versions of a layer in one GeoPackage: rows stamped with the versions they belong to.

Every row carries the version it appeared in and the version that superseded it (`gs_from`,
`gs_to`; NULL while it is still in the newest version), and a version's record says who made it,
when, how many features it holds and the largest `fid` it may see. Version V holds the rows

    fid <= max_fid(V)  AND  (gs_to IS NULL OR gs_to > V)

`fid`s only grow (the GeoPackage's AUTOINCREMENT), so the first condition is `gs_from <= V` read
off the primary key; the second is left out for the file's first version, whose rows can only
have been superseded later. A change set adds rows and closes others, never touching what an
earlier version holds, so everything known about a version (counts, extent, pages) stays true
for as long as it exists.

A file written by `gpkg_write.write_version` is ready for this from the start: the two columns
cost nothing until a row is changed (`ALTER TABLE … DEFAULT`), the feature ids are unique per
(code, gs_from), and two partial indexes, empty until then, find the rows a change set touched.
A file written before this scheme is made ready by `make_editable` on its first change.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ..catalogue import ID_FIELD, LayerMeta
from ..clock import utc_now
from .sqlite_sql import quote_identifier

VERSIONS_TABLE = "geo_service_versions"
FROM, TO = "gs_from", "gs_to"


@dataclass(frozen=True)
class VersionRecord:
    """What a file knows of one version it holds."""

    version: int
    kind: Literal["upload", "changes"]
    actor: str | None
    at: str
    """When it was made: ISO 8601 UTC."""
    features: int
    max_fid: int
    extent: tuple[float, float, float, float] | None
    """None: empty, or not known yet (`extent_known`)."""
    extent_known: bool = True


def read_records(
    connection: sqlite3.Connection, path: Path, meta: LayerMeta
) -> dict[int, VersionRecord]:
    """Every version the file holds, by number; a file written before version records has one,
    read from the file itself."""
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSIONS_TABLE,)
    ).fetchone()
    if exists:
        rows = connection.execute(
            "SELECT version, kind, actor, at, features, max_fid, min_x, min_y, max_x, max_y "
            f"FROM {VERSIONS_TABLE} ORDER BY version"
        ).fetchall()
        records = {}
        for version, kind, actor, at, features, max_fid, *box in rows:
            known = features == 0 or box[0] is not None
            extent = tuple(box) if box[0] is not None else None
            records[version] = VersionRecord(
                version, kind, actor, at, features, max_fid, extent, known
            )
        return records
    return {meta.version: legacy_record(connection, path, meta)}


def legacy_record(connection: sqlite3.Connection, path: Path, meta: LayerMeta) -> VersionRecord:
    """The one version of a file written before version records: its counts from the file."""
    table = quote_identifier(meta.id)
    max_fid, count = connection.execute(f"SELECT max(fid), count(*) FROM {table}").fetchone()
    row = connection.execute(
        "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?", (meta.id,)
    ).fetchone()
    extent = None if not count or row is None or row[0] is None else tuple(row)
    at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    return VersionRecord(
        meta.version,
        "upload",
        None,
        at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        count,
        max_fid or 0,
        extent,
    )


def visible(alias: str, version: int, records: dict[int, VersionRecord]) -> str:
    """The SQL condition on `alias`'s rows for the rows `version` holds (numbers inlined: they are
    integers, and the planner sees them).

    The `fid` bound is written `+fid` so that it never makes the planner prefer a scan of the
    primary key over an index it chose before.
    """
    condition = f"+{alias}.fid <= {int(records[version].max_fid)}"
    if version > min(records):
        condition += f" AND ({alias}.{TO} IS NULL OR {alias}.{TO} > {int(version)})"
    return condition


def visible_ids(column: str, table: str, version: int, records: dict[int, VersionRecord]) -> str:
    """`visible` as a condition on a `fid` held elsewhere (an R-tree's `id`, a search rowid)."""
    condition = f"{column} <= {int(records[version].max_fid)}"
    if version > min(records):
        condition += (
            f" AND {column} NOT IN (SELECT fid FROM {quote_identifier(table)} "
            f"WHERE {TO} IS NOT NULL AND {TO} <= {int(version)})"
        )
    return condition


def meta_of(base: LayerMeta, record: VersionRecord) -> LayerMeta:
    """A version's metadata: the file's, with the version's number and, for a change set, the
    day it was made as the date of the last change."""
    update: dict = {"version": record.version}
    if record.kind == "changes":
        update["updated"] = record.at[:10]
    return base.model_copy(update=update)


def write_first_record(
    db: sqlite3.Connection, meta: LayerMeta, actor: str | None, at: str | None = None
) -> None:
    """Make the version table of a new file, holding its own version (uploaded as a whole)."""
    table = quote_identifier(meta.id)
    db.execute(
        f"CREATE TABLE {VERSIONS_TABLE} (version INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
        "actor TEXT, at TEXT NOT NULL, features INTEGER NOT NULL, max_fid INTEGER NOT NULL, "
        "min_x REAL, min_y REAL, max_x REAL, max_y REAL)"
    )
    max_fid, count = db.execute(f"SELECT max(fid), count(*) FROM {table}").fetchone()
    box = db.execute(
        "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?", (meta.id,)
    ).fetchone()
    extent = box if count and box is not None and box[0] is not None else (None,) * 4
    insert_record(
        db,
        VersionRecord(meta.version, "upload", actor, at or utc_now(), count, max_fid or 0, None),
        extent,
    )


def insert_record(
    db: sqlite3.Connection,
    record: VersionRecord,
    extent: tuple | None = None,
) -> None:
    box = extent if extent is not None else (record.extent or (None,) * 4)
    db.execute(
        f"INSERT INTO {VERSIONS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.version,
            record.kind,
            record.actor,
            record.at,
            record.features,
            record.max_fid,
            *box,
        ),
    )


def add_version_columns(db: sqlite3.Connection, meta: LayerMeta, first_version: int) -> None:
    """The two columns and the indexes versioned rows need, on a table whose rows all belong to
    `first_version`: instant for the columns (their defaults are not written into the rows), an
    index build over the ids, and two partial indexes that start empty."""
    table = quote_identifier(meta.id)
    db.execute(
        f"ALTER TABLE {table} ADD COLUMN {FROM} INTEGER NOT NULL DEFAULT {int(first_version)}"
    )
    db.execute(f"ALTER TABLE {table} ADD COLUMN {TO} INTEGER")
    db.execute(
        f"CREATE UNIQUE INDEX {quote_identifier(meta.id + '_code_version')} "
        f"ON {table} ({ID_FIELD}, {FROM})"
    )
    db.execute(
        f"CREATE INDEX {quote_identifier(meta.id + '_' + TO)} ON {table} ({TO}) "
        f"WHERE {TO} IS NOT NULL"
    )
    db.execute(
        f"CREATE INDEX {quote_identifier(meta.id + '_' + FROM)} ON {table} ({FROM}) "
        f"WHERE {FROM} > {int(first_version)}"
    )


def is_editable(db: sqlite3.Connection) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSIONS_TABLE,)
        ).fetchone()
        is not None
    )


def make_editable(db: sqlite3.Connection, path: Path, meta: LayerMeta) -> None:
    """Ready a file written before versioned rows for its first change set, in one transaction:
    its unique index on the feature id is rebuilt over (id, version), about a second per
    100,000 features, once."""
    record = legacy_record(db, path, meta)
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(f"DROP INDEX IF EXISTS {quote_identifier(meta.id + '_code')}")
        add_version_columns(db, meta, record.version)
        write_first_record(db, meta, None, record.at)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def with_extent(record: VersionRecord, extent: tuple | None, known: bool) -> VersionRecord:
    return replace(record, extent=extent, extent_known=known)
