"""A records database taken back to an earlier revision, for tests of what a migration does to
the rows already stored."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from geo_service.records import Records
from geo_service.records.migrate import alembic_config


@contextlib.contextmanager
def downgraded(records_url: str, revision: str) -> Iterator[tuple[Connection, Config]]:
    """A connection to the database at `records_url` once downgraded to `revision`, and the
    Alembic config bound to it (`command.upgrade(config, …)` takes it forward again)."""
    records = Records(records_url)
    config = alembic_config()
    try:
        with records.engine.connect() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
            connection.commit()
            yield connection, config
    finally:
        records.dispose()
