"""Listings that survive a broken item: what could be read, and what was skipped and why.

A layer or raster whose stored files cannot be read (corrupt or non-finite metadata, a truncated
GeoPackage, a missing file) is left out of every listing (the catalogue, the map, `/rasters`,
`geo-service layers`), logged once, and named in the listing's `skipped`, so one bad item never
takes the others down. Asked for by its id, it answers `LayerUnavailable` (503); GIS staff can
still archive it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from .errors import LayerUnavailable
from .i18n import Text, _l, render, said
from .i18n.validation import place, placed

log = logging.getLogger(__name__)
_logged: set[tuple[str, str, str]] = set()
_logged_lock = threading.Lock()

UNREADABLE_ERRORS = (OSError, sqlite3.Error, ValueError, TypeError, KeyError, IndexError)
"""What reading damaged stored files raises: a missing or truncated file, SQLite's refusals,
invalid JSON or values (`StrictJSONError` and pydantic's `ValidationError` are `ValueError`s), a
metadata row or table that is not there."""


@dataclass(frozen=True)
class Skipped:
    id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """The entry, its reason in the request's language."""
        return {"id": self.id, "reason": render(self.reason)}


class Listing(list):
    """The readable items, in order, as a list; `skipped` names the unreadable ones."""

    def __init__(self, items: Iterable = (), skipped: Iterable[Skipped] = ()) -> None:
        super().__init__(items)
        self.skipped: list[Skipped] = list(skipped)


def unreadable(kind: str, item_id: str, exc: BaseException) -> LayerUnavailable:
    """The error for a layer or raster whose files raised `exc` when read; logged once. `kind`
    is a message marked with `N_` ("raster"), said in the reader's language."""
    detail = _detail(exc)
    logged = render(detail, "en")
    with _logged_lock:
        first = (kind, item_id, logged) not in _logged
        _logged.add((kind, item_id, logged))
    if first:
        log.error("%s %r cannot be read and is left out: %s", kind, item_id, logged)
    return LayerUnavailable(
        _l(
            "{kind} {item_id!r} cannot be read ({detail}); it is left out until GIS staff publish a new version or archive it",
            kind=Text(kind),
            item_id=item_id,
            detail=detail,
        )
    )


def _detail(exc: BaseException) -> Text:
    """What went wrong, without paths of the server's disk."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return _l("invalid metadata: {problem}", problem=placed(first, place(first) or "metadata"))
    if isinstance(exc, sqlite3.Error):
        return _l("not a readable GeoPackage: {exc}", exc=str(exc))
    if isinstance(exc, ValueError):
        return _l("invalid metadata: {problem}", problem=said(exc))
    return _l("a stored file is missing, truncated or unreadable")
