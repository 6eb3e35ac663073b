"""OGC CQL2 (text and JSON encodings) parsed into the query model's expression tree.

Supported: comparisons, AND/OR/NOT, LIKE, BETWEEN, IN, IS NULL, CASEI, ACCENTI, DATE and
TIMESTAMP literals, property-property comparisons, and S_INTERSECTS with any WKT geometry or
BBOX. Anything else is a `CQL2Error` that says what was wrong and where, and so is a filter
beyond the query model's limits (`query.MAX_DEPTH`, `MAX_NODES`, `MAX_IN_TERMS`, 64-bit
integers, finite numbers) or a number literal longer than `MAX_NUMBER_LENGTH` characters.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import shapely
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import box, shape

from .errors import InvalidParameter
from .i18n import _l
from .query import (
    MAX_DEPTH,
    MAX_IN_TERMS,
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
    SpatialPredicate,
    check_filter,
)
from .strict_json import StrictJSONError
from .strict_json import loads as strict_loads
from .text import nfc

T = TypeVar("T")

LANGUAGES = ("cql2-text", "cql2-json")
COMPARISON_OPS = ("=", "<>", "<", "<=", ">", ">=")
GEOMETRY_TYPES = frozenset(
    {
        "POINT",
        "LINESTRING",
        "POLYGON",
        "MULTIPOINT",
        "MULTILINESTRING",
        "MULTIPOLYGON",
        "GEOMETRYCOLLECTION",
    }
)
KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE"})
SCALAR_FUNCTIONS = {"CASEI": "casei", "ACCENTI": "accenti"}
SPATIAL_FUNCTIONS = {"S_INTERSECTS": "s_intersects"}
MAX_NUMBER_LENGTH = 40
"""Longest number literal in CQL2 text, in characters (a 64-bit integer has 19 digits)."""


class CQL2Error(ValueError):
    """A filter that is not valid CQL2 (or uses a part of CQL2 not implemented here)."""


def parse_filter(text: str | dict, lang: str | None = None) -> Expr:
    """Parse a `filter` parameter in the given `filter-lang` (default cql2-text)."""
    if lang in (None, "cql2-text") and isinstance(text, str):
        return parse_cql2_text(text)
    if lang == "cql2-json":
        return parse_cql2_json(text)
    if lang in LANGUAGES:
        raise CQL2Error(_l("a cql2-text filter is text, not a JSON object"))
    raise CQL2Error(
        _l(
            "filter-lang {lang!r} is not supported; use one of: {value}",
            lang=lang,
            value=", ".join(LANGUAGES),
        )
    )


def _within_limits(parse: Callable[[], Expr]) -> Expr:
    """The parsed filter, checked against the query model's limits; every refusal, the model's
    own included (an integer beyond 64 bits, a non-finite number), as a `CQL2Error`."""
    try:
        return check_filter(parse())  # type: ignore[return-value]
    except InvalidParameter as exc:
        raise CQL2Error(exc.description) from None


def _too_deep(where: str) -> CQL2Error:
    return CQL2Error(
        _l(
            "the expression nests deeper than {max_depth} levels (parentheses, NOT, functions){where}",
            max_depth=MAX_DEPTH,
            where=where,
        )
    )


def _too_many_terms(count: int) -> CQL2Error:
    return CQL2Error(
        _l(
            "an IN list has {count} values; at most {max_in_terms}",
            count=count,
            max_in_terms=MAX_IN_TERMS,
        )
    )


# -- CQL2 text -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<quoted>"(?:[^"]|"")+")
  | (?P<name>[^\W\d][\w:.]*)
  | (?P<op><>|<=|>=|[=<>(),-])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "name" else self.text


def _tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            found = text[position]
            problem = (
                _l("unterminated quote")
                if found in "'\""
                else _l("unexpected {found!r}", found=found)
            )
            raise CQL2Error(
                _l(
                    "CQL2 syntax error at position {position}: {problem}",
                    position=position,
                    problem=problem,
                )
            )
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _TextParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 1
        """Nesting level of what is being parsed; the whole filter is level 1."""

    # -- token helpers --
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def accept(self, *words: str) -> bool:
        if self.current.upper in words and self.current.kind in ("name", "op"):
            self.index += 1
            return True
        return False

    def expect(self, word: str, what: str) -> None:
        """The next token is `word`, or a syntax error saying `what` (a `Text`) was expected."""
        if not self.accept(word):
            self.fail(_l("expected {what}", what=what))

    def fail(self, message: str) -> None:
        token = self.current
        found = _l("end of input") if token.kind == "end" else repr(token.text)
        raise CQL2Error(
            _l(
                "CQL2 syntax error at position {position}: {message}, found {found}",
                position=token.position,
                message=message,
                found=found,
            )
        )

    def nested(self, parse: Callable[[], T]) -> T:
        """Parse one level deeper (parentheses, NOT, a function's argument), at most MAX_DEPTH
        levels."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _too_deep(f" at position {self.current.position}")
        result = parse()
        self.depth -= 1
        return result

    # -- grammar --
    def parse(self) -> Expr:
        if self.current.kind == "end":
            raise CQL2Error(_l("the filter is empty"))
        expr = self.disjunction()
        if self.current.kind != "end":
            self.fail(_l("expected AND, OR or the end of the filter"))
        return expr

    def disjunction(self) -> Expr:
        items = [self.conjunction()]
        while self.accept("OR"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Expr:
        items = [self.negation()]
        while self.accept("AND"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else And(tuple(items))

    def negation(self) -> Expr:
        if self.accept("NOT"):
            return Not(self.nested(self.negation))
        return self.predicate()

    def predicate(self) -> Expr:
        if self.accept("("):
            inner = self.nested(self.disjunction)
            self.expect(")", "')'")
            return inner
        if self.current.upper in SPATIAL_FUNCTIONS:
            return self.spatial()
        left = self.scalar()
        token = self.current
        if token.kind == "op" and token.text in COMPARISON_OPS:
            self.advance()
            return Comparison(token.text, left, self.scalar())  # type: ignore[arg-type]
        negated = self.accept("NOT")
        if self.accept("LIKE"):
            return Like(left, self.scalar(), negated)
        if self.accept("BETWEEN"):
            low = self.scalar()
            self.expect("AND", _l("AND in BETWEEN"))
            return Between(left, low, self.scalar(), negated)
        if self.accept("IN"):
            self.expect("(", _l("'(' after {word}", word="IN"))
            items = [self.scalar()]
            while self.accept(","):
                if len(items) == MAX_IN_TERMS:
                    raise _too_many_terms(MAX_IN_TERMS + 1)
                items.append(self.scalar())
            self.expect(")", _l("')' closing the IN list"))
            return In(left, tuple(items), negated)
        if not negated and self.accept("IS"):
            is_not = self.accept("NOT")
            self.expect("NULL", _l("NULL after IS"))
            return IsNull(left, is_not)
        if not negated and isinstance(left, Literal) and isinstance(left.value, bool):
            return left
        self.fail(_l("expected a comparison, LIKE, BETWEEN, IN or IS NULL"))
        raise AssertionError  # unreachable: fail() raises

    def scalar(self) -> Expr:
        token = self.current
        if token.kind == "string":
            self.advance()
            return Literal(nfc(token.text[1:-1].replace("''", "'")))
        if token.kind == "number" or (
            token.text == "-" and self.tokens[self.index + 1].kind == "number"
        ):
            return Literal(self.number())
        if token.kind == "quoted":
            self.advance()
            return Property(token.text[1:-1].replace('""', '"'))
        if token.kind != "name":
            self.fail(_l("expected a value or a property name"))
        word = token.upper
        if word in ("TRUE", "FALSE"):
            self.advance()
            return Literal(word == "TRUE")
        if word in ("DATE", "TIMESTAMP") and self.tokens[self.index + 1].text == "(":
            return Literal(self.temporal(word))
        if word in SCALAR_FUNCTIONS:
            self.advance()
            self.expect("(", _l("'(' after {word}", word=word))
            argument = self.nested(self.scalar)
            self.expect(")", _l("')' closing {word}", word=word))
            return Function(SCALAR_FUNCTIONS[word], argument)  # type: ignore[arg-type]
        if word in KEYWORDS:
            self.fail(_l("expected a value or a property name"))
        if self.tokens[self.index + 1].text == "(":
            self.fail(
                _l("unknown function; supported: CASEI, ACCENTI, DATE, TIMESTAMP, S_INTERSECTS")
            )
        self.advance()
        return Property(token.text)

    def number(self) -> int | float:
        sign = -1 if self.accept("-") else 1
        token = self.current
        if token.kind != "number":
            self.fail(_l("expected a number"))
        self.advance()
        text = token.text
        if len(text) > MAX_NUMBER_LENGTH:
            raise CQL2Error(
                _l(
                    "the number at position {position} has {count} characters; at most {max_number_length}",
                    position=token.position,
                    count=len(text),
                    max_number_length=MAX_NUMBER_LENGTH,
                )
            )
        return sign * (int(text) if text.isdigit() else float(text))

    def temporal(self, word: str) -> dt.date | dt.datetime:
        self.advance()
        self.expect("(", _l("'(' after {word}", word=word))
        token = self.current
        if token.kind != "string":
            self.fail(_l("expected a quoted {kind}", kind=word.lower()))
        self.advance()
        self.expect(")", _l("')' closing {word}", word=word))
        return _temporal(word.lower(), token.text[1:-1], token.position)

    def spatial(self) -> Expr:
        name = self.advance().upper
        self.expect("(", _l("'(' after {word}", word=name))
        first = self.spatial_argument()
        self.expect(",", _l("',' between the two arguments"))
        second = self.spatial_argument()
        self.expect(")", _l("')' closing {word}", word=name))
        properties = [a for a in (first, second) if isinstance(a, Property)]
        geometries = [a for a in (first, second) if isinstance(a, GeometryLiteral)]
        if len(properties) != 1 or len(geometries) != 1:
            raise CQL2Error(
                _l("{name} needs one geometry property and one geometry literal", name=name)
            )
        return SpatialPredicate(SPATIAL_FUNCTIONS[name], properties[0], geometries[0])  # type: ignore[arg-type]

    def spatial_argument(self) -> Property | GeometryLiteral:
        token = self.current
        if token.upper == "BBOX":
            self.advance()
            self.expect("(", _l("'(' after {word}", word="BBOX"))
            numbers = [self.number()]
            while self.accept(","):
                numbers.append(self.number())
            self.expect(")", _l("')' closing {word}", word="BBOX"))
            return GeometryLiteral(_bbox(numbers))
        if token.upper in GEOMETRY_TYPES:
            return GeometryLiteral(self.wkt_geometry())
        if token.kind == "quoted" or (token.kind == "name" and token.upper not in KEYWORDS):
            if self.tokens[self.index + 1].text == "(":
                self.fail(_l("unknown geometry type"))
            self.advance()
            return Property(token.text.strip('"') if token.kind == "quoted" else token.text)
        self.fail(_l("expected a geometry property or a geometry (POINT, POLYGON, BBOX, ...)"))
        raise AssertionError  # unreachable: fail() raises

    def wkt_geometry(self) -> Any:
        """Hand the WKT span (keyword to its balanced closing parenthesis) to shapely."""
        start = self.current.position
        depth, seen_open = 0, False
        while True:
            token = self.advance()
            if token.kind == "end":
                self.index -= 1
                self.fail(_l("unbalanced parentheses in the geometry"))
            if token.text == "(":
                depth, seen_open = depth + 1, True
                if depth > MAX_DEPTH:
                    raise _too_deep(f" in the geometry at position {token.position}")
            elif token.text == ")":
                depth -= 1
            if seen_open and depth == 0:
                end = token.position + 1
                break
        try:
            return wkt.loads(self.text[start:end])
        except (ShapelyError, ValueError) as exc:
            raise CQL2Error(
                _l("invalid geometry at position {start}: {exc}", start=start, exc=exc)
            ) from None


def parse_cql2_text(text: str) -> Expr:
    return _within_limits(_TextParser(text).parse)


# -- CQL2 JSON -------------------------------------------------------------------------------


def parse_cql2_json(document: str | dict) -> Expr:
    """A cql2-json filter, as text (read by the strict JSON parser) or already parsed."""
    if isinstance(document, str):
        try:
            document = strict_loads(document)
        except StrictJSONError as exc:
            raise CQL2Error(_l("the filter is not valid JSON: {exc}", exc=exc)) from None
    return _within_limits(lambda: _json_predicate(document, 1))


def _json_args(node: dict, count: int | None = None) -> list:
    args = node.get("args")
    if not isinstance(args, list) or (count is not None and len(args) != count):
        raise CQL2Error(
            _l(
                "operator {value!r} needs {value2} arguments",
                value=node.get("op"),
                value2=count or "a list of",
            )
        )
    return args


def _json_predicate(node: Any, depth: int) -> Expr:
    if depth > MAX_DEPTH:
        raise _too_deep("")
    if isinstance(node, bool):
        return Literal(node)
    if not isinstance(node, dict) or not isinstance(node.get("op"), str):
        raise CQL2Error(
            _l(
                "expected a predicate object with 'op' and 'args', found {value}",
                value=_shown(node),
            )
        )
    op = node["op"]
    lowered = op.lower()
    if lowered in ("and", "or"):
        items = tuple(_json_predicate(a, depth + 1) for a in _json_args(node))
        if len(items) < 2:
            raise CQL2Error(_l("'{op}' needs at least two arguments", op=op))
        return And(items) if lowered == "and" else Or(items)
    if lowered == "not":
        return Not(_json_predicate(_json_args(node, 1)[0], depth + 1))
    if op in COMPARISON_OPS:
        left, right = (_json_scalar(a, depth + 1) for a in _json_args(node, 2))
        return Comparison(op, left, right)  # type: ignore[arg-type]
    if lowered == "like":
        value, pattern = (_json_scalar(a, depth + 1) for a in _json_args(node, 2))
        return Like(value, pattern)
    if lowered == "between":
        value, low, high = (_json_scalar(a, depth + 1) for a in _json_args(node, 3))
        return Between(value, low, high)
    if lowered == "in":
        value, items = _json_args(node, 2)
        if not isinstance(items, list) or not items:
            raise CQL2Error(_l("'in' needs a non-empty list as its second argument"))
        if len(items) > MAX_IN_TERMS:
            raise _too_many_terms(len(items))
        return In(_json_scalar(value, depth + 1), tuple(_json_scalar(i, depth + 1) for i in items))
    if lowered == "isnull":
        return IsNull(_json_scalar(_json_args(node, 1)[0], depth + 1))
    if lowered in SPATIAL_FUNCTIONS.values():
        arguments = [_json_spatial_argument(a) for a in _json_args(node, 2)]
        properties = [a for a in arguments if isinstance(a, Property)]
        geometries = [a for a in arguments if isinstance(a, GeometryLiteral)]
        if len(properties) != 1 or len(geometries) != 1:
            raise CQL2Error(_l("'{op}' needs one geometry property and one geometry", op=op))
        return SpatialPredicate(lowered, properties[0], geometries[0])  # type: ignore[arg-type]
    raise CQL2Error(_l("operator {op!r} is not supported", op=op))


def _json_scalar(node: Any, depth: int) -> Expr:
    """A value, a property or a function of one; `depth` is the level a function here is at."""
    if isinstance(node, str):
        return Literal(nfc(node))
    if isinstance(node, bool | int | float) or node is None:
        return Literal(node)
    if isinstance(node, dict):
        if set(node) == {"property"} and isinstance(node["property"], str):
            return Property(node["property"])
        for kind in ("date", "timestamp"):
            if set(node) == {kind} and isinstance(node[kind], str):
                return Literal(_temporal(kind, node[kind], None))
        if isinstance(node.get("op"), str) and node["op"].lower() in SCALAR_FUNCTIONS.values():
            if depth > MAX_DEPTH:
                raise _too_deep("")
            argument = _json_scalar(_json_args(node, 1)[0], depth + 1)
            return Function(node["op"].lower(), argument)
    raise CQL2Error(
        _l("expected a value, a property or CASEI/ACCENTI, found {value}", value=_shown(node))
    )


def _json_spatial_argument(node: Any) -> Property | GeometryLiteral:
    if isinstance(node, dict) and set(node) == {"property"}:
        return Property(str(node["property"]))
    if isinstance(node, dict) and set(node) == {"bbox"} and isinstance(node["bbox"], list):
        return GeometryLiteral(_bbox(node["bbox"]))
    if isinstance(node, dict) and "type" in node:
        try:
            geometry = shape(node)
        except Exception as exc:  # shapely raises many kinds for malformed GeoJSON
            raise CQL2Error(_l("invalid GeoJSON geometry: {value}", value=_shown(exc))) from None
        return GeometryLiteral(geometry)
    raise CQL2Error(_l("expected a property or a geometry, found {value}", value=_shown(node)))


# -- shared ----------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A client's value for an error message: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


def _bbox(numbers: list) -> shapely.Geometry:
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(
        isinstance(n, int | float) and not isinstance(n, bool) for n in numbers
    ):
        raise CQL2Error(_l("BBOX needs 4 (or 6) numbers: minLon, minLat, maxLon, maxLat"))
    if not all(math.isfinite(n) for n in numbers):
        raise CQL2Error(_l("BBOX {value}: a coordinate is not finite", value=_shown(numbers)))
    return box(*numbers)


def _temporal(kind: str, text: str, position: int | None) -> dt.date | dt.datetime:
    where = "" if position is None else f" at position {position}"
    try:
        if kind == "date":
            return dt.date.fromisoformat(text)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CQL2Error(
            _l("invalid {value} {text!r}{where}", value=kind.upper(), text=text, where=where)
        ) from None
    if value.tzinfo is None:
        raise CQL2Error(
            _l("TIMESTAMP {text!r}{where} needs a time zone, e.g. 'Z'", text=text, where=where)
        )
    return value
