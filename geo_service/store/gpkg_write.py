"""Writing one layer version as a GeoPackage: the data and its R-tree, indexes for filters,
the layer's metadata, a search table, each row written in GeoJSON (`gpkg_rows.py`) and the
version's record, complete before the version is published (`GeoPackageStore.publish`). The file is ready to hold later versions too (change sets,
`row_versions.py`), and is in WAL mode, so those are written while readers read.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import geopandas as gpd
import pyogrio

from .. import strict_json
from ..catalogue import ID_FIELD, LayerMeta
from ..i18n import _l
from ..text import fold
from .gpkg_rows import write_rows
from .row_versions import add_version_columns, write_first_record
from .sqlite_sql import quote_identifier

METADATA_TABLE = "geo_service_layer"
SEARCH_COLUMNS = ("name_vi", "name_en", "commune_name", ID_FIELD)
"""The columns free-text search (`q`) looks in."""


def stored_meta(db: sqlite3.Connection) -> LayerMeta:
    """The metadata a layer's file stores (as written by its upload)."""
    (raw,) = db.execute(f"SELECT metadata FROM {METADATA_TABLE}").fetchone()
    return LayerMeta.model_validate(strict_json.loads(raw))


def geometry_column(db: sqlite3.Connection, layer_id: str) -> str:
    """The name GDAL gave the layer's geometry column."""
    (name,) = db.execute(
        "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer_id,)
    ).fetchone()
    return name


def write_version(
    path: Path, meta: LayerMeta, frame: gpd.GeoDataFrame, actor: str | None = None
) -> None:
    """Write `frame` as the GeoPackage of one version of `meta.id` (`meta.version` set) at
    `path`: data with its R-tree, an index per coded or non-text field, the metadata row, the
    search table, the rows' GeoJSON and the version's record (made by `actor`).

    `frame` must be in EPSG:4326 and hold a column per field of `meta` (missing values as
    None/NaN), with `code` present and unique.
    """
    columns = meta.field_names
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            _l("layer {id}: frame lacks fields {missing}", id=meta.id, missing=missing)
        )
    ordered = gpd.GeoDataFrame(frame[columns], geometry=frame.geometry.values, crs=frame.crs)
    if ordered.crs is None or ordered.crs.to_epsg() != 4326:
        raise ValueError(
            _l("layer {id}: frame must be in EPSG:4326, not {crs}", id=meta.id, crs=ordered.crs)
        )
    if ordered[ID_FIELD].isna().any() or ordered[ID_FIELD].duplicated().any():
        raise ValueError(
            _l("layer {id}: '{id_field}' must be present and unique", id=meta.id, id_field=ID_FIELD)
        )
    pyogrio.write_dataframe(
        ordered,
        path,
        layer=meta.id,
        driver="GPKG",
        spatial_index=True,
        layer_options={"IDENTIFIER": meta.title_en, "DESCRIPTION": meta.description_en},
    )
    # `with connection` only commits: `closing` releases the file's descriptor at once
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(f"CREATE TABLE {METADATA_TABLE} (id TEXT PRIMARY KEY, metadata TEXT NOT NULL)")
        db.execute(f"INSERT INTO {METADATA_TABLE} VALUES (?, ?)", (meta.id, meta.model_dump_json()))
        table = quote_identifier(meta.id)
        add_version_columns(db, meta, meta.version)
        for number, spec in enumerate(meta.fields):
            if spec.name != ID_FIELD and (spec.codes or spec.type != "string"):
                # named by position: a field called `search` must not take the search table's name
                index = quote_identifier(f"{meta.id}_i{number}")
                db.execute(f"CREATE INDEX {index} ON {table} ({quote_identifier(spec.name)})")
        _write_search_table(db, meta, ordered)
        write_rows(db, meta, geometry_column(db, meta.id))
        write_first_record(db, meta, actor)
        db.execute("ANALYZE")
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("VACUUM")
        db.execute("PRAGMA journal_mode = WAL")


def _write_search_table(db: sqlite3.Connection, meta: LayerMeta, frame: gpd.GeoDataFrame) -> None:
    """A trigram full-text table of folded names: `q` matches with or without diacritics."""
    search = quote_identifier(meta.id + "_search")
    db.execute(f"CREATE VIRTUAL TABLE {search} USING fts5(text, tokenize='trigram')")
    present = [c for c in SEARCH_COLUMNS if c in frame.columns]
    fids = db.execute(f"SELECT fid, {ID_FIELD} FROM {quote_identifier(meta.id)}").fetchall()
    text_by_code = {
        code: search_text(values)
        for code, *values in frame[[ID_FIELD, *present]].itertuples(index=False, name=None)
    }
    db.executemany(
        f"INSERT INTO {search} (rowid, text) VALUES (?, ?)",
        ((fid, text_by_code[code]) for fid, code in fids),
    )


def search_text(values) -> str:
    """What the search table holds for one feature: its names' text, folded."""
    return fold(" ".join(str(v) for v in values if isinstance(v, str)))
