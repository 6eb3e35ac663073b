"""Every language in a real browser (Debian's Chromium, Playwright): the map's titles, filters,
a site card and an error, the project page and the dashboard, each checked by axe-core (from
npm, served to the page by the test itself from `node_modules`, never in the service) for no
serious or critical violation; and the map used with the keyboard alone.

Screenshots go to tests/artifacts/ (`map-<lang>.png`, `card-<lang>.png`, …) to be looked at:
the CJK glyphs must render (scripts/test.sh installs Debian's fonts-noto-cjk)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo_service.i18n import ENDONYMS, HTML_TAGS, LANGUAGES, tr
from geo_service.layer_frame import records_to_frame
from geo_service.sample import build_sample
from geo_service.store.gpkg import GeoPackageStore

from .conftest import grid_layer, load_sample_pipeline
from .server import running_server
from .test_map_browser import Watched

sync_api = pytest.importorskip("playwright.sync_api")
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH = "/__tests__/axe.min.js"
"""Where the test serves axe-core to the page (same origin, so the page's CSP allows it)."""
SITE = "industrial_zones/SL-KCN-MAISON-2"
UNREVIEWED = {"ja", "ko", "zh"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("languages")
    build_sample(folder)
    load_sample_pipeline(folder)
    return folder


@pytest.fixture(scope="module")
def base_url(data_dir) -> Iterator[str]:
    with running_server(data_dir) as url:
        yield url


class Checked(Watched):
    """A watched page that can also be checked by axe-core."""

    def _route(self, route) -> None:
        if urllib.parse.urlsplit(route.request.url).path == AXE_PATH:
            route.fulfill(body=AXE.read_bytes(), content_type="text/javascript")
            return
        super()._route(route)

    def axe(self, name: str) -> None:
        """No serious or critical axe-core violation (WCAG 2.1 A and AA, and best practice)."""
        assert AXE.exists(), f"axe-core is missing at {AXE}: run `npm ci` (scripts/test.sh does)"
        self.page.add_script_tag(url=self.base_url + AXE_PATH)
        result = self.page.evaluate(
            """async () => {
                const r = await axe.run(document, {
                  runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
                });
                return r.violations.map((v) => ({
                  id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + ": " + n.failureSummary),
                }));
            }"""
        )
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{name}: " + json.dumps(bad, ensure_ascii=False, indent=1)


@pytest.fixture()
def checked(browser, base_url) -> Iterator[Checked]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(60000)
    yield Checked(page, base_url)
    context.close()


def api(base_url: str, path: str, lang: str) -> dict:
    request = urllib.request.Request(f"{base_url}{path}", headers={"Accept-Language": lang})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_map_speaks_each_language(checked, lang):
    page = checked.page
    checked.open(f"/map?lang={lang}")
    assert page.evaluate("() => document.documentElement.lang") == HTML_TAGS[lang]
    # titles and filters from the catalogue
    assert page.locator("#panel-toggle").inner_text().strip() == tr(lang, "Filters")
    panel = page.locator("#panel").inner_text()
    assert tr(lang, "Only in current view") in panel and tr(lang, "Province") in panel
    assert page.locator(".leaflet-control-zoom-in").get_attribute("title") == tr(lang, "Zoom in")
    # the map's title has no Japanese, Korean or Chinese text: English stands in, and says so
    title = page.locator("#map-title")
    if lang in ("vi", "en"):
        assert title.locator(".fallback-lang").count() == 0
    else:
        assert title.locator('.fallback-lang[lang="en"]').inner_text() == "(English)"
    # a coded value's label without a text in the language is marked as the English it is in
    layer = "industrial_zones"
    values = page.locator(f'details.layer-filters[data-layer="{layer}"] .facet-label')
    values.first.wait_for()
    marks = {values.nth(i).get_attribute("lang") for i in range(values.count())}
    assert marks == ({None} if lang in ("vi", "en") else {"en"}), marks
    # a facet filters, and the counts read in the language
    page.locator(f'details.layer-filters[data-layer="{layer}"] input[type=checkbox]').first.check()
    checked.idle()
    config = f"siteMap.config.layers.find(l => l.id === '{layer}')"
    cql = page.evaluate(f"() => siteMap.layerFilter({config})")
    assert 0 < checked.drawn(layer) == checked.api_matched(layer, cql)
    total = page.evaluate(f"() => {config}.total")
    counted = page.locator(f'[data-count="{layer}"]').inner_text()
    matched = checked.api_matched(layer, cql, bbox=False)
    assert counted == tr(lang, "{n} of {m} sites", n=matched, m=total)
    # the footer says when a person has not reviewed the translation
    note = page.locator("#page-footer")
    if lang in UNREVIEWED:
        assert note.inner_text() == tr(lang, "Machine translation, not reviewed by a person.")
    else:
        assert note.count() == 0
    checked.screenshot(f"map-{lang}.png")
    checked.axe(f"map ({lang})")
    checked.clean()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_site_card_and_an_error_in_each_language(checked, lang):
    page = checked.page
    checked.open(f"/map?site={SITE}&lang={lang}")
    page.wait_for_selector("#card-shortlist")
    assert page.inner_text("#card-shortlist").strip() == tr(lang, "Add to shortlist")
    assert page.inner_text("#card-enquiry summary") == tr(lang, "Ask about this site")
    feature = api(checked.base_url, f"/collections/{SITE.replace('/', '/items/')}", lang)
    heading = page.locator("#card-title")
    if lang == "vi":
        assert heading.inner_text() == feature["properties"]["name_vi"]
    elif lang == "en":
        assert heading.inner_text() == feature["properties"]["name_en"]
    else:  # no name in the language: the English one, marked
        assert heading.locator('span[lang="en"]').inner_text() == feature["properties"]["name_en"]
        assert heading.locator(".fallback-lang").inner_text() == "(English)"
    # its fields' labels (and coded values) without a text in the language are marked English
    labels = page.locator("#card-facts th")
    marked = page.locator("#card-facts th[lang]")
    assert labels.count() > 0
    if lang in ("vi", "en"):
        assert marked.count() == 0
    else:  # the sample's kinds label their fields in Vietnamese and English only
        assert marked.count() == labels.count()
        assert {marked.nth(i).get_attribute("lang") for i in range(marked.count())} == {"en"}
    # the nearest sites are named by the same rule: the language, else English, else Vietnamese
    near = page.locator("#card tr[data-layer] td a").first
    near.wait_for()
    assert near.get_attribute("lang") == ("vi" if lang == "vi" else "en"), near.inner_text()
    layer_title = page.locator("#card tr[data-layer] th").first  # the sample's: vi and en only
    assert layer_title.get_attribute("lang") == (None if lang in ("vi", "en") else "en")
    # the language menu keeps the rest of the address
    other = page.locator("#lang-menu a[data-lang=vi]").get_attribute("href")
    assert "site=" in other and "map=" in other and "lang=vi" in other
    page.locator("#card-enquiry summary").click()
    checked.screenshot(f"card-{lang}.png")
    checked.axe(f"site card ({lang})")
    # an error from the API, in the page's language
    checked.open(f"/map?lang={lang}&shortlist=doesnotexist")
    message = page.locator("#map-error .text")
    message.wait_for(state="visible")
    no_list = tr(lang, "no shortlist {id!r}", id="doesnotexist")
    assert message.inner_text() == tr(lang, "Could not load data: {msg}", msg=no_list)
    checked.screenshot(f"error-{lang}.png")
    assert checked.errors and all("404" in e for e in checked.errors)  # the failed request
    checked.errors.clear()
    checked.clean()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_front_page_leads_people_to_the_map_and_dashboard_in_each_language(checked, lang):
    page = checked.page
    page.goto(f"{checked.base_url}/?lang={lang}")
    assert page.evaluate("() => document.documentElement.lang") == HTML_TAGS[lang]
    people = page.locator(".people a")
    assert people.count() == 2
    assert people.nth(0).inner_text().startswith(tr(lang, "Investment map"))
    assert (
        people.nth(1).inner_text().startswith(tr(lang, "Investment attracted against the targets"))
    )
    assert page.locator(".lang-menu a[aria-current]").inner_text() == ENDONYMS[lang]
    assert tr(lang, "This document") in page.inner_text("main")
    checked.screenshot(f"front-{lang}.png")
    checked.axe(f"front page ({lang})")
    people.nth(0).click()
    page.wait_for_url(f"**/map?lang={lang}")
    checked.clean()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_project_page_and_dashboard_in_each_language(checked, lang):
    page = checked.page
    project = api(checked.base_url, "/projects?limit=1", lang)["projects"][0]
    page.goto(f"{checked.base_url}/projects/{project['id']}?f=html&lang={lang}")
    assert page.evaluate("() => document.documentElement.lang") == HTML_TAGS[lang]
    assert page.inner_text(".enquiry h2") == tr(lang, "Ask about this project")
    current = page.locator(".lang-menu a[aria-current]")
    assert (
        current.inner_text() == ENDONYMS[lang]
        and current.get_attribute("hreflang") == HTML_TAGS[lang]
    )
    assert page.locator(".lang-menu a").count() == len(LANGUAGES)
    # step and stage names the procedures give in Vietnamese and English only: marked English
    names = page.locator(".timeline h3, p.stage")
    tagged = page.locator(".timeline h3 > span[lang], p.stage > span[lang]")
    assert names.count() > 1
    assert tagged.count() == (0 if lang in ("vi", "en") else names.count())
    checked.screenshot(f"project-{lang}.png")
    checked.axe(f"project page ({lang})")
    page.goto(f"{checked.base_url}/dashboard?lang={lang}")
    page.wait_for_function("() => document.body.dataset.state === 'ready'")
    assert page.inner_text("h1") == tr(lang, "Investment attracted against the targets")
    assert page.title() == tr(lang, "Investment attracted against the targets")
    footer = page.locator("footer.definitions").inner_text()
    assert (tr(lang, "Machine translation, not reviewed by a person.") in footer) == (
        lang in UNREVIEWED
    )
    checked.screenshot(f"dashboard-{lang}.png")
    checked.axe(f"dashboard ({lang})")
    checked.clean()


FOCUSED = """e => {
    const style = getComputedStyle(e);
    return { id: e.id, tag: e.tagName, name: e.getAttribute("aria-label") || e.textContent.trim(),
             outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth) };
}"""


def focused(page) -> dict:
    return page.evaluate(f"() => ({FOCUSED})(document.activeElement)")


def tab_to(page, predicate: str, limit: int = 80) -> dict:
    """Press Tab until the focused element satisfies `predicate` (a JS function of it); its
    state is read in the same call, as the map may redraw (and refocus) between two calls."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate(
            f"() => {{ const e = document.activeElement; return ({predicate})(e) ? ({FOCUSED})(e) : null; }}"
        )
        if state is not None:
            return state
    raise AssertionError(f"Tab never reached {predicate}")


def test_the_map_with_the_keyboard_alone(checked):
    page = checked.page
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the panel is a sheet
    checked.open("/map?lang=en&map=11/21.20000/104.00000")
    # filters: open the panel with Enter, focus lands in it, a value is chosen with Space
    state = tab_to(page, "e => e.id === 'panel-toggle'")
    assert state["outline"] != "none" and state["outlineWidth"] >= 2  # focus is visible
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.body.classList.contains('panel-open')")
    assert focused(page)["id"] == "search"
    box = tab_to(page, "e => e.type === 'checkbox' && e.dataset.layer === 'industrial_zones'")
    assert box["outline"] != "none"
    page.keyboard.press("Space")
    checked.idle()
    assert "f.industrial_zones." in page.url
    page.keyboard.press("Escape")
    assert not page.evaluate("() => document.body.classList.contains('panel-open')")
    assert focused(page)["id"] == "panel-toggle"
    # a site card from a marker: Tab to it, Enter opens the card and focus moves into it
    page.set_viewport_size({"width": 1280, "height": 800})
    checked.idle()
    site_pin = (
        "e => e.classList.contains('site-pin-wrap') && e.classList.contains('leaflet-marker-icon')"
    )
    marker = tab_to(page, site_pin, limit=300)
    assert marker["outline"] != "none"
    # the resize may still be redrawing the markers: Enter once the map is still and the focus
    # is on a marker (the one drawn in place of the first, or the next one Tab reaches)
    checked.idle()
    if not page.evaluate(f"() => ({site_pin})(document.activeElement)"):
        tab_to(page, site_pin, limit=300)
    page.keyboard.press("Enter")
    page.wait_for_selector("#card:not([hidden]) #card-shortlist")
    assert page.evaluate("() => document.getElementById('card').contains(document.activeElement)")
    # the shortlist: add with the keyboard, then open the basket
    tab_to(page, "e => e.id === 'card-shortlist'")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('basket-count').textContent === '1'")
    # the enquiry form: every field reached and labelled, sent with Enter
    page.focus("#card-enquiry summary")
    page.keyboard.press("Enter")
    typed = {"name": "Keyboard Investor", "organisation": "", "email": "", "phone": "",
             "message": "Is there land for a 5 ha factory?"}  # fmt: skip
    for name, text in typed.items():
        field = tab_to(page, f"e => e.name === '{name}'")
        assert field["outline"] != "none"
        labels = f"() => document.querySelector('#enquiry-form [name={name}]').labels.length"
        assert page.evaluate(labels) == 1
        page.keyboard.type(text)
    tab_to(page, "e => e.type === 'submit'")
    page.keyboard.press("Enter")  # neither email nor phone: refused, and said why
    error = page.locator(".enquiry-status.error")
    assert error.inner_text() == tr(
        "en", "Please give an email address or a phone number to be answered on."
    )
    page.focus("#enquiry-form [name=phone]")
    page.keyboard.type("call me")
    tab_to(page, "e => e.type === 'submit'")
    page.keyboard.press("Enter")  # the server refuses it: said by the label, focus on the field
    page.wait_for_function(
        "() => document.querySelector('#enquiry-form [name=phone]') === document.activeElement"
    )
    assert error.inner_text() == "Phone: must be a phone number, such as +84 212 3456 789"
    assert page.locator("#enquiry-form [name=phone]").get_attribute("aria-invalid") == "true"
    assert checked.errors and all("400" in e for e in checked.errors)  # the refused request
    checked.errors.clear()
    page.keyboard.press("Control+A")
    page.keyboard.type("+84 212 3856 000")
    assert page.locator("#enquiry-form [aria-invalid]").count() == 0
    tab_to(page, "e => e.type === 'submit'")
    page.keyboard.press("Enter")
    page.wait_for_selector(".enquiry-status.ok")
    # Escape closes the card and focus returns to the marker that opened it
    page.keyboard.press("Escape")
    assert page.locator("#card").is_hidden()
    # on the marker, or on the one drawn in its place if the map was redrawing meanwhile
    page.wait_for_function(f"() => ({site_pin})(document.activeElement)", timeout=5000)
    state = tab_to(page, "e => e.id === 'basket-toggle'", limit=400)
    page.keyboard.press("Enter")
    assert page.locator("#basket").is_visible()
    assert page.evaluate("() => document.getElementById('basket').contains(document.activeElement)")
    page.keyboard.press("Escape")
    assert page.locator("#basket").is_hidden() and focused(page)["id"] == "basket-toggle"
    checked.screenshot("map-keyboard.png")
    checked.clean()


@pytest.fixture(scope="module")
def titled_url(tmp_path_factory) -> Iterator[str]:
    """A catalogue of one layer titled in Japanese, its `status` labelled in Japanese too, and
    in no other language beyond Vietnamese and English."""
    folder = tmp_path_factory.mktemp("titled")
    meta, records, geometries = grid_layer()
    fields = [
        f.model_copy(update={"label_ja": "状況"}) if f.name == "status" else f for f in meta.fields
    ]
    meta = meta.model_copy(update={"title_ja": "試験グリッド", "fields": fields})
    GeoPackageStore(folder).publish(meta, records_to_frame(meta, records, geometries))
    with running_server(folder) as url:
        yield url


@pytest.mark.parametrize("lang", ["ja", "ko"])
def test_a_layers_own_title_in_the_language_or_english_marked(browser, titled_url, lang):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60000)
    watched = Watched(page, titled_url)
    watched.open(f"/map?lang={lang}")
    title = page.locator('[data-layer="grid"] .layer-title')
    status = page.locator('[data-label="grid.status"]')
    legend = page.locator(".legend-row .legend-title")
    if lang == "ja":
        assert title.inner_text() == "試験グリッド" and title.locator(".fallback-lang").count() == 0
        assert legend.inner_text() == "試験グリッド"
        assert status.inner_text() == "状況" and status.get_attribute("lang") is None
    else:  # no Korean title: the English one, marked
        assert title.locator('span[lang="en"]').inner_text() == "Test grid"
        assert title.locator('.fallback-lang[lang="en"]').inner_text() == "(English)"
        assert legend.locator('.fallback-lang[lang="en"]').inner_text() == "(English)"
        assert status.get_attribute("lang") == "en"  # the filter's English label, said so
    watched.screenshot(f"layer-title-{lang}.png")
    watched.clean()
    context.close()
