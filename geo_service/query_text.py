"""Query text becomes a `Query`: the OGC API – Features parameters (bbox, filter, sortby,
properties, q, datetime, `?field=value`), as a request's query string, the command line or a
ranking's candidates give them, validated and turned into the backend-neutral query in one
place (`build_query`). A parameter that cannot be understood is an `InvalidParameter` (400) that
names it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from .catalogue import FieldSpec, LayerMeta
from .cql2 import CQL2Error, parse_filter
from .errors import invalid
from .i18n import _l, said
from .query import (
    BBox,
    Between,
    Comparison,
    Expr,
    Literal,
    Property,
    Query,
    SortKey,
    check_filter,
    check_integer,
    conjunction,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84_ALIASES = {
    CRS84,
    "CRS84",
    "OGC:CRS84",
    "EPSG:4326",
    "http://www.opengis.net/def/crs/EPSG/0/4326",
}

RESERVED = frozenset(
    {
        "bbox",
        "bbox-crs",
        "crs",
        "limit",
        "offset",
        "filter",
        "filter-lang",
        "filter-crs",
        "sortby",
        "properties",
        "q",
        "datetime",
        "f",
        "lang",
    }
)


def parse_bbox(text: str) -> BBox:
    try:
        numbers = [float(v) for v in text.split(",")]
    except ValueError:
        raise invalid("bbox", _l("{text!r} must be comma-separated numbers", text=text)) from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise invalid("bbox", _l("{text!r} must be minLon,minLat,maxLon,maxLat", text=text))
    minx, miny, maxx, maxy = numbers
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise invalid(
            "bbox", _l("{text!r} is outside longitude -180..180, latitude -90..90", text=text)
        )
    if minx > maxx:
        raise invalid("bbox", _l("{text!r}: minimum longitude is greater than maximum", text=text))
    return minx, miny, maxx, maxy


def check_crs84(name: str, value: str | None) -> None:
    if value is not None and value not in CRS84_ALIASES:
        raise invalid(name, _l("{value!r} is not supported; use {crs84}", value=value, crs84=CRS84))


def parse_sortby(text: str | None) -> tuple[SortKey, ...]:
    keys = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if not name:
            raise invalid("sortby", _l("item {item!r} names no property", item=item))
        keys.append(SortKey(name, descending))
    return tuple(keys)


def parse_datetime(text: str) -> Expr | None:
    """OGC `datetime` (an instant or an interval with `..` open ends) on `updated_at`."""

    def bound(value: str) -> str | None:
        if value in ("", ".."):
            return None
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                raise invalid(
                    "datetime", _l("{text!r} is not an RFC 3339 date or interval", text=text)
                ) from None

    field = Property("updated_at")
    if "/" not in text:
        return Comparison("=", field, Literal(bound(text)))
    start, _, end = text.partition("/")
    low, high = bound(start), bound(end)
    if low and high:
        return Between(field, Literal(low), Literal(high))
    if low:
        return Comparison(">=", field, Literal(low))
    if high:
        return Comparison("<=", field, Literal(high))
    return None


def coerce_value(spec: FieldSpec, text: str) -> Any:
    """A query-string value as the field's type, or a 400 that says what was expected."""
    try:
        if spec.type == "integer":
            return check_integer(int(text), spec.name)
        if spec.type == "number" and math.isfinite(number := float(text)):
            return number
        if spec.type == "number":
            raise ValueError(_l("not a finite number"))
        if spec.type == "boolean":
            return {"true": True, "false": False, "1": True, "0": False}[text.lower()]
        if spec.type == "date":
            return dt.date.fromisoformat(text)
    except (ValueError, KeyError):
        raise invalid(
            spec.name, _l("{text!r} is not a {type}", text=text, type=spec.type)
        ) from None
    return text


class PageLimits(Protocol):
    """How many features a page holds when none is asked for, and at most (`Settings` is one);
    None: every feature."""

    @property
    def default_limit(self) -> int | None: ...

    @property
    def max_limit(self) -> int | None: ...


@dataclass(frozen=True)
class Paging:
    default_limit: int | None
    max_limit: int | None


EVERY_FEATURE = Paging(None, None)
"""No paging: every feature the query selects (exports, rankings)."""


def parse_filter_text(
    text: str | dict | None, lang: str | None, name: str = "filter"
) -> Expr | None:
    """A CQL2 filter in `lang` (cql2-text by default, cql2-json for a JSON object), or a 400
    that says what is wrong with the parameter `name`."""
    if text is None:
        return None
    try:
        return parse_filter(text, lang or ("cql2-json" if isinstance(text, dict) else None))
    except CQL2Error as exc:
        raise invalid(name, said(exc)) from None


def check_properties(meta: LayerMeta, parameter: str, names: Iterable[str]) -> None:
    """A 400 naming `parameter` unless each of `names` is a property of the layer."""
    for name in names:
        if meta.field(name) is None:
            raise invalid(
                parameter,
                _l(
                    "unknown property {name!r}; queryable properties: {value}",
                    name=name,
                    value=", ".join(meta.field_names),
                ),
            )


def build_query(
    meta: LayerMeta,
    limits: PageLimits,
    *,
    bbox: str | None = None,
    bbox_crs: str | None = None,
    filter: str | dict | None = None,
    filter_lang: str | None = None,
    filter_crs: str | None = None,
    equals: Iterable[tuple[str, str]] = (),
    q: str | None = None,
    datetime: str | None = None,
    sortby: str | None = None,
    properties: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Query:
    """The backend-neutral query of layer `meta` that these parameters ask for.

    `equals` holds `?field=value` pairs, each a property of the layer (a name that is not is an
    unknown parameter). `limit` is clamped to `limits.max_limit`; without it a page holds
    `limits.default_limit` features.
    """
    check_crs84("bbox-crs", bbox_crs)
    check_crs84("filter-crs", filter_crs)
    equality = []
    for name, value in equals:
        spec = meta.field(name)
        if spec is None:
            raise invalid(
                name,
                _l(
                    "unknown parameter; use one of {value} or a queryable property: {value2}",
                    value=sorted(RESERVED),
                    value2=", ".join(meta.field_names),
                ),
            )
        equality.append(Comparison("=", Property(name), Literal(coerce_value(spec, value))))
    if limit is None:
        limit = limits.default_limit
    else:
        check_integer(limit, "limit")
        limit = limit if limits.max_limit is None else min(limit, limits.max_limit)
    selected = None
    if properties is not None:
        selected = tuple(p.strip() for p in properties.split(",") if p.strip())
    keys = parse_sortby(sortby)
    for parameter, names in (("properties", selected or ()), ("sortby", [k.name for k in keys])):
        check_properties(meta, parameter, names)
    return Query(
        bbox=parse_bbox(bbox) if bbox else None,
        filter=check_filter(
            conjunction(
                *equality,
                parse_datetime(datetime) if datetime else None,
                parse_filter_text(filter, filter_lang),
            )
        ),
        text=q,
        properties=selected,
        sortby=keys,
        limit=limit,
        offset=offset,
    )
