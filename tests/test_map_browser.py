"""The investor map in a real browser: Debian's Chromium driven by Playwright for Python.

Basemap tiles are unreachable (as on these machines and many intranets) and any other request
that leaves 127.0.0.1 fails the test. Counts drawn are read from Leaflet's own layers and
compared with what the API returns for the same filter and view.

Run on the GeoPackage store only: the page sees the store through the API alone, whose answers
are the same on both stores (the rest of the suite checks that on each), and these tests take
minutes each time they run.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from rasterio.transform import from_origin

from geo_service.rasters.ingest import ingest_raster
from geo_service.rasters.store import RasterStore
from geo_service.sample import build_sample

from .conftest import load_sample_pipeline
from .raster_data import write_tiff
from .server import running_server
from .staff import staff_token

TILE_HOSTS = {"tile.openstreetmap.org", "server.arcgisonline.com"}
ARTIFACTS = Path(__file__).parent / "artifacts"

sync_api = pytest.importorskip("playwright.sync_api")


RASTER = "test_gradient"


def add_gradient_raster(data_dir: Path, folder: Path) -> None:
    """A raster over Sơn La whose value is the longitude × 100; a nodata block in the north-west."""
    lon = np.tile(np.linspace(103.205, 104.995, 180), (140, 1))  # pixel centres, west to east
    values = (lon * 100).astype("float32")
    values[:20, :20] = -9999
    path = write_tiff(folder / "gradient.tif", values, crs="EPSG:4326", nodata=-9999,
                      transform=from_origin(103.2, 22.0, 0.01, 0.01))  # fmt: skip
    metadata = {"title_vi": "Kinh độ × 100 (thử nghiệm)", "title_en": "Longitude × 100 (test)",
                "unit": "°/100", "derived_from": "generated in the test"}  # fmt: skip
    ingest_raster(path, RASTER, metadata, None, 10**8, "14", RasterStore(data_dir))


@pytest.fixture(scope="module")
def map_data(tmp_path_factory) -> Path:
    """The sample catalogue and pipeline, a raster, and an editor's token."""
    data_dir = tmp_path_factory.mktemp("map-data")
    build_sample(data_dir)
    load_sample_pipeline(data_dir)
    add_gradient_raster(data_dir, tmp_path_factory.mktemp("raster-source"))
    return data_dir


@pytest.fixture(scope="module")
def base_url(map_data) -> Iterator[str]:
    with running_server(map_data) as url:
        yield url


REPORT_CSP = """document.addEventListener("securitypolicyviolation", (e) =>
    window.reportCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} in ` +
                              `${e.sourceFile}:${e.lineNumber}: ${e.sample}`));"""


class Watched:
    """A page whose console errors, Content-Security-Policy violations and outside requests are
    recorded, across every page it loads."""

    def __init__(self, page, base_url: str) -> None:
        self.page, self.base_url = page, base_url
        self.errors: list[str] = []
        self.violations: list[str] = []
        self.outside: list[str] = []
        self.tiles = 0
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.expose_function("reportCspViolation", lambda text: self.violations.append(text))
        page.add_init_script(REPORT_CSP)
        page.route("**/*", self._route)

    def _console(self, message) -> None:
        host = urllib.parse.urlsplit(message.location.get("url") or "").hostname
        if message.type == "error" and host not in TILE_HOSTS:
            self.errors.append(message.text)

    def _route(self, route) -> None:
        url = route.request.url
        host = urllib.parse.urlsplit(url).hostname
        if host == "127.0.0.1":
            route.continue_()
            return
        if host in TILE_HOSTS:
            self.tiles += 1
        else:
            self.outside.append(url)
        route.abort("internetdisconnected")

    def open(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.idle()

    def idle(self) -> None:
        # a function, not an expression: Playwright evaluates expressions with `eval`, which the
        # page's Content-Security-Policy refuses
        idle = "() => document.body.dataset.mapState === 'idle'"
        self.page.wait_for_function(idle, timeout=20000)
        self.page.wait_for_timeout(150)
        self.page.wait_for_function(idle, timeout=20000)

    def drawn(self, layer: str) -> int:
        return self.page.evaluate(
            "id => siteMap.group(siteMap.config.layers.find(l => l.id === id))"
            ".getLayers().filter(x => x.feature).length",
            layer,
        )

    def api(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v})
        with urllib.request.urlopen(f"{self.base_url}{path}?{query}") as response:
            return json.load(response)

    def within_map(self, layer: str, cql: str = "") -> str:
        """`cql` within the map's provinces, as the page asks for a layer's sites."""
        shown = self.page.evaluate("siteMap.config.shown_provinces")
        fields = self.page.evaluate(
            "id => Object.keys(siteMap.config.layers.find(l => l.id === id).fields)", layer
        )
        if shown and "province_code" in fields:
            within = "province_code IN (" + ", ".join(f"'{c}'" for c in shown) + ")"
            return f"{within} AND ({cql})" if cql else within
        return cql

    def api_matched(self, layer: str, cql: str = "", bbox: bool = True) -> int:
        """What the API matches for `cql` within the map's provinces (and view)."""
        cql = self.within_map(layer, cql)
        view = self.page.evaluate("siteMap.viewBbox()") if bbox else ""
        body = self.api(
            f"/collections/{layer}/items", bbox=view, filter=cql, limit="1",
            **({"filter-lang": "cql2-text"} if cql else {}),
        )  # fmt: skip
        return body["numberMatched"]

    def clean(self) -> None:
        self.page.wait_for_timeout(50)  # violation reports arrive asynchronously
        assert self.violations == [], self.violations
        assert self.errors == [], self.errors
        assert self.outside == [], f"requests left 127.0.0.1: {self.outside}"

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name))


