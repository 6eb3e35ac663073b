"""A feature's history and the difference between two versions of a layer, over its GeoPackage
files: the versions one file holds are told apart by their rows' stamps (`row_versions.py`);
versions in different files (whole uploads) are matched by feature id (`code`).

Two versions in one file differ only in the rows a change set between them added or closed, which
two partial indexes find: a diff costs what changed. Two files are compared in SQL, one attached
to the other, each side's rows matched by id through its index; only the pairs that differ come
back to Python, where field-level changes and geometry moves are worked out.
"""

from __future__ import annotations

import contextlib
import heapq
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

import shapely

from ..catalogue import ID_FIELD, LayerMeta
from .changes import FeatureDiff, FeatureRevision
from .gpkg_blobs import gpkg_to_wkb
from .gpkg_rows import feature_columns
from .gpkg_write import geometry_column, stored_meta
from .moves import metres_moved
from .row_versions import FROM, TO, VersionRecord, is_editable, read_records, visible
from .sqlite_sql import quote_identifier

Connect = Callable[[Path], sqlite3.Connection]
BATCH = 500
"""Feature ids looked up per query."""

State = tuple[bytes | None, dict[str, Any]]
"""A feature as one version holds it: WKB and properties."""


@dataclass(frozen=True)
class VersionFile:
    """One GeoPackage file of a layer and what it says of the versions it holds."""

    path: Path
    meta: LayerMeta
    records: dict[int, VersionRecord]
    geometry_column: str
    editable: bool

    @classmethod
    def read(cls, connection: sqlite3.Connection, path: Path) -> VersionFile:
        meta = stored_meta(connection)
        records = read_records(connection, path, meta)
        return cls(
            path, meta, records, geometry_column(connection, meta.id), is_editable(connection)
        )

    def select(self, alias: str) -> str:
        """The id, geometry and fields of `alias`'s rows."""
        return feature_columns(self.geometry_column, self.meta.field_names, alias)

    def state(self, row: Sequence) -> tuple[str, State]:
        code, blob, *values = row
        return code, (gpkg_to_wkb(blob), dict(zip(self.meta.field_names, values, strict=True)))


def _changed_fields(before: State, after: State) -> tuple[str, ...]:
    """The properties whose values differ (a field one side lacks counts as empty there), then
    "geometry" when the geometries differ."""
    names = list(dict.fromkeys([*before[1], *after[1]]))
    fields = [n for n in names if before[1].get(n) != after[1].get(n)]
    if not _same_geometry(before[0], after[0]):
        fields.append("geometry")
    return tuple(fields)


def _same_geometry(a: bytes | None, b: bytes | None) -> bool:
    if a == b:
        return True
    if a is None or b is None:
        return False
    return bool(shapely.equals_exact(shapely.from_wkb(a), shapely.from_wkb(b), 0))


# -- a feature's history ----------------------------------------------------------------------
def feature_history(
    versions: Sequence[tuple[int, Path]], feature_id: str, connect: Connect
) -> list[FeatureRevision]:
    """Every version among `versions` (number and file, oldest first) in which the feature was
    created, changed or deleted, compared with the version before it."""
    states: dict[int, State | None] = {}
    records: dict[int, VersionRecord] = {}
    by_file: dict[Path, list[int]] = {}
    for number, path in versions:
        by_file.setdefault(path, []).append(number)
    for path, numbers in by_file.items():
        with contextlib.closing(connect(path)) as connection:
            held = VersionFile.read(connection, path)
            for number in numbers:
                states[number] = _state_at(connection, held, number, feature_id)
                records[number] = held.records[number]
    revisions = []
    previous: State | None = None
    for number, _ in versions:
        state = states[number]
        record = records[number]
        if previous is None and state is not None:
            revisions.append(FeatureRevision(number, "created", (), record.actor, record.at))
        elif previous is not None and state is None:
            revisions.append(FeatureRevision(number, "deleted", (), record.actor, record.at))
        elif previous is not None and state is not None:
            changed = _changed_fields(previous, state)
            if changed:
                revisions.append(
                    FeatureRevision(number, "changed", changed, record.actor, record.at)
                )
        previous = state
    return revisions


