"""Records databases filled once and copied for each test: a random pipeline takes seconds to
write through the store, a copy of the database holding it a fraction of one."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path

from sqlalchemy.engine import make_url

from .data_copies import sqlite_backup
from .postgres import DatabaseFactory


class FilledRecords:
    """Per key and backend, the first test's database is filled and kept as the original; each
    later test's fresh database becomes a copy of it (SQLite's backup, PostgreSQL's template)."""

    def __init__(self, folder: Path, postgres: Callable[[], DatabaseFactory]) -> None:
        self._folder = folder
        self._postgres = postgres
        self._originals: dict[tuple[str, Hashable], str] = {}

    def fill(self, records_url: str, key: Hashable, fill: Callable[[str], None]) -> None:
        """Make the fresh database at `records_url` hold what `fill(records_url)` writes."""
        backend = make_url(records_url).get_backend_name()
        original = self._originals.get((backend, key))
        if original is None:
            fill(records_url)
            self._originals[backend, key] = self._keep(records_url, len(self._originals))
        elif backend == "sqlite":
            _sqlite_copy(original, records_url)
        else:
            self._postgres().replace(records_url, original)

    def _keep(self, records_url: str, n: int) -> str:
        if make_url(records_url).get_backend_name() == "sqlite":
            original = f"sqlite:///{self._folder / f'original-{n}.sqlite'}"
            _sqlite_copy(records_url, original)
            return original
        return self._postgres().copy(records_url)

    def drop(self) -> None:
        for url in self._originals.values():
            if make_url(url).get_backend_name() != "sqlite":
                self._postgres().drop(url)


def _sqlite_copy(source_url: str, target_url: str) -> None:
    sqlite_backup(Path(make_url(source_url).database), Path(make_url(target_url).database))
