"""Alembic migrations of the records database, run at start-up and by `geo-service db upgrade`.

The migration scripts ship inside the package (`migrations/`), so any install can upgrade its
database. Several workers may start at once: each takes a lock first (a file lock beside an
SQLite database, `pg_advisory_lock` on PostgreSQL), looks again, and only the first upgrades.
A database already at the newest revision is recognised without taking the lock. Given the data
directory, an upgrade also copies in what earlier releases kept in files there (`legacy`), under
the same lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from .database import Records
from .legacy import import_legacy_files, pending

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x67656F5F7265  # "geo_re": this service's migrations, on its database
EXTENSION_TABLES = frozenset({"spatial_ref_sys"})
"""Tables an extension the migrations create owns (PostGIS's): not ours to compare or drop."""


def ours(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's `include_name`: everything but the extensions' own tables."""
    return not (type_ == "table" and name in EXTENSION_TABLES)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files(__package__) / "migrations"))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration's revision: read from the migration scripts once per process
    (9 ms), not on each readiness check."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(records: Records) -> str | None:
    with records.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(records: Records, data_dir: Path | None = None) -> tuple[str | None, str | None]:
    """Bring the database to the newest revision, then copy in the files of an earlier release
    found in `data_dir`: (revision before, revision after)."""
    head = head_revision()
    before = current_revision(records)
    if before == head and (data_dir is None or not pending(data_dir)):
        return before, head
    config = alembic_config()
    with records.engine.connect() as connection, _migration_lock(records, connection):
        before = MigrationContext.configure(connection).get_current_revision()
        if before != head:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        if data_dir is not None:
            for line in import_legacy_files(records, data_dir):
                log.warning("records database: %s", line)
    return before, current_revision(records)


@contextlib.contextmanager
def _migration_lock(records: Records, connection: Connection) -> Iterator[None]:
    if records.dialect == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({ADVISORY_LOCK_KEY})")
        connection.commit()
        try:
            yield
        finally:
            connection.rollback()
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})")
            connection.commit()
        return
    database = make_url(records.url).database
    lock_path = Path(f"{database}.migrate-lock") if database else None
    if lock_path is None:  # an in-memory database belongs to one process
        yield
        return
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
