"""The backend-neutral query model.

A request (OGC API parameters, the map, an export) becomes one `Query`; each store compiles it
to its own SQL. Filter expressions are a small immutable tree (`Expr`) produced by the CQL2
parser and by simple `?field=value` parameters alike, so a new backend only needs a compiler.

What a client may ask is bounded here, once for every reader and backend: a literal is a
64-bit integer, a finite number or Unicode text; a geometry has finite coordinates; a filter,
a text search, a sort order and a property list stay within the limits below. Anything else is
an `InvalidParameter` (400) that names the limit, never an error deep in a driver.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .errors import InvalidParameter
from .i18n import _l, said
from .strict_json import StrictJSONError, check_text
from .text import without_nul

Scalar = str | int | float | bool | dt.date | dt.datetime | None

MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1
"""Integers a literal, a limit or an offset may hold: SQLite's (and PostgreSQL's) 64 bits."""
MAX_DEPTH = 20
"""Deepest nesting of a filter: AND/OR/NOT, parentheses and functions inside one another."""
MAX_NODES = 1000
"""Most elements in one filter (properties, values, operators), all parameters together."""
MAX_IN_TERMS = 500
"""Most values in one IN list."""
MAX_TEXT_WORDS = 20
"""Most words in a free-text search (`q`); each one must match."""
MAX_TEXT_LENGTH = 500
"""Longest free-text search (`q`), in characters."""
MAX_SORT_KEYS = 10
"""Most properties in one `sortby`."""
MAX_PROPERTIES = 500
"""Most names in one `properties` list."""


@dataclass(frozen=True)
class Property:
    """A reference to a feature property (a column)."""

    name: str


@dataclass(frozen=True)
class Literal:
    """A constant: string, number, boolean, DATE or TIMESTAMP.

    Only values every backend can bind: a 64-bit integer, a finite number, Unicode text.
    """

    value: Scalar

    def __post_init__(self) -> None:
        value = self.value
        if isinstance(value, int) and not isinstance(value, bool):
            check_integer(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidParameter(_l("the number {value} is not finite", value=value))
        elif isinstance(value, str):
            try:
                without_nul(check_text(value, repr(value)[:40]))  # no store holds NUL in text
            except ValueError as exc:  # `StrictJSONError` is one
                raise InvalidParameter(said(exc)) from None


@dataclass(frozen=True)
class GeometryLiteral:
    """A geometry constant (POINT, POLYGON, BBOX, ...) in WGS 84 longitude/latitude."""

    geometry: BaseGeometry

    def __post_init__(self) -> None:
        if not np.isfinite(shapely.get_coordinates(self.geometry)).all():
            raise InvalidParameter(_l("a geometry has coordinates that are not finite numbers"))


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
    """What a reader asks of a layer. Every reader goes through this one shape.

    The text, sort keys, property list, limit and offset are checked against the limits above
    when the query is made; a filter from a client is checked by `check_filter`.
    """

    bbox: BBox | None = None
    filter: Expr | None = None
    text: str | None = None
    properties: tuple[str, ...] | None = None
    sortby: tuple[SortKey, ...] = field(default_factory=tuple)
    limit: int | None = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if self.text is not None:
            check_search_text(self.text)
        if len(self.sortby) > MAX_SORT_KEYS:
            raise InvalidParameter(
                _l(
                    "sortby names {count} properties; at most {max_sort_keys}",
                    count=len(self.sortby),
                    max_sort_keys=MAX_SORT_KEYS,
                )
            )
        if self.properties is not None and len(self.properties) > MAX_PROPERTIES:
            raise InvalidParameter(
                _l(
                    "properties names {count} properties; at most {max_properties}",
                    count=len(self.properties),
                    max_properties=MAX_PROPERTIES,
                )
            )
        for name, number in (("limit", self.limit), ("offset", self.offset)):
            if number is not None:
                check_integer(number, name)


def check_integer(value: int, what: str = "") -> int:
    """`value`, or a 400 when it does not fit in 64 bits (compared nowhere, never truncated);
    `what` names the parameter in the message."""
    if not MIN_INTEGER <= value <= MAX_INTEGER:
        digits = int(value.bit_length() * math.log10(2)) + 1
        shown = str(value) if digits <= 40 else f"of about {digits} digits"
        raise InvalidParameter(
            _l(
                "{value}the integer {shown} is outside the 64-bit range {min_integer}..{max_integer}",
                value=what + ": " if what else "",
                shown=shown,
                min_integer=MIN_INTEGER,
                max_integer=MAX_INTEGER,
            )
        )
    return value


def check_search_text(text: str) -> str:
    """A free-text search within MAX_TEXT_LENGTH characters and MAX_TEXT_WORDS words."""
    try:
        check_text(text, "q")
    except StrictJSONError as exc:
        raise InvalidParameter(said(exc)) from None
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidParameter(
            _l(
                "q has {count} characters; at most {max_text_length}",
                count=len(text),
                max_text_length=MAX_TEXT_LENGTH,
            )
        )
    if len(text.split()) > MAX_TEXT_WORDS:
        raise InvalidParameter(
            _l(
                "q has {count} words; at most {max_text_words}",
                count=len(text.split()),
                max_text_words=MAX_TEXT_WORDS,
            )
        )
    return text


def check_filter(expr: Expr | None) -> Expr | None:
    """`expr`, or a 400 when its operators nest deeper than MAX_DEPTH or it holds more than
    MAX_NODES elements. Walks without recursion, so any tree can be measured."""
    if expr is None:
        return None
    nodes, deepest = 0, 0
    pending: list[tuple[Expr, int]] = [(expr, 1)]
    while pending:
        node, depth = pending.pop()
        nodes += 1
        if not isinstance(node, Property | Literal | GeometryLiteral):  # operands add no level
            deepest = max(deepest, depth)
        if nodes > MAX_NODES:
            raise InvalidParameter(
                _l(
                    "the expression has more than {max_nodes} elements (properties, values, operators)",
                    max_nodes=MAX_NODES,
                )
            )
        if deepest > MAX_DEPTH:
            raise InvalidParameter(
                _l("the expression nests deeper than {max_depth} levels", max_depth=MAX_DEPTH)
            )
        pending.extend((child, depth + 1) for child in _children(node))
    return expr


def _children(expr: Expr) -> tuple[Expr, ...]:
    """The operands of an operator; nothing for a property, a value or a geometry."""
    if isinstance(expr, Function):
        return (expr.argument,)
    if isinstance(expr, Comparison):
        return (expr.left, expr.right)
    if isinstance(expr, Like):
        return (expr.value, expr.pattern)
    if isinstance(expr, Between):
        return (expr.value, expr.low, expr.high)
    if isinstance(expr, In):
        return (expr.value, *expr.items)
    if isinstance(expr, IsNull):
        return (expr.value,)
    if isinstance(expr, SpatialPredicate):
        return (expr.property, expr.geometry)
    if isinstance(expr, And | Or):
        return expr.items
    if isinstance(expr, Not):
        return (expr.item,)
    return ()


def conjunction(*exprs: Expr | None) -> Expr | None:
    """AND together the given expressions, skipping missing ones; an AND among them is
    merged into the result rather than nested in it."""
    present = tuple(
        item for e in exprs if e is not None for item in (e.items if isinstance(e, And) else (e,))
    )
    if not present:
        return None
    return present[0] if len(present) == 1 else And(present)
