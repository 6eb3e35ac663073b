"""The investor map drawing a layer too big for GeoJSON as vector tiles, in Debian's Chromium:
tiles come from our own tile endpoint (the plugin from our own assets), a click on a parcel
opens its card, a filter changes the tiles, and no request leaves 127.0.0.1 but basemap tiles.

GeoPackage store only, as the other browser tests (see test_map_browser.py).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely

from geo_service.catalogue import LayerMeta
from geo_service.kinds import fields_for_kind
from geo_service.layer_frame import records_to_frame

from .conftest import publish
from .server import running_server
from .test_map_browser import Watched

PURPOSES = ["residential", "commercial_service", "production_business", "agriculture"]
STATUSES = ["planned", "calling_investment", "operating"]
COLUMNS, ROWS, STEP = 60, 50, 0.002
MAX_FEATURES = 200
"""The map's GeoJSON limit here: the 3,000 parcels are far beyond it."""


def parcels_layer() -> tuple[LayerMeta, list[dict], list]:
    meta = LayerMeta(
        id="parcels", title_vi="Thửa đất thử nghiệm", title_en="Test parcels",
        kind="land_auction_plot", geometry_type="polygon",
        fields=fields_for_kind("land_auction_plot"), updated="2026-01-01",
        data_quality="synthetic_demo", provinces=["14"],
    )  # fmt: skip
    records, geometries = [], []
    for i in range(COLUMNS):
        for j in range(ROWS):
            n = i * ROWS + j
            records.append({
                "code": f"P-{n}", "name_vi": f"Thửa số {n}", "name_en": f"Parcel {n}",
                "province_code": "14", "status": STATUSES[n % 3],
                "land_use_purpose": PURPOSES[n % 4], "area_ha": 1.0 + n % 7,
                "source": "generated", "data_quality": "synthetic_demo",
                "updated_at": "2026-01-01",
            })  # fmt: skip
            x, y = 104.0 + i * STEP, 21.3 + j * STEP
            geometries.append(shapely.box(x, y, x + STEP * 0.8, y + STEP * 0.8))
    return meta, records, geometries


@pytest.fixture(scope="module")
def tiles_base_url(tmp_path_factory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("map-tiles")
    meta, records, geometries = parcels_layer()
    publish(data_dir, meta, records_to_frame(meta, records, geometries))
    maps_dir = tmp_path_factory.mktemp("maps")
    definition = (Path(__file__).parents[1] / "maps" / "investor.toml").read_text("utf-8")
    assert "max_features = 2000" in definition
    definition = definition.replace("max_features = 2000", f"max_features = {MAX_FEATURES}")
    definition += (
        '\n[[layers]]\ncollection = "parcels"\ntooltip = ["land_use_purpose", "area_ha"]\n'
        'filters = ["land_use_purpose", "status"]\n'
    )
    (maps_dir / "investor.toml").write_text(definition, "utf-8")
    with running_server(data_dir, env={"GEO_SERVICE_MAPS_DIR": str(maps_dir)}) as url:
        yield url


PATHS = "() => document.querySelectorAll('svg.leaflet-tile path').length"


def drawn_paths(watched: Watched) -> int:
    watched.page.wait_for_function(f"() => ({PATHS})() > 0", timeout=20000)
    watched.page.wait_for_timeout(500)  # the rest of the view's tiles
    return watched.page.evaluate(PATHS)


def test_a_big_layer_is_drawn_from_vector_tiles_and_a_click_opens_its_card(
    browser,  # noqa: F811
    tiles_base_url,
):
    # a visitor whose browser asks for Vietnamese, so the card names the parcel in Vietnamese
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    try:
        watched = Watched(context.new_page(), tiles_base_url)
        tile_answers: list[tuple[str, int, str]] = []
        watched.page.on(
            "response",
            lambda r: (
                "/tiles/WebMercatorQuad/" in r.url
                and tile_answers.append((r.url, r.status, r.headers.get("content-type", "")))
            ),
        )
        watched.open("/map?map=14/21.35/104.06&layers=parcels")
        assert watched.page.evaluate("Object.keys(siteMap.runtime.tiles)") == ["parcels"]
        everything = drawn_paths(watched)
        assert everything > MAX_FEATURES  # more than GeoJSON would have drawn
        assert (
            watched.page.evaluate(
                "() => siteMap.group(siteMap.config.layers.find(l => l.id === 'parcels'))"
                ".getLayers().filter(x => x.options.cell).length"
            )
            == 0
        )  # no count markers
        assert tile_answers and all(
            url.startswith(tiles_base_url + "/collections/parcels/tiles/WebMercatorQuad/14/")
            and status == 200
            and kind == "application/vnd.mapbox-vector-tile"
            for url, status, kind in tile_answers
        ), tile_answers[:3]
        watched.screenshot("map-vector-tiles.png")

        # a click on a parcel opens its card, as for any other feature
        path = watched.page.locator("svg.leaflet-tile path").nth(everything // 2)
        path.click()
        watched.page.wait_for_function(
            "() => !document.getElementById('card').hidden && "
            "(siteMap.state.site || '').startsWith('parcels/')",
            timeout=20000,
        )
        watched.idle()
        layer_id, parcel_id = watched.page.evaluate("siteMap.state.site").split("/")
        parcel = watched.api(f"/collections/{layer_id}/items/{parcel_id}")
        card = watched.page.locator("#card").inner_text()
        assert parcel["properties"]["name_vi"] in card
        watched.screenshot("map-vector-tiles-card.png")

        # a filter changes the tiles' URL: fewer parcels drawn, every tile asked filtered
        tile_answers.clear()
        watched.open("/map?map=14/21.35/104.06&layers=parcels&f.parcels.status=operating")
        filtered = drawn_paths(watched)
        assert 0 < filtered < everything
        assert tile_answers and all(
            "status IN ('operating')" in tile_filter(url) for url, _, _ in tile_answers
        ), tile_answers[:3]
        watched.clean()
    finally:
        context.close()


def tile_filter(url: str) -> str:
    """The CQL2 filter a tile's URL carries (the map adds its provinces' filter to the layer's)."""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("filter", [""])[0]