def _state_at(
    connection: sqlite3.Connection, held: VersionFile, version: int, feature_id: str
) -> State | None:
    row = connection.execute(
        f"SELECT {held.select('t')} FROM {quote_identifier(held.meta.id)} AS t "
        f"WHERE t.{ID_FIELD} = ? AND {visible('t', version, held.records)}",
        (feature_id,),
    ).fetchone()
    return None if row is None else held.state(row)[1]


# -- the difference between two versions ------------------------------------------------------
def diff(
    before: tuple[int, Path], after: tuple[int, Path], connect: Connect
) -> Iterator[FeatureDiff]:
    """Features added, removed and changed from version `before` to version `after` (each a
    number and the file holding it), in id order."""
    if before == after:
        return
    if before[1] == after[1]:
        yield from _diff_in_file(before[0], after[0], before[1], connect)
    else:
        yield from _diff_across_files(before, after, connect)


def _diff_in_file(old: int, new: int, path: Path, connect: Connect) -> Iterator[FeatureDiff]:
    with contextlib.closing(connect(path)) as connection:
        held = VersionFile.read(connection, path)
        if not held.editable:  # one version only
            return
        table = quote_identifier(held.meta.id)
        low, high, first = min(old, new), max(old, new), min(held.records)
        # each condition repeats its partial index's own, so that the planner uses it
        codes = [
            code
            for (code,) in connection.execute(
                f"SELECT {ID_FIELD} FROM {table} WHERE {FROM} > {first} "
                f"AND {FROM} > {low} AND {FROM} <= {high} "
                f"UNION SELECT {ID_FIELD} FROM {table} WHERE {TO} IS NOT NULL "
                f"AND {TO} > {low} AND {TO} <= {high} ORDER BY 1"
            )
        ]
        pairs: list[tuple[str, State | None, State | None]] = []
        for start in range(0, len(codes), BATCH):
            batch = codes[start : start + BATCH]
            marks = ", ".join("?" for _ in batch)
            found: dict[str, list[State | None]] = {code: [None, None] for code in batch}
            for in_old, in_new, *row in connection.execute(
                f"SELECT {visible('t', old, held.records)}, {visible('t', new, held.records)}, "
                f"{held.select('t')} FROM {table} AS t WHERE t.{ID_FIELD} IN ({marks}) "
                f"AND (({visible('t', old, held.records)}) "
                f"OR ({visible('t', new, held.records)}))",
                batch,
            ):
                code, state = held.state(row)
                if in_old:
                    found[code][0] = state
                if in_new:
                    found[code][1] = state
            pairs.extend((code, *found[code]) for code in batch)
    yield from _differences(pairs)


def _diff_across_files(
    before: tuple[int, Path], after: tuple[int, Path], connect: Connect
) -> Iterator[FeatureDiff]:
    with contextlib.closing(connect(before[1])) as connection:
        old = VersionFile.read(connection, before[1])
    with contextlib.closing(connect(after[1])) as connection:
        new = VersionFile.read(connection, after[1])
        connection.execute(
            "ATTACH DATABASE ? AS old", (f"file:{pathname2url(str(old.path))}?mode=ro",)
        )
        changed = _differences(_changed_pairs(connection, old, new, before[0], after[0]))
        added = _only_diffs(connection, (new, "main"), after[0], (old, "old"), before[0], "added")
        removed = _only_diffs(
            connection, (old, "old"), before[0], (new, "main"), after[0], "removed"
        )
        yield from heapq.merge(changed, added, removed, key=lambda diff: diff.feature_id)


def _only_diffs(
    connection: sqlite3.Connection,
    side: tuple[VersionFile, str],
    version: int,
    other: tuple[VersionFile, str],
    other_version: int,
    change: str,
) -> Iterator[FeatureDiff]:
    """The features only `side` holds (`_only_in`), as diffs of `change`, in id order."""
    for rows in _batches(connection.execute(_only_in(side, version, other, other_version))):
        for (code,) in rows:
            yield FeatureDiff(code, change, {}, None)


