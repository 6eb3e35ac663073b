"""Compile the backend-neutral query model to SQLAlchemy Core over a described table.

`sqlite_sql.py` writes SQLite text for the GeoPackage fast path; this compiler serves any table
SQLAlchemy reaches, on SQLite and on PostgreSQL: the records database's projects now, PostGIS
layers later. A `SqlLayer` says which SQL expression each field of a layer's metadata is, how its
geometry is kept (`Spatial`), how free text is searched (`TextSearch`) and which fields are
computed at query time (`DaysSince`). What differs between databases (CASEI, ACCENTI, LIKE, the
exact spatial test, a grid cell's number) is a `Flavour`.

Values travel as bound parameters of a declared type; property names are looked up in the
layer's metadata; operands that cannot be compared (a number with text, CASEI of a date) are a
400 before any SQL runs, so a filter never reaches a database as something it would refuse.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator as python_operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    FromClause,
    Integer,
    LargeBinary,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, Grouping
from sqlalchemy.sql.util import find_tables
from sqlalchemy.types import TypeEngine

from ..catalogue import ID_FIELD, FieldSpec, LayerMeta
from ..errors import InvalidParameter
from ..i18n import _l
from ..query import (
    And,
    BBox,
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
from .families import (
    FIELD_FAMILY,
    TIMES,
    comparable,
    family_name,
    not_comparable,
    value_family,
)
from .sqlite_sql import GEOMETRY_NAMES, search_terms

FACET_VALUES = 200
"""Most distinct values one facet lists."""
WGS84_SRID = 4326
BOX_PARAMETERS = ("gs_min_x", "gs_min_y", "gs_max_x", "gs_max_y")
LIMIT_PARAMETER, OFFSET_PARAMETER = "gs_limit", "gs_offset"
"""The names the values that vary most between queries of one shape are bound by: a statement
built for one query runs another of the same shape given `query_parameters` of it."""

# -- types of operands --------------------------------------------------------------------------

_SQL_TYPES: dict[str | None, TypeEngine] = {
    "text": Text(),
    "number": Float(),
    "date": Date(),
    "datetime": DateTime(timezone=True),
    "boolean": Boolean(),
}


# -- what differs between databases -------------------------------------------------------------


class Flavour(Protocol):
    """The SQL one database needs for what SQL does not say the same way everywhere."""

    name: str

    def casei(self, value: ColumnElement) -> ColumnElement: ...

    def accenti(self, value: ColumnElement) -> ColumnElement: ...

    def like(self, value: ColumnElement, pattern: ColumnElement, escapes: bool) -> ColumnElement:
        """CQL2 LIKE (case-sensitive; `%`, `_`, and with `escapes` `\\` before either)."""

    def wkb_intersects(self, geometry: ColumnElement, other: BaseGeometry) -> ColumnElement:
        """Whether an ISO WKB column really intersects `other` (WGS 84)."""

    def whole(self, value: ColumnElement) -> ColumnElement:
        """A non-negative number rounded down to an integer (a grid cell's number)."""

    def text(self, value: str) -> str:
        """A text value as the database can hold it, or a 400."""

    def date_text(self, column: ColumnElement) -> ColumnElement | None:
        """A date column read as ISO text by the database itself, where it can."""


class SqliteFlavour:
    """SQLite with our Python functions registered (`sqlite_functions.register`)."""

    name = "sqlite"

    def casei(self, value: ColumnElement) -> ColumnElement:
        return func.gs_lower(value)

    def accenti(self, value: ColumnElement) -> ColumnElement:
        return func.gs_unaccent(value)

    def like(self, value: ColumnElement, pattern: ColumnElement, escapes: bool) -> ColumnElement:
        # GLOB is case-sensitive, as CQL2 LIKE must be; SQLite's LIKE is not
        return value.op("GLOB", is_comparison=True)(func.gs_like_to_glob(pattern))

    def wkb_intersects(self, geometry: ColumnElement, other: BaseGeometry) -> ColumnElement:
        wkb = literal(shapely.to_wkb(other), LargeBinary)
        return func.gs_intersects_wkb(geometry, wkb) == 1

    def whole(self, value: ColumnElement) -> ColumnElement:
        return cast(value, Integer)

    def text(self, value: str) -> str:
        return value

    def date_text(self, column: ColumnElement) -> ColumnElement | None:
        return None  # SQLite's dates are read as Python's, then written (`plain_value`)


class PostgresFlavour:
    """PostgreSQL with the `postgis` and `unaccent` extensions (the records migrations create
    them). `unaccent` strips diacritics («đ» as «d») from a dictionary, as fast as `lower`."""

    name = "postgresql"

    def casei(self, value: ColumnElement) -> ColumnElement:
        return func.lower(value)

    def accenti(self, value: ColumnElement) -> ColumnElement:
        return func.unaccent(value)

    def like(self, value: ColumnElement, pattern: ColumnElement, escapes: bool) -> ColumnElement:
        # a pattern read from a column cannot be checked for a dangling escape: none escapes
        return value.like(pattern, escape="\\" if escapes else "")

    def wkb_intersects(self, geometry: ColumnElement, other: BaseGeometry) -> ColumnElement:
        return func.ST_Intersects(
            func.ST_GeomFromWKB(geometry, WGS84_SRID), postgis_geometry(other)
        )

    def whole(self, value: ColumnElement) -> ColumnElement:
        return cast(func.floor(value), Integer)

    def text(self, value: str) -> str:
        return postgres_text(value)

    def date_text(self, column: ColumnElement) -> ColumnElement | None:
        """A `date` as `plain_value` writes it, by PostgreSQL (whatever its DateStyle): a page
        of dates then costs no Python call a value."""
        if isinstance(column.type, Date):
            return func.to_char(column, "YYYY-MM-DD", type_=Text)
        return None


def postgres_text(value: str) -> str:
    """`value` as PostgreSQL can hold it in text (without NUL), or a 400."""
    if "\x00" in value:
        raise InvalidParameter(_l("text values cannot hold the NUL character"))
    return value


def postgis_geometry(geometry: BaseGeometry) -> ColumnElement:
    """A query geometry as a PostGIS value in WGS 84. PostGIS refuses to read some invalid
    shapes GEOS tests as they are (a ring of three points): those are sent repaired."""
    valid = geometry if shapely.is_valid(geometry) else shapely.make_valid(geometry)
    return func.ST_GeomFromWKB(literal(shapely.to_wkb(valid), LargeBinary), WGS84_SRID)


FLAVOURS: dict[str, Flavour] = {"sqlite": SqliteFlavour(), "postgresql": PostgresFlavour()}


def flavour(dialect: str) -> Flavour:
    try:
        return FLAVOURS[dialect]
    except KeyError:
        raise ValueError(
            _l("no SQL flavour for the {dialect!r} dialect", dialect=dialect)
        ) from None


# -- how a table keeps geometry and text --------------------------------------------------------


class Spatial(Protocol):
    """How a described table keeps its geometry."""

    geometry: ColumnElement
    """Selected for a feature: ISO WKB in WGS 84."""

    def box(self) -> tuple[ColumnElement, ColumnElement, ColumnElement, ColumnElement]:
        """min x, min y, max x, max y of each row's geometry."""

    def overlaps(self, bbox: BBox) -> ColumnElement:
        """Rows whose geometry's box overlaps `bbox` (what an index answers)."""

    def intersects(self, geometry: BaseGeometry, flavour: Flavour) -> ColumnElement:
        """Rows whose geometry really intersects `geometry`."""


@dataclass(frozen=True)
class BoxedWkb:
    """A geometry kept as ISO WKB with its bounding box in four indexed columns: the box
    narrows, then the flavour's exact test decides (so counts and paging stay right)."""

    geometry: ColumnElement
    min_x: ColumnElement
    min_y: ColumnElement
    max_x: ColumnElement
    max_y: ColumnElement

    def box(self) -> tuple[ColumnElement, ColumnElement, ColumnElement, ColumnElement]:
        return self.min_x, self.min_y, self.max_x, self.max_y

    def overlaps(self, bbox: BBox) -> ColumnElement:
        minx, miny, maxx, maxy = bbox
        return and_(self.min_x <= maxx, self.max_x >= minx, self.min_y <= maxy, self.max_y >= miny)

    def intersects(self, geometry: BaseGeometry, flavour: Flavour) -> ColumnElement:
        return and_(
            self.overlaps(geometry.bounds),
            flavour.wkb_intersects(self.geometry, geometry),
        )


@dataclass(frozen=True)
class PostGISColumn:
    """A PostGIS `geometry` column in WGS 84 with a GiST index: `&&` narrows by box through
    the index, `ST_Intersects` (which uses it too) decides exactly."""

    column: ColumnElement

    @property
    def geometry(self) -> ColumnElement:
        return func.ST_AsBinary(self.column, type_=LargeBinary)

    def box(self) -> tuple[ColumnElement, ColumnElement, ColumnElement, ColumnElement]:
        return (
            func.ST_XMin(self.column),
            func.ST_YMin(self.column),
            func.ST_XMax(self.column),
            func.ST_YMax(self.column),
        )

    def overlaps(self, bbox: BBox | Sequence[ColumnElement]) -> ColumnElement:
        """Whether the geometry's box overlaps `bbox` (numbers, or SQL expressions such as
        bound parameters)."""
        edges = (v if isinstance(v, ColumnElement) else literal(v, Float) for v in bbox)
        envelope = func.ST_MakeEnvelope(*edges, WGS84_SRID)
        return self.column.op("&&", is_comparison=True)(envelope)

    def intersects(self, geometry: BaseGeometry, flavour: Flavour) -> ColumnElement:
        return func.ST_Intersects(self.column, postgis_geometry(geometry))

    def intersects_box(self, bbox: BBox) -> ColumnElement:
        """Rows whose geometry really intersects `bbox` (of positive width and height), its
        edges bound by name (`BOX_PARAMETERS`): one statement then serves every such box."""
        edges = (bindparam(k, v, type_=Float) for k, v in zip(BOX_PARAMETERS, bbox, strict=True))
        return func.ST_Intersects(self.column, func.ST_MakeEnvelope(*edges, WGS84_SRID))


class TextSearch(Protocol):
    """How a described table answers free text (`q`): every word must match."""

    def matches(self, words: list[str]) -> ColumnElement: ...


@dataclass(frozen=True)
class FoldedText:
    """A column holding the searchable text folded (`text.fold`): each folded word of `q` must
    appear in it, so diacritics and case do not matter."""

    column: ColumnElement

    def matches(self, words: list[str]) -> ColumnElement:
        escaped = (w.replace("\\", "\\\\") for w in words)
        return and_(true(), *(self.column.like(f"%{w}%", escape="\\") for w in escaped))


# -- fields computed at query time --------------------------------------------------------------


@dataclass(frozen=True)
class DaysSince:
    """Whole days from a stored date to `today`; 0 when the date is missing or not yet past
    (e.g. `days_behind` from the earliest open planned date).

    Nothing is computed row by row: a comparison becomes one on the stored date (`days > 30` is
    `date < today − 30`, which an index on it answers), sorting and ranges go by the date
    clamped to today, and the value itself is computed as the row is read.
    """

    date: ColumnElement
    today: dt.date

    def value(self, stored: dt.date | None) -> int:
        if stored is None or stored >= self.today:
            return 0
        return (self.today - stored).days

    def key(self) -> ColumnElement:
        """The date clamped to today: the later, the fewer days (never NULL)."""
        return case((self.date < self.today, self.date), else_=literal(self.today, Date))

    def days_of_key(self, key: dt.date | str | None) -> int | None:
        if key is None:
            return None
        return self.value(dt.date.fromisoformat(key) if isinstance(key, str) else key)

    def compare(self, op: str, number: float | None) -> ColumnElement:
        """`days op number` as a condition on the date, TRUE or FALSE on every row."""
        if number is None:
            return literal(None, Boolean)  # a comparison with NULL: never true, as in SQL
        if op == "<>":
            return not_(self.compare("=", number))
        if op == "=":
            if number != int(number) or number < 0:
                return false()
            if number == 0:
                return self.at_most(0)
            return and_(self.date.is_not(None), self.date == self.today - dt.timedelta(int(number)))
        at_least = {
            ">": int(number // 1) + 1,  # days > 2.5 ⇔ days ≥ 3
            ">=": -int(-number // 1),  # days ≥ 2.5 ⇔ days ≥ 3
            "<": -int(-number // 1),  # days < 2.5 ⇔ not days ≥ 3
            "<=": int(number // 1) + 1,  # days ≤ 2.5 ⇔ not days ≥ 3
        }[op]
        condition = self.at_least(at_least)
        return condition if op in (">", ">=") else not_(condition)

    def at_least(self, days: int) -> ColumnElement:
        if days <= 0:
            return true()
        return and_(self.date.is_not(None), self.date <= self.today - dt.timedelta(days))

    def at_most(self, days: int) -> ColumnElement:
        return not_(self.at_least(days + 1))


# -- the described table ------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlLayer:
    """A layer kept in a SQL table (or a join): which SQL expression each field of `meta` is."""

    meta: LayerMeta
    source: FromClause
    """What rows are selected from: a table or a join."""
    id: ColumnElement
    """The stable feature id (text); the `code` field."""
    columns: Mapping[str, ColumnElement]
    """Every field of `meta` but `code` and the derived ones, by name."""
    spatial: Spatial
    search: TextSearch | None = None
    derived: Mapping[str, DaysSince] = field(default_factory=dict)
    tables: tuple[FromClause, ...] = ()
    """Tables of a `source` that joins them one to one (one row per feature in each): a count,
    facet, grid or extent that reads only one of them reads it alone, through its indexes."""
    order: ColumnElement | None = None
    """The order of features without `sortby`, and among equal sort keys (default: the id)."""
    dense: bool = False
    """Whether `order` numbers the features 1, 2, … n without gaps: an offset into every feature
    then seeks to its place instead of walking past the features before it."""

    def __post_init__(self) -> None:
        missing = [
            f.name
            for f in self.meta.fields
            if f.name != ID_FIELD and f.name not in self.columns and f.name not in self.derived
        ]
        if missing:
            raise ValueError(
                _l("layer {id}: no SQL for the fields {missing}", id=self.meta.id, missing=missing)
            )


_COMPARE: dict[str, Callable[[Any, Any], ColumnElement]] = {
    "=": python_operator.eq,
    "<>": python_operator.ne,
    "<": python_operator.lt,
    "<=": python_operator.le,
    ">": python_operator.gt,
    ">=": python_operator.ge,
}
_FLIPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class Selected:
    """A selected field: its SQL and how a value read from it becomes the feature's."""

    name: str
    sql: ColumnElement
    decode: Callable[[Any], Any] | None
    """None where the value read is the feature's as it is (text, numbers, yes/no)."""


def plain_value(value: Any) -> Any:
    """A value read from the database as the GeoPackage store gives it: dates as ISO text."""
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _may_read_dates(column: ColumnElement) -> bool:
    """Whether values read from `column` may be dates or times (which `plain_value` turns
    into text): unless its type says it holds something else."""
    try:
        held = column.type.python_type
    except NotImplementedError:
        return True
    return issubclass(held, dt.date)


class QueryCompiler:
    """Statements answering queries of one described table, for one database's flavour."""

    def __init__(self, layer: SqlLayer, dialect: str) -> None:
        self.layer = layer
        self.flavour = flavour(dialect)
        self.fields = {f.name: f for f in layer.meta.fields}

    # -- statements ---------------------------------------------------------------------------
    def where(self, query: Query) -> ColumnElement:
        """The condition of every feature the query matches (its paging aside)."""
        spatial, terms = None, []
        if self.box_bound(query):
            terms.append(self.layer.spatial.intersects_box(query.bbox))
        elif query.bbox is not None:
            spatial = SpatialPredicate(
                "s_intersects", Property("geometry"), GeometryLiteral(box(*query.bbox))
            )
        expr = conjunction(spatial, query.filter)
        if expr is not None:
            terms.append(self.predicate(expr))
        words = [self.flavour.text(w) for w in search_terms(query.text)]
        if words:
            if self.layer.search is None:
                raise InvalidParameter(
                    _l("collection {id!r} has no text search", id=self.layer.meta.id)
                )
            terms.append(self.layer.search.matches(words))
        return and_(true(), *terms)

    def box_bound(self, query: Query) -> bool:
        """Whether the query's bbox is bound by name (`BOX_PARAMETERS`): a box of positive width
        and height over a PostGIS column (PostGIS finds no line through a box of no width)."""
        if query.bbox is None or not isinstance(self.layer.spatial, PostGISColumn):
            return False
        minx, miny, maxx, maxy = query.bbox
        return minx < maxx and miny < maxy

    def selected(self, properties: tuple[str, ...] | None) -> list[Selected]:
        """The fields a feature carries: all, or those named (in schema order)."""
        if properties is None:
            return self._every_field
        for name in properties:
            self.field_spec(name)
        return [s for s in self._every_field if s.name in properties]

    @functools.cached_property
    def _every_field(self) -> list[Selected]:
        """Every field: built once a compiler, as most reads read them all."""
        return [self._selected(spec.name) for spec in self.layer.meta.fields]

    def page(self, query: Query, where: ColumnElement, fields: list[Selected]) -> Select:
        statement = (
            select(self.layer.id, self.layer.spatial.geometry, *(s.sql for s in fields))
            .select_from(self.layer.source)
            .where(where)
            .order_by(*self.order_by(query.sortby))
        )
        seek = self.layer.dense and not query.sortby and _selects_everything(query)
        offset = bindparam(OFFSET_PARAMETER, query.offset, type_=BigInteger)
        if seek and query.offset:
            statement = statement.where(self.layer.order > offset)
        elif query.offset:
            statement = statement.offset(offset)
        if query.limit is None:
            return statement
        return statement.limit(bindparam(LIMIT_PARAMETER, query.limit, type_=BigInteger))

    def count(self, where: ColumnElement) -> Select:
        return select(func.count()).select_from(self._from(where)).where(where)

    def counted(self, page: Select, where: ColumnElement) -> Select:
        """The page with how many features match in all as its last column (a subquery that
        does not depend on the row, run once), so one statement answers both."""
        return page.add_columns(self.count(where).scalar_subquery().label("gs_matched"))

    def feature(self, feature_id: str | ColumnElement, fields: list[Selected]) -> Select:
        """The feature with id `feature_id` (a value, or a bound parameter)."""
        if not isinstance(feature_id, ColumnElement):
            feature_id = self.flavour.text(feature_id)
        return (
            select(self.layer.id, self.layer.spatial.geometry, *(s.sql for s in fields))
            .select_from(self.layer.source)
            .where(self.layer.id == feature_id)
        )

    def order_by(self, sortby: tuple[SortKey, ...]) -> list[ColumnElement]:
        """The sort keys (NULL first ascending, last descending, as in SQLite), then the id."""
        keys = []
        for key in sortby:
            self.field_spec(key.name)
            days = self.layer.derived.get(key.name)
            if days is not None:  # more days is an earlier date
                keys.append(days.key().asc() if key.descending else days.key().desc())
                continue
            column = self._column(key.name)
            keys.append(
                column.desc().nulls_last() if key.descending else column.asc().nulls_first()
            )
        natural = self.layer.id if self.layer.order is None else self.layer.order
        return [*keys, natural.asc()]

    def facet(self, where: ColumnElement, name: str) -> tuple[Select, bool]:
        """The statement counting one field's values over the matches (most frequent first),
        or its range for numbers and dates; and whether it is a range."""
        spec = self.field_spec(name)
        days = self.layer.derived.get(name)
        if days is not None:
            key = days.key()
            ranged = select(func.max(key), func.min(key), func.count())
            return ranged.select_from(self._from(where, key)).where(where), True
        column = self._column(name)
        if spec.type in ("integer", "number", "date", "datetime") and not spec.codes:
            ranged = select(func.min(column), func.max(column), func.count(column))
            return ranged.select_from(self._from(where, column)).where(where), True
        # grouped in an outer query: PostgreSQL needs GROUP BY to repeat a computed column's
        # SQL exactly, bound parameters and all
        values = (
            select(column.label("value"))
            .select_from(self._from(where, column))
            .where(and_(where, column.is_not(None)))
            .subquery()
        )
        counted = func.count().label("n")
        statement = (
            select(values.c.value, counted)
            .group_by(values.c.value)
            .order_by(counted.desc(), values.c.value)
            .limit(FACET_VALUES)
        )
        return statement, False

    def grid(self, query: Query, bbox: BBox, columns: int, rows: int) -> Select:
        """Counts and mean box centres per cell of the bbox, as (cell = column × rows + row,
        count, x, y); centres in [min, max) per axis."""
        xmin, ymin, xmax, ymax = bbox
        width, height = (xmax - xmin) / columns, (ymax - ymin) / rows
        minx, miny, maxx, maxy = self.layer.spatial.box()
        where = and_(
            self.where(Query(filter=query.filter, text=query.text, limit=None)),
            self.layer.spatial.overlaps(bbox),
        )
        centres = (
            select(((minx + maxx) / 2).label("cx"), ((miny + maxy) / 2).label("cy"))
            .select_from(self._from(where, minx, miny, maxx, maxy))
            .where(where)
            .subquery()
        )
        x, y = centres.c.cx, centres.c.cy
        column = self._index((x - xmin) / width, columns)
        row = self._index((y - ymin) / height, rows)
        cells = (
            select((column * rows + row).label("cell"), x, y)
            .where(x >= xmin, x < xmax, y >= ymin, y < ymax)
            .subquery()
        )
        return select(
            cells.c.cell, func.count(), func.avg(cells.c.cx), func.avg(cells.c.cy)
        ).group_by(cells.c.cell)

    def extent(self) -> Select:
        box = self.layer.spatial.box()
        minx, miny, maxx, maxy = box
        return select(func.min(minx), func.min(miny), func.max(maxx), func.max(maxy)).select_from(
            self._from(*box)
        )

    def _from(self, *clauses: ColumnElement) -> FromClause:
        """The one table of `tables` holding every column the clauses read, else the source."""
        used = {t for c in clauses for t in find_tables(c, check_columns=True)}
        return next((t for t in self.layer.tables if used <= {t}), self.layer.source)

    def _index(self, position: ColumnElement, count: int) -> ColumnElement:
        whole = self.flavour.whole(position)
        return case((whole > count - 1, count - 1), else_=whole)

    # -- fields -------------------------------------------------------------------------------
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

    def _column(self, name: str) -> ColumnElement:
        return self.layer.id if name == ID_FIELD else self.layer.columns[name]

    def _selected(self, name: str) -> Selected:
        days = self.layer.derived.get(name)
        if days is not None:
            return Selected(name, days.date, days.value)
        column = self._column(name)
        if not _may_read_dates(column):
            return Selected(name, column, None)
        as_text = self.flavour.date_text(column)
        return (
            Selected(name, column, plain_value)
            if as_text is None
            else Selected(name, as_text, None)
        )

    # -- predicates ---------------------------------------------------------------------------
    def predicate(self, expr: Expr) -> ColumnElement:
        if isinstance(expr, And):
            return self._balanced(operators.and_, [self.predicate(e) for e in expr.items])
        if isinstance(expr, Or):
            return self._balanced(operators.or_, [self.predicate(e) for e in expr.items])
        if isinstance(expr, Not):
            return not_(self.predicate(expr.item))
        if isinstance(expr, Literal) and isinstance(expr.value, bool):
            return true() if expr.value else false()
        if isinstance(expr, Comparison):
            return self._comparison(expr.op, expr.left, expr.right)
        if isinstance(expr, Between):
            condition = self._between(expr)
            return not_(condition) if expr.negated else condition
        if isinstance(expr, In):
            return self._in(expr)
        if isinstance(expr, IsNull):
            return self._is_null(expr)
        if isinstance(expr, Like):
            return self._like(expr)
        if isinstance(expr, SpatialPredicate):
            return self._spatial(expr)
        raise InvalidParameter(
            _l("{name} is not a condition; compare it with something", name=type(expr).__name__)
        )

    @staticmethod
    def _balanced(join: Any, parts: list[ColumnElement]) -> ColumnElement:
        """`a op b op c …` grouped as a balanced tree: SQLite parses a flat chain of n terms n
        levels deep (and refuses past 1000), a balanced one only log2(n) levels deep. (A binary
        expression of groups: SQLAlchemy would flatten nested `and_`s back into one chain.)"""
        if len(parts) == 1:
            return parts[0]
        middle = len(parts) // 2
        left = QueryCompiler._balanced(join, parts[:middle])
        right = QueryCompiler._balanced(join, parts[middle:])
        return BinaryExpression(Grouping(left), Grouping(right), join, type_=Boolean())

    def _comparison(self, op: str, left: Expr, right: Expr) -> ColumnElement:
        for subject, other, facing in ((left, right, op), (right, left, _FLIPPED[op])):
            if isinstance(subject, Property) and subject.name in self.layer.derived:
                return self._derived(subject.name, facing, other)
        a, b = self._operands(left, right)
        return _COMPARE[op](a, b)

    def _between(self, expr: Between) -> ColumnElement:
        if isinstance(expr.value, Property) and expr.value.name in self.layer.derived:
            low = self._derived(expr.value.name, ">=", expr.low)
            return and_(low, self._derived(expr.value.name, "<=", expr.high))
        value, low, high = self._operands(expr.value, expr.low, expr.high)
        return value.between(low, high)

    def _in(self, expr: In) -> ColumnElement:
        if isinstance(expr.value, Property) and expr.value.name in self.layer.derived:
            name = expr.value.name
            condition = or_(*(self._derived(name, "=", item) for item in expr.items))
        else:
            value, *items = self._operands(expr.value, *expr.items)
            condition = value.in_(items)
        return not_(condition) if expr.negated else condition

    def _is_null(self, expr: IsNull) -> ColumnElement:
        if isinstance(expr.value, Property) and expr.value.name in self.layer.derived:
            self.field_spec(expr.value.name)
            return true() if expr.negated else false()  # computed for every row
        (value,) = self._operands(expr.value)
        return value.is_not(None) if expr.negated else value.is_(None)

    def _like(self, expr: Like) -> ColumnElement:
        self._refuse_derived(expr.value, expr.pattern)
        # a literal pattern's dangling escape is made literal, as the GeoPackage store reads it
        escapes = not _holds_property(expr.pattern)
        value = self._text(expr.value, False)
        pattern = self._text(expr.pattern, escapes)
        condition = self.flavour.like(value, pattern, escapes)
        return not_(condition) if expr.negated else condition

    def _spatial(self, expr: SpatialPredicate) -> ColumnElement:
        if expr.property.name not in GEOMETRY_NAMES:
            raise InvalidParameter(
                _l("{name!r} is not the geometry property; use 'geometry'", name=expr.property.name)
            )
        geometry = expr.geometry.geometry
        if geometry.is_empty:
            return false()
        return self.layer.spatial.intersects(geometry, self.flavour)

    def _derived(self, name: str, op: str, other: Expr) -> ColumnElement:
        if not isinstance(other, Literal) or value_family(other.value) not in ("number", None):
            raise self._computed(name)
        return self.layer.derived[name].compare(op, other.value)

    def _refuse_derived(self, *exprs: Expr) -> None:
        """A computed field inside a function, LIKE or beside another property: a 400."""
        for expr in exprs:
            inner = _unwrap(expr)
            if isinstance(inner, Property) and inner.name in self.layer.derived:
                raise self._computed(inner.name)

    def _computed(self, name: str) -> InvalidParameter:
        return InvalidParameter(
            _l(
                "{name} is computed as the query runs: compare it with a number, e.g. {name} > 30",
                name=name,
            )
        )

    # -- operands -----------------------------------------------------------------------------
    def _operands(self, *exprs: Expr) -> list[ColumnElement]:
        """SQL for operands compared with one another: each checked to be comparable with the
        first property or function among them (else the first value), and a literal bound as
        that operand's type (a date column takes a date; ISO text of a date stays text)."""
        self._refuse_derived(*exprs)
        families = [self._family(e) for e in exprs]
        placed = [f for e, f in zip(exprs, families, strict=True) if not isinstance(e, Literal)]
        reference = next(iter(placed), next((f for f in families if f is not None), None))
        for expr, family in zip(exprs, families, strict=True):
            if not comparable(reference, family, isinstance(expr, Literal)):
                raise not_comparable(reference, family, self._compared(exprs))
        beside = next((self._sql(e) for e in exprs if not isinstance(e, Literal)), None)
        return [
            self._bind(e.value, None if beside is None else beside.type, reference)
            if isinstance(e, Literal)
            else self._sql(e)
            for e in exprs
        ]

    def _compared(self, exprs: tuple[Expr, ...]) -> FieldSpec | None:
        """The first property among the operands (None if none is a property)."""
        names = [_unwrap(e).name for e in exprs if isinstance(_unwrap(e), Property)]
        return self.field_spec(names[0]) if names else None

    def _family(self, expr: Expr) -> str | None:
        if isinstance(expr, Property):
            if expr.name in GEOMETRY_NAMES and expr.name not in self.fields:
                raise InvalidParameter(_l("the geometry can only be used inside S_INTERSECTS"))
            return FIELD_FAMILY[self.field_spec(expr.name).type]
        if isinstance(expr, Literal):
            return value_family(expr.value)
        if isinstance(expr, Function):
            self._text(expr, False)
            return "text"
        if isinstance(expr, GeometryLiteral):
            raise InvalidParameter(_l("a geometry can only be used inside S_INTERSECTS"))
        raise InvalidParameter(_l("{name} is not a value", name=type(expr).__name__))

    def _sql(self, expr: Expr) -> ColumnElement:
        """A property, or a function of one or of a literal."""
        if isinstance(expr, Property):
            self.field_spec(expr.name)
            return self._column(expr.name)
        if isinstance(expr, Function):
            return self._text(expr, False)
        if isinstance(expr, Literal):
            return self._bind(expr.value, None, value_family(expr.value))
        raise InvalidParameter(_l("{name} is not a value", name=type(expr).__name__))

    def _text(self, expr: Expr, pattern: bool) -> ColumnElement:
        """An operand of LIKE, CASEI or ACCENTI, as text: numbers and dates as they print."""
        if isinstance(expr, Function):
            inner = _unwrap(expr)
            family = self._family(inner)
            if family not in ("text", None):
                raise InvalidParameter(
                    _l(
                        "{value} applies to text, not to {value2}",
                        value=expr.name.upper(),
                        value2=family_name(family),
                    )
                )
            argument = self._text(expr.argument, pattern)
            return (
                self.flavour.casei(argument)
                if expr.name == "casei"
                else self.flavour.accenti(argument)
            )
        if isinstance(expr, Literal):
            value = expr.value
            if value is None:
                return literal(None, Text)
            text = value if isinstance(value, str) else str(plain_value(value))
            if pattern:
                text = _closed_escape(text)
            return literal(self.flavour.text(text), Text)
        if isinstance(expr, Property):
            column = self._sql(expr)
            return column if self.field_spec(expr.name).type == "string" else cast(column, Text)
        raise InvalidParameter(_l("{name} is not a value", name=type(expr).__name__))

    def _bind(self, value: Any, beside: TypeEngine | None, reference: str | None) -> ColumnElement:
        """A literal as a parameter: of the type of what it is compared with (`beside`, else
        the `reference` family of the operands)."""
        if value is None:
            return literal(None, beside if beside is not None else _SQL_TYPES.get(reference, Text))
        if reference in TIMES:
            if beside is None or isinstance(beside, Date | DateTime):
                timestamp = isinstance(beside, DateTime) or (
                    beside is None and reference == "datetime"
                )
                kind = DateTime(timezone=True) if timestamp else Date
                return literal(_as_time(value, timestamp), kind)
            return literal(self.flavour.text(str(plain_value(value))), Text)  # dates kept as text
        if reference == "boolean":
            return literal(value, Boolean)
        if reference == "number":
            return literal(value, BigInteger if isinstance(value, int) else Float)
        return literal(self.flavour.text(value), Text)


def query_parameters(query: Query) -> dict[str, Any]:
    """The values of `query` that statements bind by name: its limit, offset and bbox."""
    values = {LIMIT_PARAMETER: query.limit, OFFSET_PARAMETER: query.offset}
    if query.bbox is not None:
        values.update(zip(BOX_PARAMETERS, query.bbox, strict=True))
    return values


def _selects_everything(query: Query) -> bool:
    return query.bbox is None and query.filter is None and not search_terms(query.text)


def _as_time(value: Any, timestamp: bool) -> dt.date:
    """A date or timestamp literal, or ISO text of one, as the column's type wants it."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParameter(_l("{value!r} is not an ISO date", value=value[:40])) from None
        if not timestamp and value.time() == dt.time(0) and value.tzinfo is None:
            return value.date()
    if timestamp and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(0), dt.UTC)
    return value


def _closed_escape(pattern: str) -> str:
    """A LIKE pattern whose last `\\` escapes nothing: that `\\` made literal (doubled)."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return pattern + "\\" if trailing % 2 else pattern


def _unwrap(expr: Expr) -> Expr:
    while isinstance(expr, Function):
        expr = expr.argument
    return expr


def _holds_property(expr: Expr) -> bool:
    return isinstance(_unwrap(expr), Property)
