"""Which version of a layer a request reads, asked of the catalogue once per request.

A request may ask the store about one layer several times: its metadata to read the request's
parameters, then the page, the tile or the extent. The store asks which version is served on the
first of them (PostGIS: a database round trip; GeoPackage: two `readlink`s) and the rest of the
request reads that same version, so the request sees one version throughout and pays for one
catalogue read. The next request asks again, so a publish, rollback or archive made by any
process is served by every process on its next request. Outside a request (the CLI, warming)
every read asks, as before; a write through the store forgets what its request remembered of
the layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_remembered: ContextVar[dict[Hashable, Any] | None] = ContextVar("request_reads", default=None)


@contextlib.contextmanager
def one_request() -> Iterator[None]:
    """The reads inside the block are one request's (threads it starts inherit it)."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def once(key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, remembered under `key` for the rest of the request (not remembered if it
    raises); outside a request, `read()` each time."""
    held = _remembered.get()
    if held is None:
        return read()
    if key not in held:
        held[key] = read()
    return held[key]


def recalled(key: Hashable) -> Any | None:
    """What the request remembered under `key`, if anything."""
    held = _remembered.get()
    return None if held is None else held.get(key)


def forget(key: Hashable) -> None:
    """Drop what the request remembered under `key` (its layer has just changed)."""
    held = _remembered.get()
    if held is not None:
        held.pop(key, None)