@pytest.fixture()
def watched(browser, base_url) -> Iterator[Watched]:
    # a visitor whose browser asks for Vietnamese (Chromium asks for en-US by default, and the
    # pages follow Accept-Language when the address names no language)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    yield Watched(context.new_page(), base_url)
    context.close()


def css_rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def visible_layers(watched: Watched) -> list[str]:
    return watched.page.evaluate("[...siteMap.state.visible]")


def test_map_draws_each_layer_as_the_api_answers_offline(watched):
    watched.open("/map")
    watched.clean()
    assert watched.tiles > 0, "the basemap was asked for (and is unreachable)"
    layers = visible_layers(watched)
    assert "industrial_zones" in layers and "communes" not in layers
    total = 0
    for layer in layers:
        drawn = watched.drawn(layer)
        assert drawn == watched.api_matched(layer), layer
        total += drawn
    assert total > 50
    assert watched.drawn("communes") == 0  # hidden by the definition
    assert watched.page.locator(".leaflet-control-scale").count() == 1
    assert watched.page.locator(".leaflet-control-zoom-fullscreen").count() == 1
    assert watched.page.locator(".leaflet-control-locate").count() == 1
    assert watched.page.locator(".legend .legend-row:not(#legend-placeholder)").count() == len(
        layers
    )
    watched.screenshot("map-desktop.png")


def facet_counts(watched: Watched, layer: str, field: str) -> dict[str, int]:
    return watched.page.evaluate(
        """([layer, field]) => Object.fromEntries([...document.querySelectorAll(
            `[data-facet="${layer}.${field}"] .facet-value`)].map(row => [
            row.querySelector('input').value, Number(row.querySelector('.facet-n').textContent)]))""",
        [layer, field],
    )


def test_a_facet_click_filters_the_drawing_and_updates_other_counts(watched):
    # Quảng Ninh's map: its economic zones are all operating, so choosing industrial zones
    # changes the status counts
    watched.open("/map/quang-ninh")
    before = facet_counts(watched, "industrial_zones", "status")
    watched.page.check(
        'input[data-layer="industrial_zones"][data-field="zone_type"][value="industrial_zone"]'
    )
    watched.idle()
    cql = "zone_type IN ('industrial_zone')"
    assert watched.drawn("industrial_zones") == watched.api_matched("industrial_zones", cql)
    after = facet_counts(watched, "industrial_zones", "status")
    api = watched.api(
        "/collections/industrial_zones/facets", fields="status",
        filter=watched.within_map("industrial_zones", cql),
        **{"filter-lang": "cql2-text"},
    )  # fmt: skip
    assert after == {v["value"]: v["count"] for v in api["facets"]["status"]["values"]}
    assert after != before and after["operating"] < before["operating"]
    matched = api["numberMatched"]
    label = watched.page.locator('[data-count="industrial_zones"]').inner_text()
    total = watched.page.evaluate(
        "siteMap.config.layers.find(l => l.id === 'industrial_zones').total"
    )
    assert matched < total and label.startswith(f"{matched} / {total}")
    # the clicked field keeps its other values, counted without its own filter
    assert set(facet_counts(watched, "industrial_zones", "zone_type")) >= {
        "industrial_zone",
        "economic_zone",
    }
    assert "f.industrial_zones.zone_type=industrial_zone" in watched.page.url
    # a range narrows further, and other layers are untouched
    transport_drawn = watched.drawn("transport")
    watched.page.fill(
        'input[data-layer="industrial_zones"][data-field="dist_hanoi_km"][data-range="min"]', "150"
    )
    watched.page.keyboard.press("Enter")
    watched.idle()
    narrowed = f"{cql} AND dist_hanoi_km >= 150"
    drawn = watched.drawn("industrial_zones")
    assert 0 < drawn < matched
    assert drawn == watched.api_matched("industrial_zones", narrowed)
    assert transport_drawn == 1 and watched.drawn("transport") == transport_drawn
    watched.clean()


