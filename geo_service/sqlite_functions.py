"""Python functions that our SQL calls on SQLite: CQL2's text functions and exact intersection.

SQLite knows neither Unicode case and accents nor geometry, so every connection that runs our
compiled queries (a GeoPackage version, the records database) has these registered. The text
functions pass numbers, blobs and NULL through unchanged (SQLite then compares them as it would
without the function), so no column's value can make them raise.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import shapely
from shapely import prepared

from .text import lower, unaccent


@lru_cache(maxsize=64)
def query_geometry(wkb: bytes) -> tuple[Any, tuple[float, float, float, float] | None]:
    """A prepared query geometry, and its bounds when it is an axis-aligned rectangle."""
    geometry = shapely.from_wkb(wkb)
    rectangle = geometry.bounds if geometry.equals(shapely.box(*geometry.bounds)) else None
    return prepared.prep(geometry), rectangle


def wkb_intersects(wkb: bytes | None, query_wkb: bytes) -> int:
    """`gs_intersects_wkb(geometry, wkb)`: whether an ISO WKB geometry really intersects the
    query geometry (its bounding box has been compared already, in SQL); the GeoPackage's
    `gs_intersects` after taking off its blob's header."""
    if wkb is None:
        return 0
    geometry, _ = query_geometry(query_wkb)
    return int(geometry.intersects(shapely.from_wkb(wkb)))


def like_to_glob(pattern: str) -> str:
    """CQL2 LIKE pattern (`%`, `_`, backslash escapes) as an equivalent SQLite GLOB pattern."""
    out = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            literal = next(chars, "\\")
            out.append(_glob_literal(literal))
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        else:
            out.append(_glob_literal(ch))
    return "".join(out)


def _glob_literal(ch: str) -> str:
    return f"[{ch}]" if ch in "*?[" else ch


def _text_function(function: Callable[[str], str]) -> Callable[[Any], Any]:
    return lambda value: function(value) if isinstance(value, str) else value


def register_text_functions(connection: sqlite3.Connection) -> None:
    """CASEI (`gs_lower`), ACCENTI (`gs_unaccent`) and CQL2 LIKE as GLOB (`gs_like_to_glob`)."""
    for name, function in (
        ("gs_lower", lower),
        ("gs_unaccent", unaccent),
        ("gs_like_to_glob", like_to_glob),
    ):
        connection.create_function(name, 1, _text_function(function), deterministic=True)


def register(connection: sqlite3.Connection) -> None:
    """Everything the SQL query compiler (`sql_query.py`) may call on an SQLite connection."""
    register_text_functions(connection)
    connection.create_function("gs_intersects_wkb", 2, wkb_intersects, deterministic=True)
