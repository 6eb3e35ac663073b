"""Moving a catalogue from GeoPackage files into the PostGIS store (`geo-service migrate-store`):
every layer with every version under its own number, its metadata and when it was written, the
version it serves (or none, for a layer with only drafts), and the archived layers as archived,
so that no number is given twice afterwards either. Each layer moves in one transaction; the
GeoPackage files are only read.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio

from ..catalogue import LAYER_ID_PATTERN, LayerMeta
from ..errors import Conflict
from ..i18n import _l
from .gpkg import open_readonly, version_summary
from .postgis import Adopted, PostGISStore
from .row_versions import read_records, visible
from .sqlite_sql import quote_identifier
from .versioned import ARCHIVE

READ_ROWS = 200_000
"""Features read from a GeoPackage at once: a layer of any size moves in bounded memory."""
_VERSION_FILE = re.compile(r"^v(\d{6})\.gpkg$")
_ARCHIVED = re.compile(r"^([a-z][a-z0-9_]{0,62})-\d{8}T\d{12}Z$")


@dataclass(frozen=True)
class Moved:
    """One layer as it was moved: its versions, the one served, whether it is archived."""

    layer_id: str
    versions: list[int]
    current: int | None
    archived_as: str | None


@dataclass(frozen=True)
class _Folder:
    """A layer's folder of version files, served or archived."""

    path: Path
    layer_id: str
    archived: bool

    @property
    def numbers(self) -> list[int]:
        return sorted(
            int(m.group(1)) for p in self.path.iterdir() if (m := _VERSION_FILE.fullmatch(p.name))
        )

    @property
    def current(self) -> int | None:
        try:
            match = _VERSION_FILE.fullmatch(os.readlink(self.path / "current.gpkg"))
        except OSError:
            return None
        return int(match.group(1)) if match else None


def transfer(
    data_dir: Path, target: PostGISStore, progress: Callable[[str], None] = lambda line: None
) -> list[Moved]:
    """Move every layer of `data_dir`'s GeoPackage store into `target`; archived ones first (in
    the order they were made), so a layer made again after an archive keeps its numbers.
    `Conflict` before anything moves if the target already holds one of the layers."""
    folders = _folders(Path(data_dir))
    listing = target.layers()
    listed = {meta.id for meta in listing} | {skipped.id for skipped in listing.skipped}
    clashing = sorted({f.layer_id for f in folders if not f.archived} & listed)
    if clashing:
        raise Conflict(
            _l(
                "the target store already has the layers {layers}; nothing was moved",
                layers=", ".join(clashing),
            )
        )
    moved = []
    for folder in sorted(folders, key=lambda f: (not f.archived, f.numbers[0])):
        numbers, current = folder.numbers, folder.current
        archived_as = folder.path.name if folder.archived else None
        target.adopt([_version(folder.path, n) for n in numbers], current, archived_as)
        moved.append(Moved(folder.layer_id, numbers, current, archived_as))
        state = f"archived as {archived_as}" if archived_as else f"serving {current or 'none'}"
        progress(f"{folder.layer_id}: versions {', '.join(map(str, numbers))}; {state}")
    return moved


def _folders(data_dir: Path) -> list[_Folder]:
    """Every layer folder holding versions: served, with drafts only, or archived."""
    found = []
    for root, archived, pattern in (
        (data_dir, False, LAYER_ID_PATTERN),
        (data_dir / ARCHIVE, True, _ARCHIVED),
    ):
        if not root.is_dir():
            continue
        for path in sorted(root.iterdir()):
            match = pattern.fullmatch(path.name)
            if match and path.is_dir():
                folder = _Folder(path, match.group(1) if archived else path.name, archived)
                if folder.numbers:
                    found.append(folder)
    return found


def _version(folder: Path, number: int) -> Adopted:
    """One version as it was served: the file named for it (or the file it links to, which a
    change set wrote it into, beside the versions before it), its record's author and time."""
    path = folder / f"v{number:06d}.gpkg"
    meta, record = version_summary(path, number)
    geometry_type = pyogrio.read_info(path, layer=meta.id).get("geometry_type") or ""
    z = "Z" in geometry_type or "3D" in geometry_type
    return Adopted(meta, _frames(path, meta, record.features), z, record.at, record.actor)


def _frames(path: Path, meta: LayerMeta, features: int) -> Iterator[gpd.GeoDataFrame]:
    """The features the version holds (the file may hold rows of other versions too), in
    their order, `READ_ROWS` at a time."""
    with contextlib.closing(open_readonly(path, mapped=False)) as connection:
        records = read_records(connection, path, meta)
    rows = (
        f"SELECT t.* FROM {quote_identifier(meta.id)} AS t "
        f"WHERE {visible('t', meta.version, records)} ORDER BY t.fid"
    )
    for start in range(0, max(features, 1), READ_ROWS):
        yield pyogrio.read_dataframe(
            path, sql=f"{rows} LIMIT {READ_ROWS} OFFSET {start}", columns=meta.field_names
        )
