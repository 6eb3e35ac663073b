"""Heavy exports (PDF site sheets drawn afresh, exports of large results) take one of a few
slots per process: a request finding them all taken waits briefly for one, then is told to come
back later (429 with `Retry-After`), so anonymous downloads cannot take every CPU."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from ..errors import ServiceError
from ..i18n import _l

RETRY_AFTER_SECONDS = 10


class TooManyExports(ServiceError):
    status = 429
    code = "TooManyExports"
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class HeavyExports:
    def __init__(self, slots: int, wait_seconds: float) -> None:
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._free = threading.BoundedSemaphore(slots)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if not self._free.acquire(timeout=self.wait_seconds):
            raise TooManyExports(
                _l(
                    "{slots} large exports are being made; try again in {retry_after_seconds} s",
                    slots=self.slots,
                    retry_after_seconds=RETRY_AFTER_SECONDS,
                )
            )
        try:
            yield
        finally:
            self._free.release()