def _changed_pairs(
    connection: sqlite3.Connection, old: VersionFile, new: VersionFile, before: int, after: int
) -> list[tuple[str, State | None, State | None]]:
    """The features both versions hold that differ in a field or in their geometry blob (the
    blobs of equal geometries written alike are equal; `_differences` looks closer)."""
    old_fields, new_fields = set(old.meta.field_names), set(new.meta.field_names)
    new_geometry = quote_identifier(new.geometry_column)
    differs = [f"n.{new_geometry} IS NOT o.{quote_identifier(old.geometry_column)}"]
    for name in new.meta.field_names:
        column = quote_identifier(name)
        differs.append(
            f"n.{column} IS NOT o.{column}" if name in old_fields else f"n.{column} IS NOT NULL"
        )
    differs += [
        f"o.{quote_identifier(name)} IS NOT NULL"
        for name in old.meta.field_names
        if name not in new_fields
    ]
    sql = (
        f"SELECT {new.select('n')}, {old.select('o')} "
        f"FROM main.{quote_identifier(new.meta.id)} AS n "
        f"JOIN old.{quote_identifier(old.meta.id)} AS o ON o.{ID_FIELD} = n.{ID_FIELD} "
        f"WHERE {visible('n', after, new.records)} AND {visible('o', before, old.records)} "
        f"AND ({' OR '.join(differs)})"
    )
    width = 2 + len(new.meta.field_names)
    pairs = []
    for row in connection.execute(sql):
        code, after_state = new.state(row[:width])
        _, before_state = old.state(row[width:])
        pairs.append((code, before_state, after_state))
    pairs.sort(key=lambda pair: pair[0])
    return pairs


def _only_in(
    side: tuple[VersionFile, str], version: int, other: tuple[VersionFile, str], other_version: int
) -> str:
    """The SQL for the ids of `side`'s rows at `version` that `other` lacks at `other_version`
    (each a file and the schema it is attached as), in id order."""
    (held, schema), (against, other_schema) = side, other
    return (
        f"SELECT s.{ID_FIELD} FROM {schema}.{quote_identifier(held.meta.id)} AS s "
        f"WHERE {visible('s', version, held.records)} AND NOT EXISTS (SELECT 1 FROM "
        f"{other_schema}.{quote_identifier(against.meta.id)} AS r "
        f"WHERE r.{ID_FIELD} = s.{ID_FIELD} AND {visible('r', other_version, against.records)}) "
        f"ORDER BY s.{ID_FIELD}"
    )


def _batches(cursor: sqlite3.Cursor) -> Iterator[list]:
    while rows := cursor.fetchmany(BATCH):
        yield rows


def _differences(
    pairs: Iterable[tuple[str, State | None, State | None]],
) -> Iterator[FeatureDiff]:
    """FeatureDiffs of (id, before, after) triples (None: not in that version), given and
    yielded in id order; the geometry moves of the changed ones are measured together."""
    changed, added, removed = [], [], []
    for code, before, after in pairs:
        if before is None and after is not None:
            added.append(code)
        elif before is not None and after is None:
            removed.append(code)
        elif before is not None and after is not None:
            fields = _changed_fields(before, after)
            if fields:
                changed.append((code, before, after, fields))
    moved_pairs = [(b[0], a[0]) for _, b, a, f in changed if "geometry" in f and b[0] and a[0]]
    moves = iter(metres_moved([b for b, _ in moved_pairs], [a for _, a in moved_pairs]))
    diffs = []
    for code, before, after, fields in changed:
        moved = None  # also where one side has no geometry: there is no distance to give
        if "geometry" in fields and before[0] and after[0]:
            moved = next(moves)
        values = {n: (before[1].get(n), after[1].get(n)) for n in fields if n != "geometry"}
        diffs.append(FeatureDiff(code, "changed", values, moved))
    diffs += [FeatureDiff(code, "added", {}, None) for code in added]
    diffs += [FeatureDiff(code, "removed", {}, None) for code in removed]
    yield from sorted(diffs, key=lambda diff: diff.feature_id)
