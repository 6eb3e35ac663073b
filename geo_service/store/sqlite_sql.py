"""Compile the query model to SQLite SQL over a GeoPackage feature table.

Values always travel as bound parameters; property names are checked against the layer's
schema before they are quoted into SQL, so no part of a filter string can reach SQL as SQL.
Spatial predicates narrow through the GeoPackage R-tree, then `gs_intersects` (a shapely test
registered on the connection) decides exactly, so counts and paging stay right; a rectangle (a
bbox) decides in SQL the features whose R-tree box it holds, so only those across its edges
cost a call into Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import box

from ..catalogue import FieldSpec, LayerMeta
from ..errors import InvalidParameter
from ..i18n import _l
from ..query import (
    And,
    Between,
    Comparison,
    Expr,
    Function,
    GeometryLiteral,
    In,
    IsNull,
    Like,
    Literal,
    Not,
    Or,
    Property,
    Query,
    SortKey,
    SpatialPredicate,
    conjunction,
)
from ..sqlite_functions import query_geometry
from ..text import fold
from .families import FIELD_FAMILY, comparable, not_comparable, value_family

MATCH_ALL = "1"
"""The WHERE clause of a query without conditions."""

GEOMETRY_NAMES = frozenset({"geometry", "geom", "the_geom"})


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableInfo:
    """Where a layer lives inside its GeoPackage."""

    table: str
    geometry_column: str
    rtree: str


@dataclass
class SqlFragment:
    sql: str
    params: list[Any] = field(default_factory=list)


class FilterCompiler:
    """Turns an expression tree into a WHERE clause for one layer."""

    def __init__(self, meta: LayerMeta, table: TableInfo) -> None:
        self.meta = meta
        self.table = table
        self.fields = {f.name: f for f in meta.fields}

    def where(self, query: Query) -> SqlFragment:
        spatial = None
        if query.bbox is not None:
            spatial = SpatialPredicate(
                "s_intersects", Property("geometry"), GeometryLiteral(box(*query.bbox))
            )
        expr = conjunction(spatial, query.filter)
        parts = []
        params: list[Any] = []
        if expr is not None:
            fragment = self.compile(expr)
            parts.append(fragment.sql)
            params.extend(fragment.params)
        search = quote_identifier(self.table.table + "_search")
        for term in search_terms(query.text):
            parts.append(f"t.fid IN (SELECT rowid FROM {search} WHERE text LIKE ?)")
            params.append(f"%{term}%")
        return SqlFragment(" AND ".join(parts) if parts else MATCH_ALL, params)

    def order_by(self, sortby: tuple[SortKey, ...]) -> str:
        keys = [
            f"t.{quote_identifier(self.field_spec(k.name).name)} {'DESC' if k.descending else 'ASC'}"
            for k in sortby
        ]
        return ", ".join([*keys, "t.fid ASC"])

    def compile(self, expr: Expr) -> SqlFragment:
        method = getattr(self, "_" + type(expr).__name__.lower(), None)
        if method is None:
            raise InvalidParameter(
                _l("unsupported filter element: {name}", name=type(expr).__name__)
            )
        return method(expr)

    # -- values -------------------------------------------------------------------------------
    def field_spec(self, name: str) -> FieldSpec:
        spec = self.fields.get(name)
        if spec is None:
            raise InvalidParameter(
                _l(
                    "unknown property {name!r}; queryable properties: {value}",
                    name=name,
                    value=", ".join(self.fields),
                )
            )
        return spec

    def _property(self, expr: Property) -> SqlFragment:
        return SqlFragment("t." + quote_identifier(self.field_spec(expr.name).name))

    def _literal(self, expr: Literal) -> SqlFragment:
        return SqlFragment("?", [sql_value(expr.value)])

    def _function(self, expr: Function) -> SqlFragment:
        inner = self.compile(expr.argument)
        name = {"casei": "gs_lower", "accenti": "gs_unaccent"}[expr.name]
        return SqlFragment(f"{name}({inner.sql})", inner.params)

    def _geometryliteral(self, expr: GeometryLiteral) -> SqlFragment:
        raise InvalidParameter(_l("a geometry can only be used inside S_INTERSECTS"))

    # -- predicates ---------------------------------------------------------------------------
    def _comparison(self, expr: Comparison) -> SqlFragment:
        self._check_types(expr.left, [expr.right])
        left, right = self.compile(expr.left), self.compile(expr.right)
        return SqlFragment(f"({left.sql} {expr.op} {right.sql})", left.params + right.params)

    def _like(self, expr: Like) -> SqlFragment:
        self._check_types(expr.value, [expr.pattern])
        value, pattern = self.compile(expr.value), self.compile(expr.pattern)
        op = "NOT GLOB" if expr.negated else "GLOB"
        # GLOB is case-sensitive, as CQL2 LIKE must be; SQLite's LIKE is not.
        return SqlFragment(
            f"({value.sql} {op} gs_like_to_glob({pattern.sql}))", value.params + pattern.params
        )

    def _between(self, expr: Between) -> SqlFragment:
        self._check_types(expr.value, [expr.low, expr.high])
        value, low, high = (self.compile(e) for e in (expr.value, expr.low, expr.high))
        op = "NOT BETWEEN" if expr.negated else "BETWEEN"
        return SqlFragment(
            f"({value.sql} {op} {low.sql} AND {high.sql})", value.params + low.params + high.params
        )

    def _in(self, expr: In) -> SqlFragment:
        self._check_types(expr.value, list(expr.items))
        value = self.compile(expr.value)
        items = [self.compile(item) for item in expr.items]
        op = "NOT IN" if expr.negated else "IN"
        params = value.params + [p for item in items for p in item.params]
        return SqlFragment(f"({value.sql} {op} ({', '.join(i.sql for i in items)}))", params)

    def _isnull(self, expr: IsNull) -> SqlFragment:
        value = self.compile(expr.value)
        return SqlFragment(f"({value.sql} IS {'NOT ' if expr.negated else ''}NULL)", value.params)

    def _spatialpredicate(self, expr: SpatialPredicate) -> SqlFragment:
        if expr.property.name not in GEOMETRY_NAMES | {self.table.geometry_column}:
            raise InvalidParameter(
                _l("{name!r} is not the geometry property; use 'geometry'", name=expr.property.name)
            )
        geometry = expr.geometry.geometry
        if geometry.is_empty:
            return SqlFragment("0")
        minx, miny, maxx, maxy = geometry.bounds
        rtree = quote_identifier(self.table.rtree)
        wkb = shapely.to_wkb(geometry)
        exact = SqlFragment(
            f"gs_intersects(t.{quote_identifier(self.table.geometry_column)}, ?)", [wkb]
        )
        if query_geometry(wkb)[1] is not None:
            # a rectangle holds every feature whose R-tree box it holds (the R-tree's boxes are
            # rounded outwards): those are decided in SQL, only the others by the Python test
            exact = SqlFragment(
                f"(t.fid IN (SELECT id FROM {rtree} WHERE minx >= ? AND maxx <= ? "
                f"AND miny >= ? AND maxy <= ?) OR {exact.sql})",
                [minx, maxx, miny, maxy, *exact.params],
            )
        return SqlFragment(
            f"(t.fid IN (SELECT id FROM {rtree} WHERE minx <= ? AND maxx >= ? "
            f"AND miny <= ? AND maxy >= ?) AND {exact.sql})",
            [maxx, minx, maxy, miny, *exact.params],
        )

    def _and(self, expr: And) -> SqlFragment:
        return self._join(" AND ", expr.items)

    def _or(self, expr: Or) -> SqlFragment:
        return self._join(" OR ", expr.items)

    def _not(self, expr: Not) -> SqlFragment:
        inner = self.compile(expr.item)
        return SqlFragment(f"(NOT {inner.sql})", inner.params)

    def _join(self, op: str, items: tuple[Expr, ...]) -> SqlFragment:
        return _balanced(op, [self.compile(item) for item in items])

    def _check_types(self, subject: Expr, others: list[Expr]) -> None:
        """A property compared with a literal of another type is a client error, said clearly."""
        operands = [subject, *others]
        props = [self.field_spec(e.name) for e in map(_unwrap, operands) if isinstance(e, Property)]
        literals = [e for e in map(_unwrap, operands) if isinstance(e, Literal)]
        for spec in props:
            reference = FIELD_FAMILY[spec.type]
            for literal in literals:
                family = value_family(literal.value)
                if not comparable(reference, family, literal=True):
                    raise not_comparable(reference, family, spec)


def _balanced(op: str, parts: list[SqlFragment]) -> SqlFragment:
    """`a op b op c …` grouped as a balanced tree: SQLite parses a flat chain of n terms n
    levels deep (and refuses past 1000), a balanced one only log2(n) levels deep."""
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    left, right = _balanced(op, parts[:middle]), _balanced(op, parts[middle:])
    return SqlFragment(f"({left.sql}{op}{right.sql})", left.params + right.params)


def _unwrap(expr: Expr) -> Expr:
    while isinstance(expr, Function):
        expr = expr.argument
    return expr


def search_terms(text: str | None) -> list[str]:
    """Folded words of a free-text query; LIKE wildcards are not search terms."""
    return fold(text or "").replace("%", " ").replace("_", " ").split()


def sql_value(value: Any) -> Any:
    """A Python value as SQLite stores it in a GeoPackage (dates as ISO text, booleans as 0/1)."""
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value