def test_a_shared_url_reproduces_the_view_filters_and_selection(watched, browser, base_url):
    shared = (
        "/map?lang=en&map=10/21.20000/104.00000&layers=industrial_zones,land_auction_plots"
        "&f.land_auction_plots.status=upcoming_auction&r.land_auction_plots.area_ha=1..&q=chieng"
        "&site=industrial_zones/SL-KCN-MAISON-1"
    )
    watched.open(shared)
    page = watched.page
    assert page.evaluate("siteMap.state.visible.size") == 2
    assert page.evaluate(
        "[map => [map.getZoom(), map.getCenter().lat, map.getCenter().lng]][0](window[siteMap.config.map])"
    ) == [10, 21.2, 104.0]
    assert page.is_checked(
        'input[data-layer="land_auction_plots"][data-field="status"][value="upcoming_auction"]'
    )
    assert (
        page.input_value(
            'input[data-layer="land_auction_plots"][data-field="area_ha"][data-range="min"]'
        )
        == "1"
    )
    assert page.input_value("#search") == "chieng"
    view = page.evaluate("siteMap.viewBbox()")
    body = watched.api(
        "/collections/land_auction_plots/items", bbox=view, q="chieng", limit="1",
        filter="status IN ('upcoming_auction') AND area_ha >= 1", **{"filter-lang": "cql2-text"},
    )  # fmt: skip
    assert watched.drawn("land_auction_plots") == body["numberMatched"]
    assert watched.drawn("tourism_areas") == 0
    card = page.locator("#card")
    assert card.is_visible() and "Mai Son Industrial Zone" in card.inner_text()
    watched.screenshot("map-shared-url.png")
    # back and forward walk through filter changes
    page.uncheck(
        'input[data-layer="land_auction_plots"][data-field="status"][value="upcoming_auction"]'
    )
    watched.idle()
    unfiltered = watched.drawn("land_auction_plots")
    page.go_back()
    watched.idle()
    assert page.is_checked(
        'input[data-layer="land_auction_plots"][data-field="status"][value="upcoming_auction"]'
    )
    assert watched.drawn("land_auction_plots") == body["numberMatched"]
    page.go_forward()
    watched.idle()
    assert watched.drawn("land_auction_plots") == unfiltered
    watched.clean()


def choose_language(watched: Watched, lang: str) -> None:
    """Through the page's language menu, as a visitor would."""
    watched.page.click("#lang-menu summary")
    watched.page.click(f"#lang-menu a[data-lang={lang}]")
    watched.page.wait_for_url(f"**lang={lang}**")
    watched.idle()


def test_language_switch_changes_every_label(watched):
    watched.open("/map")
    page = watched.page
    assert page.locator("#panel-toggle").inner_text().strip() == "Bộ lọc"
    assert "Loại" in page.locator("#panel").inner_text()
    choose_language(watched, "en")
    assert page.evaluate("document.documentElement.lang") == "en"
    panel = page.locator("#panel").inner_text()
    assert "Industrial zones, clusters and economic zones" in panel
    assert "Only in current view" in panel and "Chỉ trong vùng" not in panel
    assert "Calling for investment" in panel  # coded values from the layer's own labels
    assert page.locator(".leaflet-control-zoom-in").get_attribute("title") == "Zoom in"
    overlays = page.locator(".leaflet-control-layers", has=page.locator(".overlay-toggle"))
    assert "Son La tourism areas" in overlays.text_content()
    assert page.locator(".basemap-toggle").get_attribute("title") == "Basemap"
    assert "lang=en" in page.url
    page.reload()
    watched.idle()
    assert page.locator("#map-title").inner_text() == "Son La investment site map"
    watched.clean()


