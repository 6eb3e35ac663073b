"""The query parameters of every endpoint that reads features, collected once, as the client
sent them; `query_text.build_query` turns them into the backend-neutral `Query`. Exports,
facets, grids and the map reuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, fields
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from ..catalogue import LayerMeta
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


def feature_query_params(
    own: tuple[str, ...] = (),
) -> Callable[..., Coroutine[Any, Any, FeatureQueryParams]]:
    """The dependency collecting them for an endpoint whose `own` parameters (e.g. `fields`)
    are not property filters."""

    async def collect(
        request: Request,
        bbox: Annotated[
            str | None,
            Query(
                description="minLon,minLat,maxLon,maxLat (WGS 84); features that really intersect"
            ),
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
        filter_crs: Annotated[
            str | None, Query(alias="filter-crs", description="only CRS84")
        ] = None,
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
            equals=tuple(
                (name, value)
                for name, value in request.query_params.multi_items()
                if name not in RESERVED and name not in own
            ),
        )

    return collect


FeatureParams = Annotated[FeatureQueryParams, Depends(feature_query_params())]
FacetParams = Annotated[FeatureQueryParams, Depends(feature_query_params(("fields",)))]
GridParams = Annotated[FeatureQueryParams, Depends(feature_query_params(("columns", "rows")))]
