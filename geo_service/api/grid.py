"""Grid counts: how many features a filtered collection holds per cell of a view.

The map asks for these instead of features when a view holds more sites than it can draw one
by one (a million parcels at province scale), and draws one counted marker per cell.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..errors import InvalidParameter
from ..i18n import _l
from .deps import SettingsDep, StoreDep
from .params import FEATURE_PARAMETERS, GridParams
from .strict_input import StrictRoute

router = APIRouter(tags=["Features"], route_class=StrictRoute)

MAX_CELLS = 256


@router.get(
    "/collections/{collection_id}/grid",
    summary="Counts per grid cell / Đếm theo ô lưới",
    openapi_extra=FEATURE_PARAMETERS,
)
def grid(
    collection_id: str,
    params: GridParams,
    store: StoreDep,
    settings: SettingsDep,
    columns: Annotated[int, Query(ge=1, le=MAX_CELLS, description="cells across the bbox")] = 32,
    rows: Annotated[int, Query(ge=1, le=MAX_CELLS, description="cells down the bbox")] = 32,
) -> dict[str, Any]:
    meta = store.layer(collection_id)
    query = params.to_query(meta, settings)
    if query.bbox is None:
        raise InvalidParameter(
            _l("bbox is required: the grid covers it, e.g. bbox=103,20.5,105,22")
        )
    cells = store.grid(collection_id, query, query.bbox, columns, rows)
    return {
        "type": "FeatureCollection",
        "numberMatched": sum(c.count for c in cells),
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [c.x, c.y]},
                "properties": {"count": c.count},
                "bbox": list(c.bbox),
            }
            for c in cells
        ],
    }
