"""Definitions kept as a folder of TOML files (procedures, targets, kinds): read and checked
once, and read again only when a file in the folder changes."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

from .errors import ServiceError
from .i18n import _l

T = TypeVar("T")


def files_stamp(folder: Path) -> tuple:
    """What changes when a TOML file of the folder is added, removed or written."""
    if not folder.is_dir():
        return ()
    stamps = []
    for path in sorted(folder.glob("*.toml")):
        status = path.stat()  # once a file: each call is a system call
        stamps.append((path.name, status.st_mtime_ns, status.st_size))
    return tuple(stamps)


class DefinitionFolders(Generic[T]):
    """`read(folder)` gives the definitions, or None and every problem; `stamped` keeps them per
    folder until a file changes, and raises `invalid(problems)` when they are wrong."""

    def __init__(
        self,
        read: Callable[[Path], tuple[T | None, list[str]]],
        invalid: Callable[[list[str]], ServiceError],
    ) -> None:
        self.read, self.invalid = read, invalid
        self._cache: dict[Path, tuple[tuple, T]] = {}

    def load(self, folder: Path) -> T:
        return self.stamped(folder)[1]

    def stamped(self, folder: Path) -> tuple[tuple, T]:
        """The folder's stamp (`files_stamp`), taken before its definitions were read, and
        the definitions: what is made from them may be kept under that stamp, since a file
        written while they were read changes it again."""
        folder = _canonical(Path(folder))
        stamp = files_stamp(folder)
        cached = self._cache.get(folder)
        if cached is not None and cached[0] == stamp:
            return cached
        definitions, problems = self.read(folder)
        if definitions is None:
            raise self.invalid(problems)
        self._cache[folder] = (stamp, definitions)
        return stamp, definitions


@lru_cache(maxsize=64)
def _canonical(folder: Path) -> Path:
    """The folder's absolute path, links resolved (a file system walk: once per folder)."""
    return folder.resolve()


def check_unique(values: list[str], message: str) -> None:
    """`ValueError` naming the values given more than once; `message` is a catalogue message
    (`N_("step codes used twice: {value}")`) that names them as `{value}`."""
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(_l(message, value=", ".join(repeated)))
