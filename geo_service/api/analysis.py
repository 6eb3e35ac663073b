"""Site analytics: raster statistics and nearest features of one site, and suitability ranking."""

from __future__ import annotations

from typing import Annotated

import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from ..analysis.proximity import nearest
from ..analysis.rank import RankRequest, rank
from ..errors import InvalidParameter, LayerUnavailable
from ..exports import export_table
from ..i18n import _l
from ..i18n.content import further_names
from ..rasters.measures import all_measures, measure
from ..rasters.zonal import empty
from .deps import LangDep, RankFormat, RasterStoreDep, SettingsDep, StoreDep
from .downloads import file_download
from .links import JSON, base_url, link
from .strict_input import StrictRoute

router = APIRouter(tags=["Analysis"], route_class=StrictRoute)
MAX_NEIGHBOURS = 50
NO_GEOMETRY = _l("the feature has no geometry")
FURTHER_NAMES = further_names("name")
"""A nearby feature's names in the further languages (`name_ja`, …), where it has them."""


def names_list(text: str, what: str) -> list[str]:
    """A comma-separated list of names, at least one, each once."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise InvalidParameter(_l("{what} names nothing", what=what))
    return names


@router.get(
    "/collections/{collection_id}/items/{feature_id}/stats",
    summary="Raster statistics of a site / Thống kê raster của một địa điểm",
)
def feature_stats(
    request: Request,
    collection_id: str,
    feature_id: str,
    store: StoreDep,
    rasters: RasterStoreDep,
    names: Annotated[
        str | None,
        Query(
            alias="rasters",
            description="comma-separated raster ids, and `<dem>:slope` for a DEM's slope "
            "(default: every raster, with the slope of each DEM)",
        ),
    ] = None,
) -> dict:
    feature = store.feature(collection_id, feature_id)
    chosen = (
        [measure(rasters, n) for n in names_list(names, "rasters")]
        if names is not None
        else all_measures(rasters)
    )
    geometry = shapely.from_wkb(feature.geometry) if feature.geometry else None
    root = base_url(request)
    entries = []
    for item in chosen:
        try:
            stats = item.stats([geometry])[0] if geometry is not None else empty(NO_GEOMETRY)
        except LayerUnavailable as exc:  # its COG is damaged: said here, the others still count
            stats = empty(exc.description)
        raster_url = f"{root}/rasters/{item.meta.id}"
        entries.append(item.describe() | stats | {"links": [link(raster_url, "describedby", JSON)]})
    return {"collection": collection_id, "id": feature_id, "stats": entries}


@router.get(
    "/collections/{collection_id}/items/{feature_id}/nearby",
    summary="Nearest features of other layers / Đối tượng gần nhất",
)
def feature_nearby(
    request: Request,
    collection_id: str,
    feature_id: str,
    store: StoreDep,
    layers: Annotated[str, Query(description="comma-separated collection ids")],
    k: Annotated[int, Query(ge=1, le=MAX_NEIGHBOURS, description="features per layer")] = 3,
) -> dict:
    feature = store.feature(collection_id, feature_id)
    chosen = names_list(layers, "layers")
    names = {}
    for layer_id in chosen:
        fields = {f.name for f in store.layer(layer_id).fields}  # unknown → 404 before any work
        names[layer_id] = ("name_vi", "name_en", *(n for n in FURTHER_NAMES if n in fields))
    site = shapely.from_wkb(feature.geometry) if feature.geometry else None
    root = base_url(request)
    nearby = {}
    for layer_id in chosen:
        excluded = feature_id if layer_id == collection_id else None
        found = [] if site is None else nearest(
            store, site, layer_id, k, exclude=excluded, properties=names[layer_id]
        )  # fmt: skip
        nearby[layer_id] = [
            {
                "id": n.id,
                "name_vi": n.properties.get("name_vi"),
                "name_en": n.properties.get("name_en"),
                **{name: n.properties[name] for name in FURTHER_NAMES if n.properties.get(name)},
                "distance_m": round(n.distance_m, 1),
                "line": [list(n.site_point), list(n.point)],
                "link": f"{root}/collections/{layer_id}/items/{n.id}",
            }
            for n in found
        ]
    return {"collection": collection_id, "id": feature_id, "k": k, "nearby": nearby}


@router.post(
    "/analysis/rank",
    summary="Rank candidate sites by weighted criteria / Xếp hạng địa điểm theo tiêu chí",
    response_class=Response,
    responses={200: {"content": {JSON: {}, "text/csv": {}}, "description": "the ranking"}},
)
def rank_sites(
    request: Request,
    body: RankRequest,
    store: StoreDep,
    rasters: RasterStoreDep,
    settings: SettingsDep,
    lang: LangDep,
    f: RankFormat,
) -> Response:
    ranking = rank(store, rasters, body, settings.rank_max_candidates)
    if f == "json":
        return JSONResponse(ranking.to_dict(base_url(request)))
    return file_download(*export_table(f"ranking-{ranking.collection}", ranking.table(lang), f))
