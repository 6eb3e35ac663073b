"""Per-feature change sets on the PostGIS store's tables (`postgis_tables.py`), and the rows that
history and diffs are read from.

A change set is applied to the newest generation's table in the transaction that records its
version: the rows it replaces are closed (`gs_to` = the new version) and their successors
inserted (`gs_from` = the new version) under the same `gs_fid`, so a feature keeps its place;
a created feature takes the next `gs_fid`. The work is that of the changed rows and their
indexes, whatever the size of the layer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy import (
    ColumnElement,
    Connection,
    LargeBinary,
    Select,
    Table,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)

from ..catalogue import ID_FIELD, LayerMeta
from ..errors import (
    InvalidParameter,
    NotFound,
    PreconditionFailed,
    changed_twice,
    feature_exists,
)
from ..i18n import _l
from ..query import BBox
from .base import Feature
from .changes import FeatureChange
from .etags import feature_etag
from .postgis_tables import FID, FROM, GEOM, LAYER_SCHEMA, TO
from .sql_query import WGS84_SRID, plain_value, postgres_text

WKB = "gs_wkb"
"""The geometry as WKB, as rows are read."""


@dataclass(frozen=True)
class Row:
    """One stored state of a feature: its row's place and stamps, and its content."""

    fid: int
    first: int
    """The version it appeared in (`gs_from`)."""
    last: int | None
    """The version that superseded it (`gs_to`); None while it is in the newest."""
    properties: dict[str, Any]
    geometry: bytes | None

    @property
    def feature_id(self) -> str:
        return str(self.properties[ID_FIELD])

    def etag(self) -> str:
        return feature_etag(Feature(self.feature_id, self.geometry, self.properties))

    def holds(self, version: int) -> bool:
        return self.first <= version and (self.last is None or self.last > version)


def row_select(table: Table, meta: LayerMeta) -> Select:
    """Every column a `Row` is read from, in `rows`' order."""
    return select(
        table.c[FID],
        table.c[FROM],
        table.c[TO],
        func.ST_AsBinary(table.c[GEOM], type_=LargeBinary).label(WKB),
        *(table.c[name] for name in meta.field_names),
    )


def rows(result: Any, meta: LayerMeta) -> Iterator[Row]:
    names = meta.field_names
    for fid, first, last, geometry, *values in result:
        properties = {n: plain_value(v) for n, v in zip(names, values, strict=True)}
        yield Row(fid, first, last, properties, None if geometry is None else bytes(geometry))


def version_condition(table: Table, version: int) -> ColumnElement:
    """The rows of one version in a table that holds it."""
    return and_(table.c[FROM] <= version, or_(table.c[TO].is_(None), table.c[TO] > version))


def has_z(connection: Connection, table: Table) -> bool:
    dimensions = connection.exec_driver_sql(
        "SELECT coord_dimension FROM geometry_columns "
        "WHERE f_table_schema = %(schema)s AND f_table_name = %(table)s",
        {"schema": LAYER_SCHEMA, "table": table.name},
    ).scalar()
    return dimensions is not None and dimensions >= 3


@dataclass(frozen=True)
class Applied:
    """What a change set did to the newest version: the new version's count, highest feature
    place and extent."""

    features: int
    max_fid: int
    extent: BBox | None


