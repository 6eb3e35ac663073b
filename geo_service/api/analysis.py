"""Site analytics: raster statistics of one site."""

from __future__ import annotations

from typing import Annotated

import shapely
from fastapi import APIRouter, Query, Request

from ..errors import InvalidParameter
from ..rasters.measures import all_measures, measure
from ..rasters.zonal import empty
from .links import JSON, base_url, link
from .params import StoreDep
from .rasters import RasterStoreDep

router = APIRouter(tags=["Analysis"])
NO_GEOMETRY = "the feature has no geometry / đối tượng không có hình học"


def names_list(text: str, what: str) -> list[str]:
    """A comma-separated list of names, at least one, each once."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise InvalidParameter(f"{what} names nothing / {what} không có giá trị nào")
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
        stats = item.stats([geometry])[0] if geometry is not None else empty(NO_GEOMETRY)
        raster_url = f"{root}/rasters/{item.meta.id}"
        entries.append(item.describe() | stats | {"links": [link(raster_url, "describedby", JSON)]})
    return {"collection": collection_id, "id": feature_id, "stats": entries}
