"""The backend-neutral query model.

A request (OGC API parameters, the map, an export) becomes one `Query`; each store compiles it
to its own SQL. Filter expressions are a small immutable tree (`Expr`) produced by the CQL2
parser and by simple `?field=value` parameters alike, so a new backend only needs a compiler.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

from shapely.geometry.base import BaseGeometry

Scalar = str | int | float | bool | dt.date | dt.datetime | None


@dataclass(frozen=True)
class Property:
    """A reference to a feature property (a column)."""

    name: str


@dataclass(frozen=True)
class Literal:
    """A constant: string, number, boolean, DATE or TIMESTAMP."""

    value: Scalar


@dataclass(frozen=True)
class GeometryLiteral:
    """A geometry constant (POINT, POLYGON, BBOX, ...) in WGS 84 longitude/latitude."""

    geometry: BaseGeometry


@dataclass(frozen=True)
class Function:
    """CASEI(...) or ACCENTI(...): case- or accent-insensitive view of a value."""

    name: TypingLiteral["casei", "accenti"]
    argument: Expr


ComparisonOp = TypingLiteral["=", "<>", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class Comparison:
    op: ComparisonOp
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Like:
    """CQL2 LIKE: `%` any run, `_` one character, `\\` escapes; case-sensitive."""

    value: Expr
    pattern: Expr
    negated: bool = False


@dataclass(frozen=True)
class Between:
    value: Expr
    low: Expr
    high: Expr
    negated: bool = False


@dataclass(frozen=True)
class In:
    value: Expr
    items: tuple[Expr, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    value: Expr
    negated: bool = False


@dataclass(frozen=True)
class SpatialPredicate:
    """S_INTERSECTS(property, geometry): the geometry really intersects, not just its box."""

    op: TypingLiteral["s_intersects"]
    property: Property
    geometry: GeometryLiteral


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = (
    Property
    | Literal
    | GeometryLiteral
    | Function
    | Comparison
    | Like
    | Between
    | In
    | IsNull
    | SpatialPredicate
    | And
    | Or
    | Not
)


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool = False


BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Query:
    """What a reader asks of a layer. Every reader goes through this one shape."""

    bbox: BBox | None = None
    filter: Expr | None = None
    text: str | None = None
    properties: tuple[str, ...] | None = None
    sortby: tuple[SortKey, ...] = field(default_factory=tuple)
    limit: int | None = 100
    offset: int = 0


def conjunction(*exprs: Expr | None) -> Expr | None:
    """AND together the given expressions, skipping missing ones."""
    present = tuple(e for e in exprs if e is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else And(present)


def referenced_properties(expr: Expr | None) -> set[str]:
    """Every property name an expression mentions (for validation against a schema)."""
    if expr is None:
        return set()
    if isinstance(expr, Property):
        return {expr.name}
    if isinstance(expr, Literal | GeometryLiteral | SpatialPredicate):
        return set()
    if isinstance(expr, Function):
        return referenced_properties(expr.argument)
    if isinstance(expr, Comparison):
        return referenced_properties(expr.left) | referenced_properties(expr.right)
    if isinstance(expr, Like):
        return referenced_properties(expr.value) | referenced_properties(expr.pattern)
    if isinstance(expr, Between):
        return set().union(*(referenced_properties(e) for e in (expr.value, expr.low, expr.high)))
    if isinstance(expr, In):
        return set().union(
            referenced_properties(expr.value), *map(referenced_properties, expr.items)
        )
    if isinstance(expr, IsNull):
        return referenced_properties(expr.value)
    if isinstance(expr, And | Or):
        return set().union(*(referenced_properties(e) for e in expr.items))
    if isinstance(expr, Not):
        return referenced_properties(expr.item)
    raise TypeError(f"not a filter expression: {expr!r}")
