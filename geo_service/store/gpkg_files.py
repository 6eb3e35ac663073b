"""Where layers live in the data directory, and how a new version is published.

    DATA_DIR/<layer_id>/v000001.gpkg     one immutable GeoPackage per version
    DATA_DIR/<layer_id>/current.gpkg     symlink to the served version, swapped atomically

A version file is complete (data, indexes, metadata, search table) before the symlink moves,
and never changes afterwards, so readers open it read-only and immutable and can cache freely.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pyogrio

from ..catalogue import ID_FIELD, LAYER_ID_PATTERN, LayerMeta
from ..text import fold

CURRENT = "current.gpkg"
ARCHIVE = ".archive"
METADATA_TABLE = "geo_service_layer"
_VERSION_FILE = re.compile(r"^v(\d{6})\.gpkg$")
SEARCH_COLUMNS = ("name_vi", "name_en", "commune_name", ID_FIELD)
"""The columns free-text search (`q`) looks in."""


def layer_dirs(data_dir: Path) -> Iterable[Path]:
    """The folders of published layers (their `current.gpkg` link may point to a missing file)."""
    if not data_dir.is_dir():
        return []
    return sorted(
        p
        for p in data_dir.iterdir()
        if LAYER_ID_PATTERN.fullmatch(p.name) and os.path.lexists(p / CURRENT)
    )


def current_file(data_dir: Path, layer_id: str) -> Path | None:
    """The resolved path of the served version of a layer, or None."""
    if not LAYER_ID_PATTERN.fullmatch(layer_id):
        return None
    link = data_dir / layer_id / CURRENT
    try:
        return (link.parent / os.readlink(link)).resolve()
    except OSError:
        return None


def versions(data_dir: Path, layer_id: str) -> list[int]:
    folder = data_dir / layer_id
    if not folder.is_dir():
        return []
    found = (_VERSION_FILE.fullmatch(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def version_path(data_dir: Path, layer_id: str, version: int) -> Path:
    return data_dir / layer_id / f"v{version:06d}.gpkg"


@contextlib.contextmanager
def layer_lock(data_dir: Path, layer_id: str) -> Iterator[None]:
    """An exclusive lock on one layer, held across processes: publishes never interleave."""
    folder = Path(data_dir) / layer_id
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish_layer(
    data_dir: Path, meta: LayerMeta, frame: gpd.GeoDataFrame, activate_now: bool = True
) -> Path:
    """Write `frame` as the next version of `meta.id` and (unless a draft) make it the served one.

    `frame` must be in EPSG:4326 and hold a column per field of `meta` (missing values as
    None/NaN). Returns the path of the new version file. A failure at any point leaves the
    served version as it was.
    """
    data_dir = Path(data_dir)
    with layer_lock(data_dir, meta.id):
        version = (versions(data_dir, meta.id) or [0])[-1] + 1
        meta = meta.model_copy(update={"version": version})
        final = version_path(data_dir, meta.id, version)
        staging = final.with_name(f"{final.stem}.partial.gpkg")
        staging.unlink(missing_ok=True)
        try:
            _write_version(staging, meta, frame)
            os.replace(staging, final)
        finally:
            staging.unlink(missing_ok=True)
        if activate_now:
            _activate(data_dir, meta.id, version)
    return final


def archive_layer(data_dir: Path, layer_id: str) -> Path:
    """Take a layer out of the catalogue in one rename, keeping every version under `.archive/`."""
    if current_file(Path(data_dir), layer_id) is None:
        raise FileNotFoundError(layer_id)
    return archive_folder(Path(data_dir), layer_id)


def archive_folder(root: Path, item_id: str) -> Path:
    """Move `root/<item_id>`, every version of a layer or raster, to `root/.archive/` at once."""
    with layer_lock(root, item_id):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = root / ARCHIVE / f"{item_id}-{stamp}"
        target.parent.mkdir(exist_ok=True)
        os.replace(root / item_id, target)
    fsync_dir(root)
    return target


def activate(data_dir: Path, layer_id: str, version: int) -> None:
    """Point the layer's `current.gpkg` at a version (publish a draft, roll back), atomically."""
    with layer_lock(data_dir, layer_id):
        _activate(Path(data_dir), layer_id, version)


def _activate(data_dir: Path, layer_id: str, version: int) -> None:
    target = version_path(data_dir, layer_id, version)
    if not target.exists():
        raise FileNotFoundError(target)
    swap_link(data_dir / layer_id / CURRENT, target.name)


def swap_link(link: Path, target_name: str) -> None:
    """Point the symlink `link` at `target_name` (beside it) in one rename, durably."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target_name)
    os.replace(temporary, link)
    fsync_dir(link.parent)


def _write_version(path: Path, meta: LayerMeta, frame: gpd.GeoDataFrame) -> None:
    columns = meta.field_names
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"layer {meta.id}: frame lacks fields {missing}")
    ordered = gpd.GeoDataFrame(frame[columns], geometry=frame.geometry.values, crs=frame.crs)
    if ordered.crs is None or ordered.crs.to_epsg() != 4326:
        raise ValueError(f"layer {meta.id}: frame must be in EPSG:4326, not {ordered.crs}")
    if ordered[ID_FIELD].isna().any() or ordered[ID_FIELD].duplicated().any():
        raise ValueError(f"layer {meta.id}: '{ID_FIELD}' must be present and unique")
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
        table = _quote(meta.id)
        db.execute(f"CREATE UNIQUE INDEX {_quote(meta.id + '_code')} ON {table} ({ID_FIELD})")
        for spec in meta.fields:
            if spec.name != ID_FIELD and (spec.codes or spec.type != "string"):
                index = _quote(f"{meta.id}_{spec.name}")
                db.execute(f"CREATE INDEX {index} ON {table} ({_quote(spec.name)})")
        _write_search_table(db, meta, ordered)
        db.execute("ANALYZE")
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("VACUUM")
    fsync_file(path)


def _write_search_table(db: sqlite3.Connection, meta: LayerMeta, frame: gpd.GeoDataFrame) -> None:
    """A trigram full-text table of folded names: `q` matches with or without diacritics."""
    search = _quote(meta.id + "_search")
    db.execute(f"CREATE VIRTUAL TABLE {search} USING fts5(text, tokenize='trigram')")
    present = [c for c in SEARCH_COLUMNS if c in frame.columns]
    fids = db.execute(f"SELECT fid, {ID_FIELD} FROM {_quote(meta.id)}").fetchall()
    text_by_code = {
        code: fold(" ".join(str(v) for v in values if isinstance(v, str)))
        for code, *values in frame[[ID_FIELD, *present]].itertuples(index=False, name=None)
    }
    db.executemany(
        f"INSERT INTO {search} (rowid, text) VALUES (?, ?)",
        ((fid, text_by_code[code]) for fid, code in fids),
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