def apply(
    connection: Connection,
    table: Table,
    meta: LayerMeta,
    changes: Sequence[FeatureChange],
    version: int,
    base_features: int,
    base_extent: BBox | None,
) -> Applied:
    """Stamp `changes` into the newest rows of `table` as `version`; refusals before any
    write: a feature changed twice (400), created where it exists (409), changed or deleted
    where it does not (404), or whose ETag is not the one the change expects (412)."""
    ids = [change.feature_id for change in changes]
    repeated = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
    if repeated is not None:
        raise changed_twice(repeated)
    newest = table.c[TO].is_(None)
    current = {
        row.feature_id: row
        for row in rows(
            connection.execute(row_select(table, meta).where(newest, table.c[ID_FIELD].in_(ids))),
            meta,
        )
    }
    for change in changes:
        _check(change, current.get(change.feature_id))
    next_fid = (connection.execute(select(func.max(table.c[FID]))).scalar() or 0) + 1
    z = has_z(connection, table)
    written: list[dict[str, Any]] = []
    boxes: list[BBox] = []
    removed: list[Row] = []
    for change in changes:
        row = current.get(change.feature_id)
        if row is not None:
            removed.append(row)
        if change.op == "delete":
            continue
        if change.op == "create":
            fid, next_fid = next_fid, next_fid + 1
        else:
            fid = row.fid
        properties, geometry = _content(change, row, meta)
        values, box = _values(meta, fid, version, properties, geometry, z)
        written.append(values)
        boxes.extend([box] if box else [])
    if removed:
        connection.execute(
            update(table)
            .where(newest, table.c[ID_FIELD].in_([r.feature_id for r in removed]))
            .values({TO: version})
        )
    if written:
        connection.execute(insert(table).values(written))
    max_fid = connection.execute(select(func.max(table.c[FID])).where(newest)).scalar() or 0
    created = sum(change.op == "create" for change in changes)
    deleted = sum(change.op == "delete" for change in changes)
    extent = _extent(connection, table, base_extent, removed, boxes)
    return Applied(base_features + created - deleted, max_fid, extent)


def _check(change: FeatureChange, row: Row | None) -> None:
    if change.op not in ("create", "replace", "update", "delete"):
        raise InvalidParameter(_l("unknown change {op!r}", op=change.op))
    if change.if_match is not None and (row is None or row.etag() != change.if_match):
        raise PreconditionFailed(
            _l(
                "feature {id!r} changed since it was read (its ETag is not {sent!r}); "
                "read it again",
                id=change.feature_id,
                sent=change.if_match,
            )
        )
    if change.op == "create" and row is not None:
        raise feature_exists(change.feature_id)
    if change.op != "create" and row is None:
        raise NotFound(_l("no feature {id!r} to {op}", id=change.feature_id, op=change.op))


def _content(
    change: FeatureChange, row: Row | None, meta: LayerMeta
) -> tuple[dict[str, Any], bytes | None]:
    given = dict(change.properties or {})
    unknown = sorted(set(given) - set(meta.field_names))
    if unknown:
        raise InvalidParameter(
            _l(
                "unknown properties {unknown}; the layer's fields: {fields}",
                unknown=unknown,
                fields=", ".join(meta.field_names),
            )
        )
    if change.op == "update" and row is not None:
        properties = {**row.properties, **given}
        geometry = row.geometry if change.geometry is None else change.geometry
    else:
        properties = {name: given.get(name) for name in meta.field_names}
        geometry = change.geometry
    properties[ID_FIELD] = change.feature_id
    return properties, geometry


def _values(
    meta: LayerMeta,
    fid: int,
    version: int,
    properties: Mapping[str, Any],
    geometry: bytes | None,
    z: bool,
) -> tuple[dict[str, Any], BBox | None]:
    """A new row's values for INSERT, and its geometry's bounds."""
    values: dict[str, Any] = {FID: fid, FROM: version}
    for spec in meta.fields:
        value = properties.get(spec.name)
        if spec.type == "date" and isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise InvalidParameter(
                    _l("{name}: {value!r} is not an ISO date", name=spec.name, value=value)
                ) from None
        values[spec.name] = value
    if geometry is None:
        values[GEOM] = None
        return values, None
    shape = shapely.from_wkb(geometry)
    shape = shapely.force_3d(shape) if z else shapely.force_2d(shape)
    values[GEOM] = func.ST_GeomFromWKB(literal(shapely.to_wkb(shape), LargeBinary), WGS84_SRID)
    return values, None if shape.is_empty else shape.bounds