def test_site_card_and_shortlist_survive_a_reload(watched, browser):
    watched.open("/map?map=11/21.33/103.95")
    page = watched.page
    # pins may overlap (two phases of one zone): click the first one's own element
    page.locator(".site-pin-wrap").first.dispatch_event("click")
    watched.idle()
    card = page.locator("#card")
    assert card.is_visible()
    text = card.inner_text()
    assert "Nguồn" in text and "Cập nhật" in text  # source and last updated, in Vietnamese
    assert "null" not in text and "undefined" not in text
    assert page.locator("#card .badge").count() == 1
    api_link = page.locator("#card-api").get_attribute("href")
    feature = watched.api(api_link)
    assert feature["properties"]["name_vi"] in text
    site = page.evaluate("siteMap.state.site")
    page.click("#card-shortlist")
    watched.idle()
    assert page.locator("#basket-count").inner_text() == "1"
    shortlist = page.evaluate("siteMap.state.shortlist")
    assert f"shortlist={shortlist}" in page.url
    items = watched.api(f"/shortlists/{shortlist}")["items"]
    assert [f"{i['collection']}/{i['id']}" for i in items] == [site]
    page.goto(watched.base_url + "/map")  # localStorage keeps the basket without the URL
    watched.idle()
    assert page.locator("#basket-count").inner_text() == "1"
    page.click("#basket-toggle")
    assert page.locator("#basket-items li").count() == 1
    basket = page.locator("#basket").inner_text()
    assert "null" not in basket and "undefined" not in basket
    assert (
        page.locator('#basket a[data-format="xlsx"]')
        .get_attribute("href")
        .startswith(f"/shortlists/{shortlist}/export?f=xlsx")
    )
    watched.screenshot("map-basket.png")
    # someone else opens the shared address: the same basket, read only
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        shared = Watched(other.new_page(), watched.base_url)
        shared.open(f"/map?shortlist={shortlist}")
        assert shared.page.locator("#basket-count").inner_text() == "1"
        shared.page.click("#basket-toggle")
        assert shared.page.locator(f'#basket-items li[data-item="{site}"]').count() == 1
        assert shared.page.locator("#basket-items li button").count() == 0  # no edit key here
        shared.clean()
    finally:
        other.close()
    page.click("#basket-items li button")
    watched.idle()
    assert page.locator("#basket-count").inner_text() == "0"
    page.reload()
    watched.idle()
    assert page.locator("#basket-count").inner_text() == "0"
    assert watched.api(f"/shortlists/{shortlist}")["items"] == []
    watched.clean()


def test_phone_viewport(browser, base_url):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    watched = Watched(context.new_page(), base_url)
    try:
        watched.open("/map?site=industrial_zones/SL-KCN-MAISON-1")
        page = watched.page
        assert not page.locator("#panel").is_visible()  # collapsed behind the Filters button
        card = page.locator("#card").bounding_box()
        assert card["width"] == pytest.approx(390, abs=2) and card["y"] > 300  # a bottom sheet
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the screen
        watched.screenshot("map-phone-card.png")
        page.click("#card .close")
        page.click("#panel-toggle")
        assert page.locator("#panel").is_visible()
        page.check(
            'input[data-layer="industrial_zones"][data-field="zone_type"][value="industrial_zone"]'
        )
        watched.idle()
        assert watched.drawn("industrial_zones") == watched.api_matched(
            "industrial_zones", "zone_type IN ('industrial_zone')"
        )
        watched.screenshot("map-phone-filters.png")
        watched.clean()
    finally:
        context.close()


def test_place_pickers_filter_every_layer_by_commune(watched):
    watched.open("/map")
    page = watched.page
    assert page.is_disabled("#commune")  # no province chosen yet
    page.select_option("#province", "14")
    watched.idle()
    page.select_option("#commune", "04123")  # Xã Chiềng Mung, home of the Mai Sơn zone
    watched.idle()
    assert "province=14" in page.url and "commune=04123" in page.url
    drawn = {layer: watched.drawn(layer) for layer in visible_layers(watched)}
    assert drawn["industrial_zones"] >= 1 and drawn["investment_projects"] >= 1
    for layer, count in drawn.items():
        # the province applies to the layers that name it; pipeline projects name their commune
        fields = watched.api(f"/collections/{layer}/queryables")["properties"]
        cql = "province_code = '14' AND " * ("province_code" in fields) + "commune_code = '04123'"
        assert count == watched.api_matched(layer, cql), layer
    watched.clean()


