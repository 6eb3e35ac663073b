"""Where raster layers live, and how a new version is published.

    DATA_DIR/_rasters/<id>/v000001.tif     one immutable Cloud Optimised GeoTIFF per version
    DATA_DIR/_rasters/<id>/v000001.json    its metadata
    DATA_DIR/_rasters/<id>/current.tif     symlink to the served version, swapped atomically

The folder's name cannot be a layer id, so no vector layer's folder (nor its archiving) can
ever hold the rasters. As for vector layers (`store.gpkg_files`), a version is complete and
synced on disk (metadata, then COG) before the link moves, under the same cross-process lock,
so a failure at any point leaves the previous version served.

Reads survive damaged files (see `listing.py`): a raster whose metadata or COG cannot be read is
skipped by the listing, answers `LayerUnavailable` by id, and can still be archived.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from rasterio.errors import RasterioError

from .. import strict_json
from ..catalogue import LAYER_ID_PATTERN
from ..errors import LayerUnavailable, NotFound
from ..listing import UNREADABLE_ERRORS, Listing, Skipped, unreadable
from ..store.gpkg_files import (
    archive_folder,
    check_existence,
    fsync_file,
    layer_lock,
    next_version,
    swap_link,
)
from .meta import RasterMeta

FOLDER = "_rasters"
CURRENT = "current.tif"
_VERSION_FILE = re.compile(r"^v(\d{6})\.tif$")


@contextlib.contextmanager
def reading_cog(raster_id: str) -> Iterator[None]:
    """Around reads of a raster's COG (tiles, statistics): a damaged file is `LayerUnavailable`."""
    try:
        yield
    except RasterioError as exc:
        raise unreadable("raster", raster_id, exc) from None


class RasterStore:
    """The raster layers of a data directory; metadata cached per immutable version file."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / FOLDER
        self._meta: dict[Path, RasterMeta] = {}

    def ids(self) -> list[str]:
        """The rasters served, readable or not (a link to a missing file counts)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if LAYER_ID_PATTERN.fullmatch(p.name) and (p / CURRENT).is_symlink()
        )

    def rasters(self) -> Listing:
        """Every served raster's metadata; unreadable ones skipped and named, and those archived
        since the folder was listed left out."""
        found, skipped = [], []
        for raster_id in self.ids():
            try:
                found.append(self.get(raster_id)[0])
            except NotFound:
                continue
            except LayerUnavailable as exc:
                skipped.append(Skipped(raster_id, exc.description))
        return Listing(found, skipped)

    def versions(self, raster_id: str) -> list[int]:
        folder = self.root / raster_id
        if not LAYER_ID_PATTERN.fullmatch(raster_id) or not folder.is_dir():
            return []
        found = (_VERSION_FILE.fullmatch(p.name) for p in folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def get(self, raster_id: str) -> tuple[RasterMeta, Path]:
        """The served version's metadata and COG path; `NotFound` if there is none,
        `LayerUnavailable` if its files cannot be read."""
        path = self._current(raster_id)
        if path is None:
            raise _no_raster(raster_id)
        return self._meta_of(raster_id, path), path

    def version_meta(self, raster_id: str, version: int) -> tuple[RasterMeta, Path]:
        """One stored version's metadata and COG, served or not."""
        path = self.root / raster_id / f"v{version:06d}.tif"
        if not LAYER_ID_PATTERN.fullmatch(raster_id) or not path.is_file():
            raise NotFound(
                f"raster {raster_id!r} has no version {version} / "
                f"lớp raster {raster_id!r} không có phiên bản {version}"
            )
        return self._meta_of(raster_id, path), path

    def _meta_of(self, raster_id: str, path: Path) -> RasterMeta:
        """A version's metadata, read once: version files never change."""
        meta = self._meta.get(path)
        if meta is None:
            try:
                if not path.is_file():
                    raise FileNotFoundError(path.name)
                text = path.with_suffix(".json").read_text("utf-8")
                meta = RasterMeta.model_validate(strict_json.loads(text))
            except UNREADABLE_ERRORS as exc:
                if self._current(raster_id) is None:  # archived while we looked
                    raise NotFound(f"no raster {raster_id!r} / không có lớp raster") from None
                raise unreadable("raster", raster_id, exc) from None
            self._meta[path] = meta
        return meta

    def current_version(self, raster_id: str) -> int | None:
        path = self._current(raster_id)
        match = _VERSION_FILE.fullmatch(path.name) if path else None
        return int(match.group(1)) if match else None

    def activate(self, raster_id: str, version: int) -> RasterMeta:
        """Serve an earlier (or later) stored version again: the link moves, nothing is copied."""
        with layer_lock(self.root, raster_id):
            meta, path = self.version_meta(raster_id, version)
            swap_link(path.parent / CURRENT, path.name)
        return meta

    def archive(self, raster_id: str) -> Path:
        """Stop serving a raster, keeping every version under `_rasters/.archive/`; one whose
        files cannot be read is archived too."""
        if self._current(raster_id) is None:
            raise _no_raster(raster_id)
        try:
            return archive_folder(self.root, raster_id, CURRENT)
        except FileNotFoundError:
            raise _no_raster(raster_id) from None

    def _current(self, raster_id: str) -> Path | None:
        """Where the served version's link points (the file may be missing); None if unserved."""
        if not LAYER_ID_PATTERN.fullmatch(raster_id):
            return None
        link = self.root / raster_id / CURRENT
        try:
            return (link.parent / os.readlink(link)).resolve()
        except OSError:
            return None

    def publish(self, meta: RasterMeta, cog: Path, new: bool | None = None) -> RasterMeta:
        """Copy a finished COG in as the next version of `meta.id` and serve it.

        `new` True: the raster must not exist yet (`Conflict`); False: it must (`NotFound`);
        checked under the lock, as for layers (`store.gpkg_files.publish_layer`)."""
        with layer_lock(self.root, meta.id):
            check_existence(meta.id, bool(self.versions(meta.id)), new, "raster")
            version = next_version(self.root, meta.id, _VERSION_FILE)
            meta = meta.model_copy(update={"version": version})
            final = self.root / meta.id / f"v{version:06d}.tif"
            staged_cog = final.with_name(f".{final.stem}.partial.tif")
            staged_meta = final.with_name(f".{final.stem}.partial.json")
            try:
                shutil.copyfile(cog, staged_cog)
                staged_meta.write_text(meta.model_dump_json(indent=1), "utf-8")
                fsync_file(staged_cog)
                fsync_file(staged_meta)
                os.replace(staged_meta, final.with_suffix(".json"))
                os.replace(staged_cog, final)
            finally:
                staged_cog.unlink(missing_ok=True)
                staged_meta.unlink(missing_ok=True)
            swap_link(final.parent / CURRENT, final.name)
        return meta


def _no_raster(raster_id: str) -> NotFound:
    return NotFound(
        f"no raster {raster_id!r}; GET /rasters lists them / "
        f"không có lớp raster {raster_id!r}; xem danh sách tại GET /rasters"
    )
