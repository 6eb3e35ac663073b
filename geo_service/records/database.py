"""The records database: one SQLAlchemy engine, sessions for reading and for writing.

Records (pipeline projects and their dossier events, enquiries, GIS staff's tokens and the audit
log, planners' shortlists) are edited one by one, so they live in a relational database rather
than in layer files: an SQLite file in the data directory by default, PostgreSQL (psycopg 3) by
URL, which any number of API processes on any number of machines then share.

SQLite runs with WAL (readers never wait for the writer), foreign keys on and a busy timeout.
Its write sessions begin with `BEGIN IMMEDIATE`, so a transaction that reads and then writes
(check an event against the dossier, then append it) holds the write lock from its first read:
two workers never both pass a check on the same state. On PostgreSQL the same is done per row
with `SELECT … FOR UPDATE` (see `lock_row`), or on a name with an advisory lock (`lock_name`).
SQLite connections also get the Python functions compiled queries call
(`sqlite_functions`): projects are read as a layer too.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ..sqlite_functions import register as register_query_functions

FILE_NAME = "records.sqlite"
BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10
"""How long a new PostgreSQL connection may take: an unreachable server is an error soon
(readiness checks, `geo-service doctor`), not a wait of minutes."""
NAME_LOCKS = 0x67656F5F  # "geo_": the first key of this service's advisory locks on names
_BEGIN = "geo_service_begin"
"""Execution option naming the SQLite BEGIN mode of a connection (DEFERRED or IMMEDIATE)."""


def database_url(url: str | None, data_dir: Path) -> str:
    """The URL to use: the one configured (a bare `postgresql://` means psycopg 3), else the
    SQLite file in the data directory."""
    if not url:
        return f"sqlite:///{(Path(data_dir) / FILE_NAME).resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_engine(url: str) -> Engine:
    path = make_url(url).database
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        _into_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        register_query_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _into_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database in WAL mode. Switching a new file takes its exclusive lock without
    SQLite's busy handler, so connections opening it together (workers starting at once) are
    told "database is locked" at once: they try again for as long as the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def postgresql_engine(
    url: str, ping: bool = True, prepared: bool = False, autocommit: bool = False
) -> Engine:
    """An engine on a PostgreSQL server (psycopg 3), shared by the records and the layer store.

    No server-side prepared statements by default: a generic plan for `id IN (…500
    parameters)` compares every row with every parameter (100x slower on 100,000 projects).
    `prepared`: every statement is prepared on its first run on a connection and its plan
    kept, for an engine that runs only statements whose best plan does not depend on their
    values (a row by its unique key), where planning costs more than running. `ping`: each
    connection is tried before it is lent (one round trip), so a restarted server costs no
    request an error. `autocommit`: each statement on its own, set once a connection rather
    than each time it is lent, and nothing to roll back when it is returned.
    """
    return create_engine(
        url,
        pool_pre_ping=ping,
        isolation_level="AUTOCOMMIT" if autocommit else None,
        pool_reset_on_return=None if autocommit else "rollback",
        connect_args={
            "prepare_threshold": 0 if prepared else None,
            "connect_timeout": CONNECT_TIMEOUT_S,
        },
    )


class Records:
    """The records database of one service: an engine and its sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        if make_url(url).get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(url)
        else:
            self.engine = postgresql_engine(url)
        self._writer = self.engine.execution_options(**{_BEGIN: "IMMEDIATE"})
        self._snapshot = self.engine
        if self.dialect == "postgresql":
            self._snapshot = self.engine.execution_options(isolation_level="REPEATABLE READ")

    @classmethod
    def from_settings(cls, settings: Any) -> Records:
        return cls(database_url(settings.database_url, settings.data_dir))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads; its transaction ends (rolled back) when the block does."""
        with Session(self.engine) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A session for reads that all see the database as one moment left it: PostgreSQL at
        REPEATABLE READ (at READ COMMITTED each statement sees its own moment); an SQLite read
        transaction (WAL) already does."""
        with Session(self._snapshot) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends without an error."""
        with Session(self._writer) as session, session.begin():
            yield session

    def lock_row(self, session: Session, table: Table, key: Any) -> Any:
        """The row of `table` with primary key `key` (None if absent), locked until the
        transaction ends (SQLite's write sessions already hold the database's write lock)."""
        (column,) = table.primary_key.columns
        statement = select(table).where(column == key)
        if self.dialect == "postgresql":
            statement = statement.with_for_update()
        return session.execute(statement).first()

    def lock_name(self, session: Session, name: str) -> None:
        """Lock `name` until the transaction ends: transactions locking one name run one after
        another, e.g. two that count a client's rows before adding one (a PostgreSQL advisory
        lock on the name's hash; SQLite's write sessions already hold the database's lock)."""
        if self.dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(NAME_LOCKS, func.hashtext(name))))

    def dispose(self) -> None:
        self.engine.dispose()
