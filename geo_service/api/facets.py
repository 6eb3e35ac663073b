"""Facets: value counts (and numeric ranges) over a filtered collection, computed in SQL.

The map's filter panel asks for each facet with the other filters applied, Datasette-style; the
counts honour the same `filter`, `bbox`, `q` and `?field=value` parameters as items.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..errors import invalid
from ..i18n import _l, per_language, pick
from ..query_text import check_properties
from .deps import LangDep, SettingsDep, StoreDep
from .params import FEATURE_PARAMETERS, FacetParams
from .strict_input import StrictRoute

router = APIRouter(tags=["Features"], route_class=StrictRoute)


@router.get(
    "/collections/{collection_id}/facets",
    summary="Facet counts / Đếm theo thuộc tính",
    openapi_extra=FEATURE_PARAMETERS,
)
def facets(
    collection_id: str,
    params: FacetParams,
    store: StoreDep,
    settings: SettingsDep,
    lang: LangDep,
    fields: Annotated[str, Query(description="comma-separated properties, e.g. status,zone_type")],
) -> dict[str, Any]:
    meta = store.layer(collection_id)
    names = tuple(dict.fromkeys(f.strip() for f in fields.split(",") if f.strip()))
    if not names:
        raise invalid("fields", _l("names no property; e.g. fields=status,area_ha"))
    check_properties(meta, "fields", names)
    query = dataclasses.replace(params.to_query(meta, settings), limit=0, offset=0)
    matched = store.query(collection_id, query).number_matched
    counted = store.facets(collection_id, query, names)
    described = {}
    for name, facet in counted.items():
        spec = meta.field(name)
        entry: dict[str, Any] = {
            "type": spec.type,
            "label": pick(per_language(spec, "label"), lang, "label"),
        }
        if spec.unit:
            entry["unit"] = spec.unit
        if facet.values is None:
            entry.update(minimum=facet.minimum, maximum=facet.maximum, count=facet.count)
        else:
            labels = spec.code_labels()
            entry["values"] = [
                {"value": value, "count": count}
                | (per_language(labels[value], "label") if value in labels else {})
                for value, count in facet.values
            ]
        described[name] = entry
    return {"collection": collection_id, "numberMatched": matched, "facets": described}
