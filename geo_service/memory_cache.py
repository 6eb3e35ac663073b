"""Bounded in-memory caches, per process: encoded answers (vector tiles, pipeline pages) within
a budget of bytes (`MemoryCache`), and answers of any kind up to a number of them
(`latest_kept`).

Entries are found by a key that names everything the answer follows from (a layer's version, the
pipeline's change counter, …), so an answer is never served for state it was not made from: a
key that can no longer be asked simply ages out, least recently used first, within the budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

V = TypeVar("V")
ENTRY_BYTES = 200
"""What one entry costs beside its bytes (key, record), counted against the budget."""


class MemoryCache(Generic[V]):
    """Values by key, least recently used out first beyond `max_bytes`; `size` gives a value's
    bytes, and each entry costs `entry_bytes` beside them. A value larger than the whole budget
    is not kept (`0`: nothing is)."""

    def __init__(
        self, max_bytes: int, size: Callable[[V], int], entry_bytes: int = ENTRY_BYTES
    ) -> None:
        self.max_bytes = max_bytes
        self.size = size
        self.entry_bytes = entry_bytes
        self.bytes = 0
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._making: dict[Hashable, Future] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, wait: bool = False) -> V | None:
        """The value kept under `key` (None: none); with `wait`, the value another thread is
        making for it (`get_or_make`) once made (None if making it failed)."""
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
                return value
            making = self._making.get(key) if wait else None
        if making is None:
            return None
        try:
            return making.result()
        except Exception:
            return None

    def put(self, key: Hashable, value: V) -> None:
        cost = self.size(value) + self.entry_bytes
        if cost > self.max_bytes:
            return
        with self._lock:
            if key in self._values:
                return
            self._values[key] = value
            self.bytes += cost
            while self.bytes > self.max_bytes:
                _, gone = self._values.popitem(last=False)
                self.bytes -= self.size(gone) + self.entry_bytes

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value kept under `key`, else `make()`'s, kept. A caller asking for a key another
        thread is making waits for that value (or error) instead of making it too: requests
        arriving together at a cold process do the work once."""
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._values.get(key)  # made while this thread looked
            if found is not None:
                return found
            making = self._making.get(key)
            owner = making is None
            if owner:
                making = self._making[key] = Future()
        if not owner:
            return making.result()
        try:
            found = make()
            self.put(key, found)
        except BaseException as error:
            making.set_exception(error)
            raise
        finally:
            with self._lock:
                del self._making[key]
        making.set_result(found)
        return found


def latest_kept(count: int) -> MemoryCache[Any]:
    """Answers of any kind, the latest `count` asked: each entry costs one of the budget."""
    return MemoryCache(count, lambda _: 0, entry_bytes=1)