def _extent(
    connection: Connection,
    table: Table,
    before: BBox | None,
    removed: list[Row],
    added: list[BBox],
) -> BBox | None:
    """The newest version's extent: the one before widened by the new geometries, unless a
    geometry taken away touched its edge (then read again from the rows)."""
    touching = before is None or any(
        _touches(shapely.from_wkb(row.geometry).bounds, before)
        for row in removed
        if row.geometry is not None
    )
    if touching and removed:
        x0, y0, x1, y1 = (func.ST_XMin, func.ST_YMin, func.ST_XMax, func.ST_YMax)
        column = table.c[GEOM]
        box = connection.execute(
            select(
                func.min(x0(column)), func.min(y0(column)), func.max(x1(column)),
                func.max(y1(column)),
            ).where(table.c[TO].is_(None))
        ).one()  # fmt: skip
        return None if box[0] is None else tuple(float(v) for v in box)
    extent = before
    for bounds in added:
        if extent is None:
            extent = bounds
        else:
            extent = (
                min(extent[0], bounds[0]),
                min(extent[1], bounds[1]),
                max(extent[2], bounds[2]),
                max(extent[3], bounds[3]),
            )
    return extent


def _touches(bounds: tuple[float, float, float, float], extent: BBox) -> bool:
    return (
        bounds[0] <= extent[0]
        or bounds[1] <= extent[1]
        or bounds[2] >= extent[2]
        or bounds[3] >= extent[3]
    )


def feature_rows(
    connection: Connection, table: Table, meta: LayerMeta, feature_id: str
) -> list[Row]:
    """Every row a table holds of one feature, oldest first."""
    statement = (
        row_select(table, meta)
        .where(table.c[ID_FIELD] == postgres_text(feature_id))
        .order_by(table.c[FROM])
    )
    return list(rows(connection.execute(statement), meta))


def changed_rows(
    connection: Connection, table: Table, meta: LayerMeta, low: int, high: int
) -> Iterator[Row]:
    """The rows of a table stamped by the versions after `low` up to `high`: those that appeared
    or were superseded then (through the indexes on both stamps)."""
    stamped = or_(
        and_(table.c[FROM] > low, table.c[FROM] <= high),
        and_(table.c[TO] > low, table.c[TO] <= high),
    )
    statement = row_select(table, meta).where(stamped).order_by(table.c[FID], table.c[FROM])
    yield from rows(connection.execute(statement), meta)


def differing_rows(
    connection: Connection,
    before: tuple[Table, LayerMeta, int],
    after: tuple[Table, LayerMeta, int],
) -> Iterator[tuple[Row | None, Row | None]]:
    """The features whose content differs between two versions kept in different tables (an
    upload between them), matched by id, streamed in id order: the database compares every
    feature and returns only those added, removed or changed."""
    sides = []
    for name, (table, meta, version) in (("a", before), ("b", after)):
        columns = row_select(table, meta).where(version_condition(table, version))
        sides.append(columns.subquery(name))
    a, b = sides
    a_meta, b_meta = before[1], after[1]
    a_types = {f.name: f.type for f in a_meta.fields}
    same = [f.name for f in b_meta.fields if a_types.get(f.name) == f.type]
    others = [
        column.isnot(None)
        for side, meta in ((a, a_meta), (b, b_meta))
        for column in (side.c[f.name] for f in meta.fields if f.name not in same)
    ]
    compared = [a.c[WKB], *(a.c[n] for n in same)], [b.c[WKB], *(b.c[n] for n in same)]
    differs = or_(
        a.c[ID_FIELD].is_(None),
        b.c[ID_FIELD].is_(None),
        tuple_(*compared[0]).is_distinct_from(tuple_(*compared[1])),
        *others,
    )
    statement = (
        select(a, b)
        .select_from(a.join(b, a.c[ID_FIELD] == b.c[ID_FIELD], full=True))
        .order_by(func.coalesce(a.c[ID_FIELD], b.c[ID_FIELD]).collate("C"))  # code points
    )
    width = len(a.c)
    streamed = connection.execution_options(stream_results=True, yield_per=1000)
    for record in streamed.execute(statement.where(differs)):
        left, right = record[:width], record[width:]
        yield (
            next(rows([left], a_meta)) if left[0] is not None else None,
            next(rows([right], b_meta)) if right[0] is not None else None,
        )
