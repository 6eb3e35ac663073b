"""Landing page, conformance declaration and the OpenAPI 3.0 service description."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..i18n import per_language, pick
from . import tiles
from .deps import JsonOnly, JsonOrHtml, LangDep, OpenAPI30Dep, SettingsDep
from .links import HTML, JSON, OPENAPI, base_url, link
from .security import html_page
from .strict_input import StrictRoute

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    *tiles.CONFORMANCE,
]

router = APIRouter(tags=["Capabilities"], route_class=StrictRoute)


@router.get("/", summary="Landing page / Trang chủ")
def landing(
    request: Request,
    settings: SettingsDep,
    lang: LangDep,
    f: JsonOrHtml,
):
    root = base_url(request)
    title = pick(per_language(settings, "title"), lang, "title")
    document = {
        "title": title,
        "description": "OGC API – Features: danh mục địa điểm đầu tư / investment site catalogue",
        "links": [
            link(f"{root}/?f=json", "self", JSON, "This document"),
            link(f"{root}/?f=html", "alternate", HTML, "This document as HTML"),
            link(f"{root}/api", "service-desc", OPENAPI, "OpenAPI 3.0 definition"),
            link(f"{root}/docs", "service-doc", HTML, "API documentation"),
            link(f"{root}/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{root}/collections", "data", JSON, "Collections / Lớp dữ liệu"),
            link(
                f"{root}/tileMatrixSets",
                tiles.REL_TILING_SCHEMES,
                JSON,
                "Tile matrix sets / Các lưới ô",
            ),
        ],
    }
    if f == "html":
        items = "".join(
            f'<li><a href="{html.escape(item["href"])}">{html.escape(item["title"])}</a></li>'
            for item in document["links"]
        )
        return html_page(
            f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(document['description'])}</p><ul>{items}</ul></body></html>"
        )
    return JSONResponse(document)


@router.get("/conformance", summary="Conformance classes / Lớp tuân thủ")
def conformance(f: JsonOnly) -> dict:
    return {"conformsTo": CONFORMANCE}


@router.get("/api", summary="OpenAPI 3.0 definition", include_in_schema=False)
def service_description(description: OpenAPI30Dep) -> JSONResponse:
    return JSONResponse(description, media_type=OPENAPI)
