"""Where raster layers live, and how a new version is published.

    DATA_DIR/_rasters/<id>/v000001.tif     one immutable Cloud Optimised GeoTIFF per version
    DATA_DIR/_rasters/<id>/v000001.json    its metadata
    DATA_DIR/_rasters/<id>/current.tif     symlink to the served version, swapped atomically

The folder's name cannot be a layer id, so no vector layer's folder (nor its archiving) can
ever hold the rasters. The versions are kept as vector layers' are (`store.versioned`): a
version is complete and synced on disk (metadata, then COG) before the link moves, under the
raster's lock, so a failure at any point leaves the previous version served. Rasters have no
drafts: a new version is served at once.

Reads survive damaged files (see `listing.py`): a raster whose metadata or COG cannot be read is
skipped by the listing, answers `LayerUnavailable` by id, and can still be archived.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from rasterio.errors import RasterioError

from .. import strict_json
from ..errors import LayerUnavailable, NotFound
from ..i18n import N_, _l
from ..listing import UNREADABLE_ERRORS, Listing, Skipped, unreadable
from ..store.base import VersionSummary
from ..store.versioned import VersionedFolder
from .meta import RasterMeta

FOLDER = "_rasters"


@contextlib.contextmanager
def reading_cog(raster_id: str) -> Iterator[None]:
    """Around reads of a raster's COG (tiles, statistics): a damaged file is `LayerUnavailable`."""
    try:
        yield
    except RasterioError as exc:
        raise unreadable(N_("raster"), raster_id, exc) from None


class RasterStore:
    """The raster layers of a data directory; metadata cached per immutable version file."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = VersionedFolder(Path(data_dir) / FOLDER, ".tif", "raster", (".json",))
        self._meta: dict[Path, RasterMeta] = {}

    def rasters(self) -> Listing:
        """Every served raster's metadata; unreadable ones skipped and named, and those archived
        since the folder was listed left out."""
        found, skipped = [], []
        for raster_id in self.folder.ids():
            try:
                found.append(self.get(raster_id)[0])
            except NotFound:
                continue
            except LayerUnavailable as exc:
                skipped.append(Skipped(raster_id, exc.description))
        return Listing(found, skipped)

    def get(self, raster_id: str) -> tuple[RasterMeta, Path]:
        """The served version's metadata and COG path; `NotFound` if there is none,
        `LayerUnavailable` if its files cannot be read."""
        path = self.folder.current(raster_id)
        if path is None:
            raise _no_raster(raster_id)
        return self._meta_of(raster_id, path), path

    def version_meta(self, raster_id: str, version: int) -> tuple[RasterMeta, Path]:
        """One stored version's metadata and COG, served or not."""
        path = self.folder.path(raster_id, version)
        if version not in self.folder.numbers(raster_id):
            raise NotFound(
                _l(
                    "raster {raster_id!r} has no version {version}",
                    raster_id=raster_id,
                    version=version,
                )
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
                if self.folder.current(raster_id) is None:  # archived while we looked
                    raise NotFound(_l("no raster {raster_id!r}", raster_id=raster_id)) from None
                raise unreadable(N_("raster"), raster_id, exc) from None
            self._meta[path] = meta
        return meta

    # -- versions -----------------------------------------------------------------------------
    def version_numbers(self, raster_id: str) -> list[int]:
        return self.folder.numbers(raster_id)

    def current_version(self, raster_id: str) -> int | None:
        return self.folder.current_version(raster_id)

    def versions(self, raster_id: str) -> list[VersionSummary[RasterMeta]]:
        return self.folder.summaries(
            raster_id, lambda version, path: {"meta": self.version_meta(raster_id, version)[0]}
        )

    def publish(self, meta: RasterMeta, cog: Path, new: bool | None = None) -> RasterMeta:
        """Copy a finished COG in as the next version of `meta.id` and serve it.

        `new` True: the raster must not exist yet (`Conflict`); False: it must (`NotFound`);
        checked under the lock, as for every versioned item."""

        def write(version: int, path: Path) -> None:
            shutil.copyfile(cog, path)
            stored = meta.model_copy(update={"version": version}).model_dump_json(indent=1)
            path.with_suffix(".json").write_text(stored, "utf-8")

        version = self.folder.publish(meta.id, write, new=new)
        return meta.model_copy(update={"version": version})

    def activate(self, raster_id: str, version: int) -> None:
        """Serve an earlier (or later) stored version again: the link moves, nothing is copied.
        A version whose metadata cannot be read is not served (`LayerUnavailable`)."""
        if version in self.folder.numbers(raster_id):
            self.version_meta(raster_id, version)
        self.folder.activate(raster_id, version)

    def archive(self, raster_id: str) -> str:
        """Stop serving a raster, keeping every version under `_rasters/.archive/`; one whose
        files cannot be read is archived too. Returns the archived folder's name."""
        return self.folder.archive(raster_id)


def _no_raster(raster_id: str) -> NotFound:
    return NotFound(_l("no raster {raster_id!r}; GET /rasters lists them", raster_id=raster_id))
