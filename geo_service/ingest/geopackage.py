"""An uploaded GeoPackage is an SQLite database, and a database can hold programs: a view over a
recursive CTE costs minutes of CPU, a view of `zeroblob()` geometries costs memory without limit,
a virtual generated column runs an expression on every read. GDAL runs whatever the file holds,
with no time or memory bound we can set. So the file is first opened here, with our own sqlite3
connection under a time budget (a progress handler), a cap on any one value's size and a small
page cache, and handed to GDAL only when its layer is a plain table of bounded geometries and
nothing GDAL reads on opening can run a program.

Triggers are left alone: they run only on writes, and uploads are opened read-only.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from urllib.request import pathname2url

from ..errors import InvalidParameter, TooLarge
from ..i18n import _l

PROGRESS_STEPS = 1000
"""SQLite virtual-machine steps between two looks at the clock."""
CACHE_KIB = 8 * 1024
"""Page cache of the checking connection."""
ALLOWED_MODULES = {"rtree"}
"""Virtual-table modules a GeoPackage may use: the spatial index."""
_MODULE = re.compile(r"\bUSING\s+[\"'`\[]?(\w+)", re.IGNORECASE)


class TooSlow(InvalidParameter):
    code = "UploadTooSlow"


def check_geopackage(path: Path, table: str | None, seconds: float, max_geometry_bytes: int) -> str:
    """The feature table GDAL may read from the GeoPackage at `path`: `table`, or its only one.

    Refused with 400: a file that is not an intact GeoPackage; any view; a virtual table other
    than an R-tree; a column computed on read (a virtual generated column, which even an
    integrity check evaluates); a `table` that is missing or not spatial; several feature
    tables and no `table`; checking that runs longer than `seconds`. Refused with 413: a
    geometry (or any value met while checking) larger than `max_geometry_bytes`.
    """
    connection = sqlite3.connect(f"file:{pathname2url(str(path))}?mode=ro&immutable=1", uri=True)
    deadline = time.monotonic() + seconds
    connection.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
    connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_geometry_bytes)
    try:
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        connection.execute("PRAGMA query_only = ON")
        return _check(connection, table, max_geometry_bytes)
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise TooSlow(
                _l(
                    "the GeoPackage took longer than {seconds:g} s to check; refused",
                    seconds=seconds,
                )
            ) from None
        raise InvalidParameter(_l("the GeoPackage cannot be read ({exc})", exc=exc)) from None
    except sqlite3.DataError:
        raise _too_large(max_geometry_bytes) from None
    except sqlite3.DatabaseError as exc:
        raise InvalidParameter(
            _l("the GeoPackage is corrupt or not a GeoPackage ({exc})", exc=exc)
        ) from None
    finally:
        connection.close()


def _check(connection: sqlite3.Connection, table: str | None, max_geometry_bytes: int) -> str:
    schema = connection.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    views = sorted(name for kind, name, _ in schema if kind == "view")
    if views:
        raise InvalidParameter(
            _l(
                "the GeoPackage holds views ({value}); save them as tables",
                value=", ".join(views[:5]),
            )
        )
    tables = {name: sql or "" for kind, name, sql in schema if kind == "table"}
    virtual = {name for name, sql in tables.items() if sql.upper().startswith("CREATE VIRTUAL")}
    for name in sorted(virtual):
        module = _MODULE.search(tables[name])
        if not module or module.group(1).lower() not in ALLOWED_MODULES:
            raise InvalidParameter(
                _l(
                    "the GeoPackage holds a virtual table {name!r} that is not a spatial index",
                    name=name,
                )
            )
    for name in sorted(set(tables) - virtual):
        columns = connection.execute(f"PRAGMA table_xinfo({_quote(name)})").fetchall()
        computed = [column[1] for column in columns if column[6] == 2]
        if computed:
            raise InvalidParameter(
                _l(
                    "the GeoPackage's table {name!r} has columns computed on every read ({value})",
                    name=name,
                    value=", ".join(computed),
                )
            )
    (integrity,) = connection.execute("PRAGMA quick_check").fetchone()
    if integrity != "ok":
        raise InvalidParameter(_l("the GeoPackage is corrupt: {integrity}", integrity=integrity))
    missing = {"gpkg_contents", "gpkg_geometry_columns", "gpkg_spatial_ref_sys"} - set(tables)
    if missing:
        raise InvalidParameter(
            _l(
                "the GeoPackage lacks {value}: it is not a GeoPackage",
                value=", ".join(sorted(missing)),
            )
        )
    contents = dict(connection.execute("SELECT table_name, data_type FROM gpkg_contents"))
    geometry_columns = dict(
        connection.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
    )
    features = sorted(
        name
        for name, kind in contents.items()
        if kind == "features" and name in geometry_columns and name in tables
    )
    chosen = _choose(table, features, sorted(contents))
    if chosen in virtual:
        raise InvalidParameter(
            _l("the GeoPackage's table {chosen!r} is a virtual table", chosen=chosen)
        )
    (largest,) = connection.execute(
        f"SELECT max(length({_quote(geometry_columns[chosen])})) FROM {_quote(chosen)}"
    ).fetchone()
    if largest is not None and largest > max_geometry_bytes:
        raise _too_large(max_geometry_bytes)
    return chosen


def _choose(table: str | None, features: list[str], listed: list[str]) -> str:
    if table is not None:
        if table in features:
            return table
        tables = ", ".join(features) or "—"
        if table in listed:
            raise InvalidParameter(
                _l(
                    "the GeoPackage's table {table!r} has no geometry; its feature tables are: {tables}",
                    table=table,
                    tables=tables,
                )
            )
        raise InvalidParameter(
            _l(
                "the GeoPackage has no table {table!r}; its feature tables are: {tables}",
                table=table,
                tables=tables,
            )
        )
    if not features:
        raise InvalidParameter(_l("the GeoPackage holds no feature table"))
    if len(features) > 1:
        raise InvalidParameter(
            _l(
                "the GeoPackage has several feature tables ({value}); say which with `table`",
                value=", ".join(features),
            )
        )
    return features[0]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        _l(
            "the GeoPackage holds a geometry (or another value) larger than {limit:,} bytes, the limit",
            limit=limit,
        )
    )