def test_raster_overlay_legend_and_site_statistics(watched):
    tiles: list[tuple[str, int, str]] = []
    watched.page.on(
        "response",
        lambda r: (
            f"/rasters/{RASTER}/tiles/" in r.url
            and tiles.append((r.url, r.status, r.headers.get("content-type")))
        ),
    )
    watched.open(
        f"/map?map=10/21.20000/104.00000&rasters={RASTER}&site=industrial_zones/SL-KCN-MAISON-1"
    )
    page = watched.page
    raster = page.evaluate(f"siteMap.config.rasters.find(r => r.id === '{RASTER}')")
    assert page.evaluate(f"window[siteMap.config.map].hasLayer(window['{raster['layer']}'])")
    page.wait_for_timeout(300)
    assert tiles and all(status == 200 and kind == "image/png" for _, status, kind in tiles)
    legend = page.locator(f'.legend-raster[data-raster="{RASTER}"]')
    assert "Kinh độ × 100" in legend.inner_text()
    ramp = legend.locator(".ramp").get_attribute("style")  # as the browser writes CSS colours
    assert all(css_rgb(stop["color"]) in ramp for stop in raster["stops"]), ramp
    # the card shows the raster's statistics over the site, as the API computes them
    row = page.locator(f'#card-stats tr[data-raster="{RASTER}"]')
    row.wait_for()
    stats = watched.api("/collections/industrial_zones/items/SL-KCN-MAISON-1/stats")["stats"]
    ours = next(s for s in stats if s["raster"] == RASTER)
    assert 10300 < ours["mean"] < 10500 and ours["coverage"] > 0.99
    assert "trung bình" in row.inner_text() and "°/100" in row.inner_text()
    # and the nearest site of each layer the definition names, as the nearby API finds it
    nearby = watched.api(
        "/collections/industrial_zones/items/SL-KCN-MAISON-1/nearby",
        layers="logistics_trade,industrial_zones,energy_sites", k="1",
    )["nearby"]  # fmt: skip
    page.locator("#card-nearby tr").first.wait_for()
    for layer, (near,) in nearby.items():
        text = page.locator(f'#card-nearby tr[data-layer="{layer}"]').inner_text()
        assert near["name_vi"] in text and "km" in text
    assert nearby["industrial_zones"][0]["id"] == "SL-KCN-MAISON-2"  # not the site itself
    watched.screenshot("map-raster.png")
    # switched off in the layer control: gone from the map, the legend and the address
    page.hover(".leaflet-control-layers:has(.overlay-toggle)")  # opens on hover
    box = page.locator(f'label:has([data-raster="{RASTER}"]) input')
    box.uncheck()
    watched.idle()
    assert not page.evaluate(f"window[siteMap.config.map].hasLayer(window['{raster['layer']}'])")
    assert legend.count() == 0 and "rasters=" not in page.url
    page.go_back()
    watched.idle()
    assert page.evaluate(f"window[siteMap.config.map].hasLayer(window['{raster['layer']}'])")
    watched.clean()


