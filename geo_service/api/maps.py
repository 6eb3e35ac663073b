"""The web pages: the investor map (`/map`, `/map/{id}`), the API docs, and their static assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xyzservices
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ..errors import ServiceError
from ..i18n import _l, per_language, pick
from ..listing import Skipped
from ..maps.assets import (
    OWN_DIR,
    OWN_ROUTE,
    SWAGGER_CSS,
    SWAGGER_JS,
    VENDOR_PACKAGES,
    missing_assets_message,
    vendor_url,
)
from ..maps.definition import DEFAULT_MAP, MapDefinition, load_map, map_ids
from .deps import LangDep, RasterStoreDep, SettingsDep, StoreDep
from .links import HTML, JSON, base_url, link
from .security import html_page, tile_source
from .strict_input import StrictRoute

router = APIRouter(tags=["Map"], route_class=StrictRoute)


class AssetsMissing(ServiceError):
    status = 503
    code = "AssetsMissing"


def tile_sources(definition: MapDefinition) -> list[str]:
    """The hosts the map's basemaps draw tiles from, as Content-Security-Policy sources."""
    return [
        tile_source(xyzservices.providers.query_name(name).build_url())
        for name in definition.basemaps
    ]


@router.get("/maps", summary="Maps / Danh sách bản đồ")
def maps(request: Request, settings: SettingsDep, lang: LangDep) -> dict[str, Any]:
    """Every map; a definition that cannot be read is named in `skipped` with the reason."""
    root = base_url(request)
    entries, skipped = [], []
    for map_id in map_ids(settings.maps_dir):
        try:
            definition = load_map(settings.maps_dir, map_id)
        except ServiceError as exc:  # invalid, or removed since the folder was listed
            skipped.append(Skipped(map_id, exc.description).to_dict())
            continue
        entries.append(
            {
                "id": map_id,
                "title_vi": definition.title_vi,
                "title_en": definition.title_en,
                "links": [
                    link(
                        f"{root}/map/{map_id}?lang={lang}",
                        "alternate",
                        HTML,
                        pick(per_language(definition, "title"), lang, "title"),
                    )
                ],
            }
        )
    return {
        "maps": entries,
        "skipped": skipped,
        "links": [link(f"{root}/maps", "self", JSON, _l("Maps"))],
    }


@router.get("/map", response_class=HTMLResponse, summary="The investor map / Bản đồ đầu tư")
def default_map(
    settings: SettingsDep, store: StoreDep, rasters: RasterStoreDep, lang: LangDep
) -> HTMLResponse:
    return map_page(DEFAULT_MAP, settings, store, rasters, lang)


@router.get("/map/{map_id}", response_class=HTMLResponse, summary="A map by id / Bản đồ theo mã")
def map_page(
    map_id: str, settings: SettingsDep, store: StoreDep, rasters: RasterStoreDep, lang: LangDep
) -> HTMLResponse:
    definition = load_map(settings.maps_dir, map_id)
    problem = missing_assets_message(settings.assets_dir)
    if problem:
        raise AssetsMissing(_l("{problem}; run `npm ci`", problem=problem))
    # folium and its plugins are imported with the first map page: 0.3 s of every start
    from ..maps.page import build_map_page

    page = build_map_page(
        definition,
        store,
        rasters.rasters(),
        settings.rank_max_candidates,
        settings.tile_max_features,
        lang,
    )
    return html_page(page, tile_sources(definition))


@router.get("/docs", include_in_schema=False)
def docs(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=f"{base_url(request)}/openapi.json",
        title="API – Swagger UI",
        swagger_js_url=vendor_url(SWAGGER_JS),
        swagger_css_url=vendor_url(SWAGGER_CSS),
        swagger_favicon_url=f"{OWN_ROUTE}/favicon.svg",
    )
    return html_page(bytes(page.body).decode())


def mount_static(app: FastAPI, assets_dir: Path) -> None:
    """Our own scripts, and each npm package's folder (only those the pages use)."""
    app.mount(OWN_ROUTE, StaticFiles(directory=OWN_DIR), name="map-static")
    for package in VENDOR_PACKAGES:
        app.mount(
            vendor_url(package),
            StaticFiles(directory=assets_dir / package, check_dir=False),
            name=f"vendor-{package}",
        )
