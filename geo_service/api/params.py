"""The query parameters of every endpoint that reads features, collected once, as the client
sent them; `query_text.build_query` turns them into the backend-neutral `Query`. Exports,
facets, grids and the map reuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, fields
from typing import Annotated, Any

from fastapi import Depends, Request

from ..catalogue import LayerMeta
from ..errors import invalid
from ..i18n import _l
from ..query import Query as FeatureQuery
from ..query_text import RESERVED, PageLimits, build_query


@dataclass(frozen=True)
class FeatureQueryParams:
    """The raw OGC API – Features query parameters of a request."""

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
    equals: tuple[tuple[str, str], ...]
    """The `?field=value` parameters: every one that is neither an OGC parameter (`RESERVED`)
    nor one of the endpoint's own."""

    def to_query(self, meta: LayerMeta, limits: PageLimits) -> FeatureQuery:
        """The backend-neutral query for this layer (`crs` is the answer's, not the query's);
        unknown parameters are a 400."""
        text = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "crs"}
        return build_query(meta, limits, **text)


@dataclass(frozen=True)
class QueryParameter:
    """One of `FeatureQueryParams`' parameters: its name in the URL, an integer's least value
    (None for text), and its value when absent."""

    name: str
    description: str
    minimum: int | None = None
    default: int | None = None

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")

    def read(self, text: str | None) -> str | int | None:
        """The value sent (`default` if absent): an integer's as a number, a 400 if it is not a
        whole number of at least `minimum`."""
        if text is None:
            return self.default
        if self.minimum is None:
            return text
        try:
            value = int(text)
        except ValueError:
            value = self.minimum - 1
        if value < self.minimum:
            raise invalid(
                self.name,
                _l(
                    "{value!r} is not a whole number of at least {minimum}",
                    value=text,
                    minimum=self.minimum,
                ),
            )
        return value

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.minimum is not None:
            schema = {"type": "integer", "minimum": self.minimum}
        return {"name": self.name, "in": "query", "required": False, "schema": schema,
                "description": self.description}  # fmt: skip


PARAMETERS = (
    QueryParameter("bbox", "minLon,minLat,maxLon,maxLat (WGS 84); features that really intersect"),
    QueryParameter("bbox-crs", "only CRS84"),
    QueryParameter("crs", "output CRS of an export (EPSG:9206, an OGC URI); pages are CRS84"),
    QueryParameter("limit", "features per page (default 100, clamped to the maximum)", 1),
    QueryParameter("offset", "features to skip (default 0)", 0, default=0),
    QueryParameter("filter", "CQL2 filter, e.g. status='operating' AND area_ha > 20"),
    QueryParameter("filter-lang", "cql2-text (default) or cql2-json"),
    QueryParameter("filter-crs", "only CRS84"),
    QueryParameter("sortby", "e.g. -area_ha,+name_vi"),
    QueryParameter("properties", "comma-separated properties to return"),
    QueryParameter("q", "free text over names, with or without diacritics"),
    QueryParameter("datetime", "date or interval (a/b, '..' open) on updated_at"),
)
"""Read from the request by hand rather than declared to FastAPI one by one: validating a dozen
declared parameters cost a page 0.3 of its 2.2-2.4 ms of CPU (a PostGIS page of 100 in a box,
in-process); the routes document them with `FEATURE_PARAMETERS`."""

FEATURE_PARAMETERS = {"parameters": [p.openapi() for p in PARAMETERS]}
"""The parameters in a route's OpenAPI operation (`openapi_extra`)."""


def feature_query_params(
    own: tuple[str, ...] = (),
) -> Callable[[Request], Coroutine[Any, Any, FeatureQueryParams]]:
    """The dependency collecting them for an endpoint whose `own` parameters (e.g. `fields`)
    are not property filters. A parameter given twice counts once, its last value."""

    async def collect(request: Request) -> FeatureQueryParams:
        given = request.query_params
        read = {p.field: p.read(given.get(p.name)) for p in PARAMETERS}
        equals = tuple(
            (name, value)
            for name, value in given.multi_items()
            if name not in RESERVED and name not in own
        )
        return FeatureQueryParams(**read, equals=equals)

    return collect


FeatureParams = Annotated[FeatureQueryParams, Depends(feature_query_params())]
FacetParams = Annotated[FeatureQueryParams, Depends(feature_query_params(("fields",)))]
GridParams = Annotated[FeatureQueryParams, Depends(feature_query_params(("columns", "rows")))]
