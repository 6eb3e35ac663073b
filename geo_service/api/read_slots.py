"""The reads a map and its clients make by the hundred (pages, features, tiles) run a few at a
time per worker process (`GEO_SERVICE_READ_THREADS`, two by default), each kind in slots of its
own, beside the thread pool that runs every other route.

Such a read is mostly Python (rows to features, GeoJSON, tile encoding) holding the interpreter
lock, and SQLite gives the lock up at every row it steps: with many reads in threads of one
process, each row hands the lock to another thread and back, and on a virtual machine those
hand-overs cost more than the rows. Measured on two virtual cores, one worker, pages of 100
parcels of a GeoPackage, 8 requests in flight: 160-195 req/s at 6-7.5 ms of CPU a page in the
pool's threads, 250-275 req/s at 3.9-4.3 ms in two slots. A slot per kind keeps a page of
thousands or a crowded tile from holding up a feature's popup: features by id beside a stream
of pages of 1,000 went from 430-570/s in the pool to 510-670/s (one slot a kind: 330-350/s, a
feature then waits behind a page). With two workers and 4 requests each in flight both ways
served alike. Throughput comes from worker processes (`--workers`); slow work (exports, PDF
sheets, uploads, raster statistics) stays in the pool, so it never holds a read up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

P = ParamSpec("P")
T = TypeVar("T")


class ReadSlots:
    """`run` calls a blocking read in a worker thread once one of `slots` is free."""

    def __init__(self, slots: int) -> None:
        self.limiter = CapacityLimiter(slots)

    async def run(self, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await anyio.to_thread.run_sync(
            functools.partial(read, *args, **kwargs), limiter=self.limiter
        )