def test_rank_these_sites_explains_the_order(watched):
    watched.open("/map")
    page = watched.page
    page.check(
        'input[data-layer="industrial_zones"][data-field="zone_type"][value="industrial_zone"]'
    )
    watched.idle()
    page.click('.rank-open[data-layer="industrial_zones"]')
    rank = page.locator("#rank")
    assert rank.is_visible() and "Xếp hạng" in rank.inner_text()
    labels = rank.locator(".rank-row").first.locator(".rank-choice option").all_inner_texts()
    page.click("#rank button:has-text('Thêm tiêu chí')")
    second = rank.locator(".rank-row").nth(1)
    distance = next(i for i, text in enumerate(labels) if "Logistics" in text)
    second.locator(".rank-choice").select_option(str(distance))
    assert second.locator(".rank-direction").input_value() == "lower"  # distances: nearer is better
    second.locator(".rank-weight").fill("3")
    page.click("#rank-run")
    watched.idle()
    shown = page.locator("#rank-sites li").evaluate_all("items => items.map(i => i.dataset.site)")
    body = {
        "candidates": {
            "collection": "industrial_zones",
            "filter": watched.within_map("industrial_zones", "zone_type IN ('industrial_zone')"),
            "filter_lang": "cql2-text", "limit": 1000,
        },
        "criteria": [
            {"type": "attribute", "field": "area_ha", "weight": 1, "direction": "higher"},
            {"type": "distance", "layer": "logistics_trade", "weight": 3, "direction": "lower"},
        ],
    }  # fmt: skip
    request = urllib.request.Request(
        f"{watched.base_url}/analysis/rank", json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request) as response:
        expected = json.load(response)
    assert labels[0].startswith("Diện tích")  # the first criterion offered: area, higher better
    assert shown == [s["id"] for s in expected["sites"]]
    matched = watched.api_matched(
        "industrial_zones", "zone_type IN ('industrial_zone')", bbox=False
    )
    assert len(shown) == matched == 3  # exactly the filtered sites, in view or not
    bars = page.locator("#rank-sites li").first.locator(".rank-bar span")
    assert bars.count() == 2
    watched.screenshot("map-rank.png")
    with page.expect_download() as download:
        page.click('#rank button[data-format="csv"]')
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + len(shown)
    page.click(f'#rank-sites li[data-site="{shown[0]}"] a')
    watched.idle()
    assert page.locator("#card").is_visible() and shown[0] in page.locator("#card").inner_text()
    watched.clean()


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/map", "#map-title"),
        ("/map/investor?lang=en", "#map-title"),
        ("/docs", ".swagger-ui .info .title"),
        ("/?f=html", "h1"),
    ],
)
def test_every_page_keeps_to_its_content_security_policy(watched, path, ready):
    response = watched.page.goto(watched.base_url + path)
    headers = response.headers
    policy = headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert "unsafe-eval" not in policy and "unsafe-inline" not in policy, policy
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["script-src"].split()[0] == "'self'"
    assert all(s == "'self'" or s.startswith("'sha256-") for s in directives["script-src"].split())
    assert all(s == "'self'" or s.startswith("'sha256-") for s in directives["style-src"].split())
    if path.startswith("/map"):
        assert set(directives["img-src"].split()) >= {f"https://{host}" for host in TILE_HOSTS}
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    watched.page.locator(ready).first.wait_for()
    if path.startswith("/map"):
        watched.idle()
    name = path.strip("/?").replace("/", "-").replace("?", "-").replace("=", "-") or "landing"
    watched.screenshot(f"csp-{name}.png")
    watched.clean()


# -- pipeline projects and enquiries on the map ---------------------------------------------------


def test_a_late_projects_card_shows_its_timeline_and_days_behind(watched):
    late = watched.api(
        "/collections/investment_projects/items", filter="days_behind > 0", sortby="-days_behind"
    )["features"][0]
    project = watched.api(f"/projects/{late['id']}")
    assert project["days_behind"] == late["properties"]["days_behind"] > 0
    watched.open(f"/map?site=investment_projects/{late['id']}&lang=en")
    page = watched.page
    page.wait_for_selector("#card-timeline .behind")
    assert (
        page.inner_text("#card-timeline .behind")
        == f"{project['days_behind']} days behind schedule"
    )
    steps = page.locator("#card-timeline li.step")
    assert steps.count() == len(project["timeline"])
    late_steps = [s for s in project["timeline"] if s["days_late"] > 0]
    assert page.locator("#card-timeline li.step.late").count() == len(late_steps)
    first = project["timeline"][0]
    assert page.locator("#card-timeline li.step strong").first.inner_text() == first["name_en"]
    link = page.get_attribute("#card-project-page", "href")
    assert link == f"/projects/{late['id']}?f=html&lang=en"
    watched.screenshot("map-project-card.png")
    # the filter panel offers the stage and the schedule, with counts
    schedule = facet_counts(watched, "investment_projects", "schedule")
    assert schedule["late"] == watched.api_matched(
        "investment_projects", "schedule = 'late'", bbox=False
    )
    stages = facet_counts(watched, "investment_projects", "stage")
    assert sum(stages.values()) == watched.api_matched("investment_projects", bbox=False)
    page.check('[data-facet="investment_projects.schedule"] input[value="late"]')
    watched.idle()
    assert watched.drawn("investment_projects") == watched.api_matched(
        "investment_projects", "schedule IN ('late')"
    )
    watched.clean()


