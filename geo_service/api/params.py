"""Request parameters shared by every endpoint that reads features, validated in one place.

`FeatureQueryParams` turns the OGC API query string (bbox, filter, sortby, properties, q,
datetime, `?field=value`) into the backend-neutral `Query`. Exports, facets and the map reuse it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from ..catalogue import FieldSpec, LayerMeta
from ..cql2 import CQL2Error, parse_filter
from ..errors import InvalidParameter
from ..query import (
    BBox,
    Between,
    Comparison,
    Expr,
    Literal,
    Property,
    SortKey,
    check_filter,
    check_integer,
    conjunction,
)
from ..query import Query as FeatureQuery
from ..settings import Settings

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
        raise InvalidParameter(f"bbox {text!r} must be comma-separated numbers") from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidParameter(f"bbox {text!r} must be minLon,minLat,maxLon,maxLat")
    minx, miny, maxx, maxy = numbers
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidParameter(f"bbox {text!r} is outside longitude -180..180, latitude -90..90")
    if minx > maxx:
        raise InvalidParameter(f"bbox {text!r}: minimum longitude is greater than maximum")
    return minx, miny, maxx, maxy


def check_crs84(name: str, value: str | None) -> None:
    if value is not None and value not in CRS84_ALIASES:
        raise InvalidParameter(f"{name} {value!r} is not supported; use {CRS84}")


def parse_sortby(text: str | None) -> tuple[SortKey, ...]:
    keys = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if not name:
            raise InvalidParameter(f"sortby item {item!r} names no property")
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
                raise InvalidParameter(
                    f"datetime {text!r} is not an RFC 3339 date or interval"
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
            raise ValueError("not a finite number")
        if spec.type == "boolean":
            return {"true": True, "false": False, "1": True, "0": False}[text.lower()]
        if spec.type == "date":
            return dt.date.fromisoformat(text)
    except (ValueError, KeyError):
        raise InvalidParameter(f"{spec.name}={text!r}: expected a {spec.type}") from None
    return text


@dataclass(frozen=True)
class FeatureQueryParams:
    """The raw OGC API – Features query parameters of a request."""

    request: Request
    bbox: str | None
    bbox_crs: str | None
    crs: str | None
    limit: int | None
    offset: int
    filter: str | None
    filter_lang: str | None
    filter_crs: str | None
    sortby: str | None
    properties: str | None
    q: str | None
    datetime: str | None

    def to_query(
        self, meta: LayerMeta, settings: Settings, reserved: tuple[str, ...] = ()
    ) -> FeatureQuery:
        """The backend-neutral query for this layer; unknown parameters are a 400.

        `reserved` names the endpoint's own parameters, which are not property filters.
        """
        check_crs84("bbox-crs", self.bbox_crs)
        check_crs84("filter-crs", self.filter_crs)
        equality = []
        for name, value in self.request.query_params.multi_items():
            if name in RESERVED or name in reserved:
                continue
            spec = meta.field(name)
            if spec is None:
                raise InvalidParameter(
                    f"unknown parameter {name!r}; use one of {sorted(RESERVED)} "
                    f"or a queryable property: {', '.join(meta.field_names)}"
                )
            equality.append(Comparison("=", Property(name), Literal(coerce_value(spec, value))))
        try:
            cql = parse_filter(self.filter, self.filter_lang) if self.filter else None
        except CQL2Error as exc:
            raise InvalidParameter(f"filter: {exc}") from None
        limit = (
            settings.default_limit
            if self.limit is None
            else min(check_integer(self.limit, "limit"), settings.max_limit)
        )
        properties = None
        if self.properties is not None:
            properties = tuple(p.strip() for p in self.properties.split(",") if p.strip())
        return FeatureQuery(
            bbox=parse_bbox(self.bbox) if self.bbox else None,
            filter=check_filter(
                conjunction(
                    *equality, parse_datetime(self.datetime) if self.datetime else None, cql
                )
            ),
            text=self.q,
            properties=properties,
            sortby=parse_sortby(self.sortby),
            limit=limit,
            offset=self.offset,
        )


async def feature_query_params(
    request: Request,
    bbox: Annotated[
        str | None,
        Query(description="minLon,minLat,maxLon,maxLat (WGS 84); features that really intersect"),
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="only CRS84")] = None,
    crs: Annotated[
        str | None,
        Query(description="output CRS of an export (EPSG:9206, an OGC URI); pages are CRS84"),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, description="features per page (default 100, clamped to the maximum)"),
    ] = None,
    offset: Annotated[int, Query(ge=0, description="features to skip")] = 0,
    filter: Annotated[
        str | None, Query(description="CQL2 filter, e.g. status='operating' AND area_ha > 20")
    ] = None,
    filter_lang: Annotated[
        str | None, Query(alias="filter-lang", description="cql2-text (default) or cql2-json")
    ] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs", description="only CRS84")] = None,
    sortby: Annotated[str | None, Query(description="e.g. -area_ha,+name_vi")] = None,
    properties: Annotated[
        str | None, Query(description="comma-separated properties to return")
    ] = None,
    q: Annotated[
        str | None, Query(description="free text over names, with or without diacritics")
    ] = None,
    datetime: Annotated[
        str | None, Query(description="date or interval (a/b, '..' open) on updated_at")
    ] = None,
) -> FeatureQueryParams:
    return FeatureQueryParams(
        request=request,
        bbox=bbox,
        bbox_crs=bbox_crs,
        crs=crs,
        limit=limit,
        offset=offset,
        filter=filter,
        filter_lang=filter_lang,
        filter_crs=filter_crs,
        sortby=sortby,
        properties=properties,
        q=q,
        datetime=datetime,
    )


FeatureParams = Annotated[FeatureQueryParams, Depends(feature_query_params)]
