"""Collections: the list, one collection's description, and its queryables."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..catalogue import FieldSpec, LayerMeta
from ..errors import NotFound
from ..i18n import _l, in_language, per_language, pick
from ..query_text import CRS84
from .deps import JsonOnly, Lang, LangDep, StoreDep
from .links import GEOJSON, JSON, base_url, link
from .strict_input import StrictRoute
from .tiles import REL_VECTOR_TILESETS

router = APIRouter(tags=["Collections"], route_class=StrictRoute)

_JSON_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "boolean": {"type": "boolean"},
}


def _label(spec_or_meta: Any, stem: str, lang: Lang) -> str:
    return pick(per_language(spec_or_meta, stem), lang, stem)


def field_description(spec: FieldSpec) -> dict[str, Any]:
    """A field's schema for clients: its labels per language, unit and code list."""
    described: dict[str, Any] = {
        "name": spec.name,
        "type": spec.type,
        "label_vi": spec.label_vi,
        "label_en": spec.label_en,
        **per_language(spec, "label"),
    }
    if spec.unit:
        described["unit"] = spec.unit
    if spec.codes:
        described["codes"] = [c.model_dump(exclude_none=True) for c in spec.codes]
    return described


def collection_document(root: str, meta: LayerMeta, extent, lang: Lang) -> dict[str, Any]:
    url = f"{root}/collections/{meta.id}"
    document: dict[str, Any] = {
        "id": meta.id,
        **in_language(per_language(meta, "title"), "title", lang),
        **in_language(per_language(meta, "description"), "description", lang),
        "title_vi": meta.title_vi,
        "title_en": meta.title_en,
        "description_vi": meta.description_vi,
        "description_en": meta.description_en,
        **per_language(meta, "title"),
        **per_language(meta, "description"),
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "kind": meta.kind,
        "geometry_type": meta.geometry_type,
        "source": meta.source,
        "licence": meta.licence,
        "updated": meta.updated,
        "data_quality": meta.data_quality,
        "provinces": meta.provinces,
        "version": meta.version,
        "fields": [field_description(f) for f in meta.fields],
        "links": [
            link(url, "self", JSON, _l("This collection")),
            link(f"{url}/items", "items", GEOJSON, _l("Features")),
            link(
                f"{url}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                _l("Queryables"),
            ),
            link(f"{url}/tiles", REL_VECTOR_TILESETS, JSON, _l("Vector tiles")),
        ],
    }
    if extent is not None:
        document["extent"] = {"spatial": {"bbox": [list(extent)], "crs": CRS84}}
    return document


@router.get("/collections", summary="Collections / Lớp dữ liệu")
def collections(request: Request, store: StoreDep, lang: LangDep, f: JsonOnly) -> dict:
    """Every layer; those whose files cannot be read are named in `skipped`, and one archived
    while the list is made is left out."""
    root = base_url(request)
    listing = store.layers()
    documents = []
    for meta in listing:
        with contextlib.suppress(NotFound):
            documents.append(collection_document(root, meta, store.extent(meta.id), lang))
    return {
        "collections": documents,
        "skipped": [s.to_dict() for s in listing.skipped],
        "links": [link(f"{root}/collections", "self", JSON, _l("Collections"))],
    }


@router.get("/collections/{collection_id}", summary="One collection / Một lớp dữ liệu")
def collection(
    request: Request, collection_id: str, store: StoreDep, lang: LangDep, f: JsonOnly
) -> dict:
    meta = store.layer(collection_id)
    return collection_document(base_url(request), meta, store.extent(collection_id), lang)


@router.get("/collections/{collection_id}/queryables", summary="Queryable properties")
def queryables(request: Request, collection_id: str, store: StoreDep, lang: LangDep, f: JsonOnly):
    meta = store.layer(collection_id)
    properties: dict[str, Any] = {
        "geometry": {
            "x-ogc-role": "primary-geometry",
            "format": f"geometry-{meta.geometry_type}",
        }
    }
    for spec in meta.fields:
        if not spec.queryable:
            continue
        schema = {"title": _label(spec, "label", lang), **_JSON_TYPES[spec.type]}
        if spec.unit:
            schema["x-ogc-unit"] = spec.unit
        if spec.codes:
            schema["enum"] = [c.code for c in spec.codes]
        properties[spec.name] = schema
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url(request)}/collections/{collection_id}/queryables",
        "type": "object",
        "title": _label(meta, "title", lang),
        "properties": properties,
        "additionalProperties": False,
    }
    return JSONResponse(document, media_type="application/schema+json")
