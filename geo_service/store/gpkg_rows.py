"""A layer's rows as features, and each row kept written as the GeoJSON Feature a page serves.

The GeoJSON sits in a table of its own beside the layer's (`WRITTEN_TABLE`, by `fid`), written
in the same transaction as the rows: by the upload (`gpkg_write.py`) and by each change set
(`gpkg_edits.py`). A page of 100 features is then 100 texts read, instead of some 3,000 values
made into features and written again on every request (0.9 → 0.2 ms a page on a layer of 30
fields, benchmarks/README.md). A row never changes once written (a change set closes it and
adds another, `row_versions.py`), so neither does its text. A file written before the table
existed has none, and its pages are written per request as before.
"""

from __future__ import annotations

import sqlite3

from ..catalogue import ID_FIELD, LayerMeta
from .base import Feature
from .feature_json import written_features
from .gpkg_blobs import gpkg_to_wkb
from .sqlite_sql import quote_identifier

WRITTEN_TABLE = "geo_service_geojson"
BATCH = 2000


def feature_columns(geometry_column: str, columns: list[str], alias: str = "t") -> str:
    """The select list a row of the table `alias` is read with into `row_feature`: its id,
    geometry and `columns`."""
    return f"{alias}.{ID_FIELD}, {alias}.{quote_identifier(geometry_column)}" + "".join(
        f", {alias}.{quote_identifier(c)}" for c in columns
    )


def row_feature(row: tuple, columns: list[str]) -> Feature:
    """The feature of a row read with `feature_columns` (so as long as `columns`, by
    construction: no check per row)."""
    return Feature(str(row[0]), gpkg_to_wkb(row[1]), dict(zip(columns, row[2:], strict=False)))


def keeps_written(connection: sqlite3.Connection) -> bool:
    """Whether the file keeps its rows written in GeoJSON."""
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (WRITTEN_TABLE,)
    ).fetchone()
    return found is not None


def write_rows(
    db: sqlite3.Connection, meta: LayerMeta, geometry_column: str, after_fid: int = 0
) -> None:
    """Write the GeoJSON of the layer's rows after `after_fid` (every row by default), making
    the table first if the file has none; inside the caller's transaction."""
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {WRITTEN_TABLE} (fid INTEGER PRIMARY KEY, feature BLOB NOT NULL)"
    )
    columns = meta.field_names
    select = (
        f"SELECT t.fid, {feature_columns(geometry_column, columns)} "
        f"FROM {quote_identifier(meta.id)} AS t WHERE t.fid > ? ORDER BY t.fid LIMIT {BATCH}"
    )
    while rows := db.execute(select, (after_fid,)).fetchall():
        features = [row_feature(row[1:], columns) for row in rows]
        db.executemany(
            f"INSERT INTO {WRITTEN_TABLE} (fid, feature) VALUES (?, ?)",
            zip((row[0] for row in rows), written_features(features), strict=True),
        )
        after_fid = rows[-1][0]


def forget_rows(db: sqlite3.Connection, after_fid: int) -> None:
    """Drop the GeoJSON of rows after `after_fid` (rows being discarded), if the file keeps any."""
    if keeps_written(db):
        db.execute(f"DELETE FROM {WRITTEN_TABLE} WHERE fid > ?", (after_fid,))
