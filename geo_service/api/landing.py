"""Landing page, conformance declaration and the OpenAPI 3.0 service description."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..i18n import N_, per_language, pick, tr
from ..i18n.pages import page_environment
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


_PAGES = page_environment("geo_service.api")
_FOR_PEOPLE = (
    ("/map", N_("Investment map"),
     N_("Sites, projects and their facts on a map, with filters and shortlists")),
    ("/dashboard", N_("Investment attracted against the targets"),
     N_("The plans' targets, projects by stage and enquiries, for planners")),
)  # fmt: skip
"""The pages for people: path, title, what it is for."""
_FOR_PROGRAMS = (
    ("/?f=json", "self", JSON, N_("This document")),
    ("/?f=html", "alternate", HTML, N_("This document as HTML")),
    ("/api", "service-desc", OPENAPI, N_("OpenAPI 3.0 definition")),
    ("/docs", "service-doc", HTML, N_("API documentation")),
    ("/conformance", "conformance", JSON, N_("Conformance classes")),
    ("/collections", "data", JSON, N_("Collections")),
    ("/tileMatrixSets", tiles.REL_TILING_SCHEMES, JSON, N_("Tile matrix sets")),
)
"""The OGC API's links: path, relation, media type, title."""


@router.get("/", summary="Landing page / Trang chủ")
def landing(
    request: Request,
    settings: SettingsDep,
    lang: LangDep,
    f: JsonOrHtml,
):
    """The service's front page: for people, the map and the dashboard; for programs, the
    OGC API's links. Every title in the language asked for."""
    root = base_url(request)
    titles = per_language(settings, "title")
    description = tr(
        lang, "Investment sites and projects of the province, as a map, a dashboard and an API"
    )
    links = [
        link(root + path, rel, media, tr(lang, name)) for path, rel, media, name in _FOR_PROGRAMS
    ]
    people = [
        {"href": f"{root}{path}?lang={lang}", "title": tr(lang, name), "about": tr(lang, about)}
        for path, name, about in _FOR_PEOPLE
    ]
    if f == "html":
        return html_page(
            _PAGES.get_template("landing.html").render(
                lang=lang, titles=titles, description=description, people=people, links=links
            )
        )
    links += [link(item["href"], "related", HTML, item["title"]) for item in people]
    title = pick(titles, lang, "title")
    return JSONResponse({"title": title, "description": description, "links": links})


@router.get("/conformance", summary="Conformance classes / Lớp tuân thủ")
def conformance(f: JsonOnly) -> dict:
    return {"conformsTo": CONFORMANCE}


@router.get("/api", summary="OpenAPI 3.0 definition", include_in_schema=False)
def service_description(description: OpenAPI30Dep) -> JSONResponse:
    return JSONResponse(description, media_type=OPENAPI)
