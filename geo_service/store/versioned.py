"""Items kept as numbered versions in a folder each, one version of each served.

    ROOT/<id>/v000001<suffix>      a file written whole for a version (and its sidecars, if any)
    ROOT/<id>/v000002<suffix>      or a symlink to the file that also holds this version
    ROOT/<id>/current<suffix>      symlink to the served version's name, swapped in one rename
    ROOT/<id>/.lock                the cross-process lock every change takes
    ROOT/.archive/<id>-<stamp>/    an archived item, with every version it had

A version written whole is written under a temporary name, synced, and renamed into place before
the link moves, all under the item's lock, so a failure at any point leaves the item served as
it was, and readers never meet half a version. A version made by amending the file of the newest
one (`amend`: vector layers' change sets) gets its name as a symlink to that file once the file
holds it, so the numbers of every version are the names in the folder either way. Vector layers
(`gpkg.GeoPackageStore`) and rasters (`rasters.store.RasterStore`, a COG and its JSON metadata
per version) keep their versions here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..catalogue import LAYER_ID_PATTERN
from ..clock import modified_at
from ..errors import (
    LayerUnavailable,
    check_existence,
    drafts_pending,
    no_version,
    not_found,
    not_newest,
)
from ..i18n import _l
from .base import VersionSummary

ARCHIVE = ".archive"
LOCK = ".lock"


class VersionedFolder:
    """The items of one kind under `root`, each a folder of version files ending in `suffix`
    (with a file per `sidecars` suffix beside each); `what` names the kind in errors."""

    def __init__(self, root: Path, suffix: str, what: str, sidecars: tuple[str, ...] = ()) -> None:
        self.root = Path(root)
        self.suffix = suffix
        self.what = what
        self.sidecars = sidecars
        self.current_name = f"current{suffix}"
        self._version_file = re.compile(rf"^v(\d{{6}}){re.escape(suffix)}$")

    # -- reading the layout -------------------------------------------------------------------
    def ids(self) -> list[str]:
        """The items served, readable or not (a link to a missing file counts)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if LAYER_ID_PATTERN.fullmatch(p.name) and (p / self.current_name).is_symlink()
        )

    def numbers(self, item_id: str) -> list[int]:
        """Every stored version of the item, served or not, oldest first; [] if none."""
        folder = self.root / item_id
        if not LAYER_ID_PATTERN.fullmatch(item_id) or not folder.is_dir():
            return []
        return sorted(self._numbers_in(folder))

    def path(self, item_id: str, version: int) -> Path:
        """Where one version's file is (or would be)."""
        return self.root / item_id / f"v{version:06d}{self.suffix}"

    def file(self, item_id: str, version: int) -> Path:
        """The file holding one version: its own, or the one its name links to."""
        name = self.path(item_id, version)
        try:
            return name.with_name(os.readlink(name))
        except OSError:  # not a link (or not there)
            return name

    def served(self, item_id: str) -> tuple[int, Path] | None:
        """The served version's number and the file holding it (which may be missing); None if
        the item is not served. Two `readlink`s: readers ask this on every request."""
        if not LAYER_ID_PATTERN.fullmatch(item_id):
            return None
        try:
            name = os.readlink(self.root / item_id / self.current_name)
        except OSError:
            return None
        match = self._version_file.fullmatch(name)
        if match is None:
            return None
        version = int(match.group(1))
        return version, self.file(item_id, version)

    def current(self, item_id: str) -> Path | None:
        """The file holding the served version (it may be missing); None if unserved."""
        served = self.served(item_id)
        return None if served is None else served[1]

    def current_version(self, item_id: str) -> int | None:
        served = self.served(item_id)
        return None if served is None else served[0]

    def summaries(
        self, item_id: str, read: Callable[[int, Path], dict[str, Any]]
    ) -> list[VersionSummary]:
        """Every stored version, oldest first, with what `read(version, path)` finds in it: the
        `VersionSummary` members it knows (its `meta`, and `features`, `written`, `actor`, `kind`
        where it has them; `written` is else the file's time); a version `read` finds unreadable
        (`LayerUnavailable`) is listed with the problem. `NotFound` if none."""
        numbers = self.numbers(item_id)
        if not numbers:
            raise not_found(self.what, item_id)
        current = self.current_version(item_id)
        listed = []
        for number in numbers:
            path = self.path(item_id, number)
            try:
                found = read(number, path)
            except LayerUnavailable as exc:
                listed.append(VersionSummary(number, number == current, problem=exc.description))
                continue
            listed.append(
                VersionSummary(number, number == current, **{"written": modified_at(path)} | found)
            )
        return listed

    def _numbers_in(self, folder: Path) -> Iterator[int]:
        for name in os.listdir(folder):
            if match := self._version_file.fullmatch(name):
                yield int(match.group(1))

    # -- changing it --------------------------------------------------------------------------
    def publish(
        self,
        item_id: str,
        write: Callable[[int, Path], None],
        *,
        new: bool | None = None,
        serve: bool = True,
    ) -> int:
        """Add the next version of `item_id` and (unless `serve` is False) serve it; returns its
        number.

        `write(version, path)` writes the version's file at `path`, and each sidecar beside it
        as `path.with_suffix(sidecar)`. `new` True: the item must not exist yet (`Conflict`);
        False: it must (`NotFound`); checked under the lock, so two creations never both
        succeed and an archive is never undone by a version in flight. A failure at any point
        leaves no partial file, and no folder for an item that had none.
        """
        with self.lock(item_id) as folder:
            check_existence(self.what, item_id, bool(self.numbers(item_id)), new)
            version = self._next_version(item_id)
            final = self.path(item_id, version)
            suffixes = (*self.sidecars, self.suffix)  # the version's own file last
            staged = final.with_name(f".{final.stem}.partial{self.suffix}")
            parts = [staged.with_suffix(s) for s in suffixes]
            for part in parts:
                part.unlink(missing_ok=True)
            try:
                write(version, staged)
                for part in parts:
                    fsync_file(part)
                for part, suffix in zip(parts, suffixes, strict=True):
                    os.replace(part, final.with_suffix(suffix))
            finally:
                for part in parts:
                    part.unlink(missing_ok=True)
            fsync_dir(folder)
            if serve:
                self._swap(item_id, version)
        return version

    def amend(
        self, item_id: str, base: int, write: Callable[[int, Path], None], *, serve: bool
    ) -> int:
        """Add the next version of `item_id` by amending the file that holds version `base`,
        which must be the newest (`Conflict` otherwise); serve it unless `serve` is False. When
        served, `base` must be the version served: serving the new one would otherwise serve
        the drafts between them unseen (`Conflict`). Returns the new version's number.

        `write(version, file)` makes the file hold the new version as well, in one transaction
        of its own, without changing what any earlier version holds; only then does the version
        get its name (a symlink to the file) and, if served, the link. A failure before the name
        leaves the file holding nothing `write` may not overwrite on the next attempt.
        """
        if not self.numbers(item_id):  # before the lock, which would make its folder
            raise not_found(self.what, item_id)
        with self.lock(item_id) as folder:
            numbers = self.numbers(item_id)
            if not numbers:  # archived meanwhile
                raise not_found(self.what, item_id)
            if base != numbers[-1]:
                raise not_newest(self.what, item_id, base, numbers[-1])
            served = self.current_version(item_id)
            if serve and served != base:
                raise drafts_pending(self.what, item_id, base, served)
            version = self._next_version(item_id)
            target = self.file(item_id, base)
            write(version, target)
            name = self.path(item_id, version)
            temporary = name.with_name(f".{name.name}.{os.getpid()}")
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(target.name)
            os.replace(temporary, name)
            fsync_dir(folder)
            if serve:
                self._swap(item_id, version)
        return version

    def activate(self, item_id: str, version: int) -> None:
        """Serve a stored version (roll back, or publish a draft): the link moves, nothing is
        copied. `NotFound` if the item is not there (any more), `InvalidParameter` if it has
        no such version."""
        if not self.numbers(item_id):  # before the lock, which would make its folder
            raise not_found(self.what, item_id)
        with self.lock(item_id):
            numbers = self.numbers(item_id)
            if not numbers:  # archived meanwhile
                raise not_found(self.what, item_id)
            if version not in numbers:
                raise no_version(self.what, item_id, version, numbers)
            self._swap(item_id, version)

    def archive(self, item_id: str) -> str:
        """Take a served item out in one rename, keeping every version under `.archive/`;
        returns the archived folder's name. `NotFound` unless it is served, checked under the
        lock (a second archive, or one racing another, finds nothing to move); one whose files
        cannot be read is archived too."""
        if self.current(item_id) is None:
            raise not_found(self.what, item_id)
        with self.lock(item_id) as folder:
            if not (folder / self.current_name).is_symlink():
                raise not_found(self.what, item_id)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            target = self.root / ARCHIVE / f"{item_id}-{stamp}"
            target.parent.mkdir(exist_ok=True)
            os.replace(folder, target)
        fsync_dir(self.root)
        return target.name

    def _swap(self, item_id: str, version: int) -> None:
        """Point the item's link at a version, in one rename, durably."""
        link = self.root / item_id / self.current_name
        temporary = link.with_name(f".{link.name}.{os.getpid()}")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(self.path(item_id, version).name)
        os.replace(temporary, link)
        fsync_dir(link.parent)

    def _next_version(self, item_id: str) -> int:
        """One more than any version the item ever had, archived ones included: an item made
        again under an archived id never reuses a number (caches and tile URLs are keyed on
        them)."""
        folders = [self.root / item_id, *(self.root / ARCHIVE).glob(f"{item_id}-*")]
        numbers = [n for folder in folders if folder.is_dir() for n in self._numbers_in(folder)]
        return max(numbers, default=0) + 1

    # -- the lock -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, item_id: str) -> Iterator[Path]:
        """An exclusive lock on one item's folder, held across processes; yields the folder.

        The lock file lives in the folder, which archiving moves away and an unsuccessful first
        publish removes: whoever waited on the lock checks, once it holds it, that its file is
        still the one at the path, and starts again if not. On release a folder left with
        nothing but the lock is removed, so a failed publish leaves nothing behind.
        """
        if not LAYER_ID_PATTERN.fullmatch(item_id):
            raise ValueError(_l("not a {what} id: {item_id!r}", what=self.what, item_id=item_id))
        folder = self.root / item_id
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
