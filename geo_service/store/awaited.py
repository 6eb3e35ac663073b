"""Lookups by a unique key awaited on the event loop, over psycopg's async connections.

A feature by its id costs PostgreSQL a tenth of a millisecond on a kept plan; handed to a
thread and back, as every other read is (`api/read_slots.py`), it cost the worker more than the
read itself. Measured on two virtual cores, 1,000,000 parcels, 8 requests in flight over two
workers: 1,290 features a second at 1.1 ms of the worker's CPU each through a thread, 1,820–2,110
at 0.7–0.8 ms awaited. Awaiting never blocks the loop; only lookups come here because what
follows a page's or a tile's rows (features, GeoJSON, tile encoding: milliseconds of Python)
would, and every other request of the worker would wait for it.

A pool belongs to the event loop it was opened in (`opened`, for the life of the service's
loop); from another loop, or before it is open, lookups are not `available` and the store reads
in a thread as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from psycopg import AsyncConnection, OperationalError
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from ..records.database import CONNECT_TIMEOUT_S

CONNECTIONS = 4
"""PostgreSQL connections a worker process keeps for lookups: lookups are short, so a few
serve a worker's requests in flight; a request finding none free awaits one."""


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://…`) as libpq reads it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AwaitedLookups:
    """One statement, one row: autocommit, every statement prepared on first use (its plan
    kept, as the lookup engine's), results in binary (the same values `_BinaryResultsCursor`
    reads); `setup` is run once on each new connection."""

    def __init__(self, url: str, setup: str) -> None:
        self.url = url
        self.setup = setup
        self._pool: AsyncConnectionPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[None]:
        """The pool, open while the running loop is in this block (a service's lifespan)."""
        pool = AsyncConnectionPool(
            libpq_url(self.url),
            min_size=1,
            max_size=CONNECTIONS,
            kwargs={
                "autocommit": True,
                "prepare_threshold": 0,
                "connect_timeout": CONNECT_TIMEOUT_S,
            },
            configure=self._set_up,
            timeout=CONNECT_TIMEOUT_S,
            open=False,
            name="awaited-lookups",
        )
        await pool.open(wait=False)  # a database down at start-up is a 503 later, not a crash
        self._pool, self._loop = pool, asyncio.get_running_loop()
        try:
            yield
        finally:
            self._pool = self._loop = None
            await pool.close()

    async def _set_up(self, connection: AsyncConnection) -> None:
        await connection.execute(self.setup)

    @property
    def available(self) -> bool:
        """Whether lookups can be awaited here: the pool is open, in the running loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self._pool is not None and self._loop is loop

    async def first(self, sql: str, parameters: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The statement's first row (None if it has none), once more on another connection if
        the one lent had been dropped by the server (restarted, or its backend ended), which
        likely dropped the pool's others too: those are tried and replaced first. Errors
        are psycopg's (`postgis._database_errors` maps them); a pool left with no connection
        for `CONNECT_TIMEOUT_S` raises `PoolTimeout`, an `OperationalError`."""
        pool = self._pool
        assert pool is not None, "lookups awaited outside `opened`"
        try:
            return await _first(pool, sql, parameters)
        except _Dropped:
            await pool.check()
            return await _first(pool, sql, parameters)


async def _first(
    pool: AsyncConnectionPool, sql: str, parameters: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    async with pool.connection() as connection:
        try:
            cursor = connection.cursor(binary=True)
            await cursor.execute(sql, parameters)
            return await cursor.fetchone()
        except OperationalError as exc:
            if connection.broken:
                raise _Dropped(str(exc)) from exc
            raise


class _Dropped(OperationalError):
    """The connection lent had been closed by the server."""