def test_an_investor_asks_about_a_site_and_an_editor_sees_it(watched, map_data):
    secret = staff_token(map_data, "editor", "Phòng Đầu tư")
    watched.open("/map?site=industrial_zones/SL-KCN-MAISON-2")
    page = watched.page
    page.wait_for_selector("#card-enquiry")
    assert page.inner_text("#card-enquiry summary") == "Hỏi về địa điểm này"
    choose_language(watched, "en")
    page.wait_for_selector("#card-enquiry")
    assert page.inner_text("#card-enquiry summary") == "Ask about this site"
    page.click("#card-enquiry summary")
    message = "Is land available? <img src=x id=injected> <b>now</b>"
    page.fill("#enquiry-form input[name=name]", "Jane Investor")
    page.fill("#enquiry-form input[name=organisation]", "Example Holdings")
    page.fill("#enquiry-form input[name=email]", "jane@example.com")
    page.fill("#enquiry-form textarea[name=message]", message)
    page.click("#enquiry-form button[type=submit]")
    page.wait_for_selector(".enquiry-status.ok")
    shown = page.inner_text(".enquiry-status")
    assert page.locator("#injected").count() == 0
    watched.screenshot("map-enquiry.png")
    watched.clean()
    request = urllib.request.Request(
        f"{watched.base_url}/enquiries", headers={"Authorization": f"Bearer {secret}"}
    )
    with urllib.request.urlopen(request) as response:
        listed = json.load(response)["enquiries"]
    (enquiry,) = [e for e in listed if e["message"] == message]
    assert enquiry["id"] in shown
    assert enquiry["site"] == {"collection": "industrial_zones", "id": "SL-KCN-MAISON-2"}
    assert (enquiry["name"], enquiry["email"], enquiry["language"]) == (
        "Jane Investor",
        "jane@example.com",
        "en",
    )


def test_a_shared_site_link_centres_it_draws_a_placeholder_dashed_and_marks_missing_facts(
    watched,
):
    site = watched.api("/collections/industrial_zones/items/SL-KCN-MAISON-1")
    assert site["properties"]["geometry_quality"] == "placeholder"
    watched.open("/map?site=industrial_zones/SL-KCN-MAISON-1")
    watched.page.wait_for_selector("#card-facts")
    watched.idle()
    # the link has no view of its own: the map is centred on the site
    lat, lon = watched.page.evaluate(
        "() => { const c = window[siteMap.config.map].getCenter(); return [c.lat, c.lng]; }"
    )
    ring = site["geometry"]["coordinates"][0]
    assert abs(lon - sum(p[0] for p in ring[:-1]) / (len(ring) - 1)) < 0.01
    assert abs(lat - sum(p[1] for p in ring[:-1]) / (len(ring) - 1)) < 0.01
    # placeholders are SVG paths drawn dashed; the legend says what the dashes mean
    dashes = watched.page.evaluate(
        "() => [...document.querySelectorAll('.leaflet-overlay-pane svg path')]"
        ".map(p => p.getAttribute('stroke-dasharray')).filter(Boolean)"
    )
    assert dashes and set(dashes) == {"6 5"}, dashes
    assert watched.page.locator("#legend-placeholder").is_visible()
    # every fact is on the card: a missing one is marked, a computed one is in km
    missing = watched.page.locator(
        '#card-facts tr.fact-missing[data-fact="lease_price_vnd_m2_year"]'
    )
    assert missing.locator("td").inner_text().strip().endswith("chưa có dữ liệu")
    hanoi = watched.page.locator('#card-facts tr.fact-known[data-fact="dist_hanoi_km"] td')
    assert re.fullmatch(r"\d+ km", hanoi.inner_text().strip())
    card = watched.page.locator("#card").inner_text()
    assert "Tỉnh Sơn La" in card and "Xã Chiềng Mung" in card and "province_code" not in card
    assert "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Sơn La" in card  # a citation, no file
    watched.screenshot("map-placeholder-card.png")
    choose_language(watched, "en")  # the address keeps the site: its card opens again
    watched.page.wait_for_selector("#card-facts")
    assert missing.locator("td").inner_text().strip().endswith("no data yet")
    assert "Fatherland Front" in watched.page.locator("#card-sources").inner_text()
    watched.screenshot("map-placeholder-card-en.png")
    watched.clean()
