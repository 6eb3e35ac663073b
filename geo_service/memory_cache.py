"""Bounded in-memory caches, per process: encoded answers (vector tiles, pipeline pages) within
a budget of bytes (`MemoryCache`), and answers of any kind up to a number of them (`LatestKept`).

Entries are found by a key that names everything the answer follows from (a layer's version, the
pipeline's change counter, …), so an answer is never served for state it was not made from: a
key that can no longer be asked simply ages out, least recently used first, within the budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
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


class LatestKept:
    """The latest answers asked, by key, least recently used out first beyond `size`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._answers: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The answer kept under `key`, else `make()`'s, kept."""
        found = self.peek(key)
        if found is None:
            found = make()
            self.put(key, found)
        return found

    def peek(self, key: Hashable) -> Any | None:
        with self._lock:
            if key not in self._answers:
                return None
            self._answers.move_to_end(key)
            return self._answers[key]

    def put(self, key: Hashable, answer: Any) -> None:
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
