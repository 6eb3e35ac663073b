"""A bounded in-memory cache of encoded answers (vector tiles, pipeline pages), per process.

Entries are found by a key that names everything the answer follows from (a layer's version, the
pipeline's change counter, …), so an answer is never served for state it was not made from: a
key that can no longer be asked simply ages out, least recently used first, within the budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
ENTRY_BYTES = 200
"""What one entry costs beside its bytes (key, record), counted against the budget."""


class MemoryCache(Generic[V]):
    """Values by key, least recently used out first beyond `max_bytes`; `size` gives a value's
    bytes. A value larger than the whole budget is not kept (`0`: nothing is)."""

    def __init__(self, max_bytes: int, size: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self.size = size
        self.bytes = 0
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        cost = self.size(value) + ENTRY_BYTES
        if cost > self.max_bytes:
            return
        with self._lock:
            if key in self._values:
                return
            self._values[key] = value
            self.bytes += cost
            while self.bytes > self.max_bytes:
                _, gone = self._values.popitem(last=False)
                self.bytes -= self.size(gone) + ENTRY_BYTES
