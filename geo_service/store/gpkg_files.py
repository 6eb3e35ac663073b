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
from typing import IO

import geopandas as gpd
import pyogrio

from ..catalogue import ID_FIELD, LAYER_ID_PATTERN, LayerMeta
from ..errors import Conflict, NotFound
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
    if not LAYER_ID_PATTERN.fullmatch(layer_id) or not folder.is_dir():
        return []
    found = (_VERSION_FILE.fullmatch(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def version_path(data_dir: Path, layer_id: str, version: int) -> Path:
    return data_dir / layer_id / f"v{version:06d}.gpkg"


LOCK = ".lock"


@contextlib.contextmanager
def layer_lock(root: Path, item_id: str) -> Iterator[Path]:
    """An exclusive lock on one layer's (or raster's) folder, held across processes; yields
    the folder.

    The lock file lives in the folder, which archiving moves away and an unsuccessful first
    publish removes: whoever waited on the lock checks, once it holds it, that its file is
    still the one at the path, and starts again if not. On release a folder left with nothing
    but the lock is removed, so a failed publish leaves nothing behind.
    """
    if not LAYER_ID_PATTERN.fullmatch(item_id):
        raise ValueError(f"not a layer or raster id: {item_id!r}")
    folder = Path(root) / item_id
    handle = _take_lock(folder)
    try:
        yield folder
    finally:
        try:
            if _holds(handle, folder / LOCK) and all(p.name == LOCK for p in folder.iterdir()):
                (folder / LOCK).unlink()
                with contextlib.suppress(OSError):  # someone is already making it again
                    folder.rmdir()
        finally:
            handle.close()


def _take_lock(folder: Path) -> IO[str]:
    while True:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            handle = (folder / LOCK).open("a")
        except FileNotFoundError:  # the folder was removed between the two lines
            continue
        fcntl.flock(handle, fcntl.LOCK_EX)
        if _holds(handle, folder / LOCK):
            return handle
        handle.close()  # the file was archived or removed while we waited: start again


def _holds(handle: IO[str], path: Path) -> bool:
    """Whether the open lock file `handle` is still the file at `path`."""
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def next_version(root: Path, item_id: str, pattern: re.Pattern[str]) -> int:
    """One more than any version the item ever had, archived ones included: a layer made again
    under an archived id never reuses a number (caches and tile URLs are keyed on them)."""
    folders = [root / item_id, *(root / ARCHIVE).glob(f"{item_id}-*")]
    numbers = [
        int(match.group(1))
        for folder in folders
        if folder.is_dir()
        for match in map(pattern.fullmatch, (p.name for p in folder.iterdir()))
        if match
    ]
    return max(numbers, default=0) + 1


def check_existence(item_id: str, exists: bool, new: bool | None, what: str) -> None:
    """Refuse to create what exists (409) or to add a version to what does not, or no longer
    does, exist (404); `new` None accepts either. Asked early to spare the work, and always
    again under the item's lock, where the answer holds."""
    if new is True and exists:
        raise Conflict(
            f"{what} {item_id!r} exists; send a new version with PUT / "
            f"{_VI[what]} {item_id!r} đã có; hãy gửi phiên bản mới bằng PUT"
        )
    if new is False and not exists:
        raise missing(item_id, what)


def missing(item_id: str, what: str) -> NotFound:
    """The error for a new version of a layer or raster that is not there (any more)."""
    return NotFound(
        f"no {what} {item_id!r} (any more); create it with POST / "
        f"không có {_VI[what]} {item_id!r} (hoặc đã được lưu trữ); hãy tạo bằng POST"
    )


_VI = {"layer": "lớp", "raster": "lớp raster"}


def publish_layer(
    data_dir: Path,
    meta: LayerMeta,
    frame: gpd.GeoDataFrame,
    activate_now: bool = True,
    new: bool | None = None,
) -> Path:
    """Write `frame` as the next version of `meta.id` and (unless a draft) make it the served one.

    `frame` must be in EPSG:4326 and hold a column per field of `meta` (missing values as
    None/NaN). `new` True: the layer must not exist yet (`Conflict`); False: it must exist
    (`NotFound`), checked under the lock, so two uploads never both create a layer and an
    archive is never undone by a version in flight. Returns the path of the new version file.
    A failure at any point leaves the served version as it was, and no partial file.
    """
    data_dir = Path(data_dir)
    with layer_lock(data_dir, meta.id):
        check_existence(meta.id, bool(versions(data_dir, meta.id)), new, "layer")
        version = next_version(data_dir, meta.id, _VERSION_FILE)
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
    """Take a layer out of the catalogue in one rename, keeping every version under `.archive/`;
    `FileNotFoundError` if it is not served."""
    if current_file(Path(data_dir), layer_id) is None:
        raise FileNotFoundError(layer_id)
    return archive_folder(Path(data_dir), layer_id, CURRENT)


def archive_folder(root: Path, item_id: str, current: str) -> Path:
    """Move `root/<item_id>`, every version of a layer or raster, to `root/.archive/` at once.

    `FileNotFoundError` unless the folder's `current` link is there, checked under the lock (a
    second archive, or one racing another, finds nothing to move)."""
    with layer_lock(root, item_id) as folder:
        if not (folder / current).is_symlink():
            raise FileNotFoundError(item_id)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = root / ARCHIVE / f"{item_id}-{stamp}"
        target.parent.mkdir(exist_ok=True)
        os.replace(folder, target)
    fsync_dir(root)
    return target


def activate(data_dir: Path, layer_id: str, version: int) -> None:
    """Point the layer's `current.gpkg` at a version (publish a draft, roll back), atomically."""
    with layer_lock(data_dir, layer_id):
        _activate(Path(data_dir), layer_id, version)


def _activate(data_dir: Path, layer_id: str, version: int) -> None:
    target = version_path(data_dir, layer_id, version)
    if not target.exists():
        raise NotFound(
            f"layer {layer_id!r} has no version {version} (it may have been archived) / "
            f"lớp {layer_id!r} không có phiên bản {version} (có thể đã được lưu trữ)"
        )
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
        for number, spec in enumerate(meta.fields):
            if spec.name != ID_FIELD and (spec.codes or spec.type != "string"):
                # named by position: a field called `search` must not take the search table's name
                index = _quote(f"{meta.id}_i{number}")
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
