"""The dashboard page in Debian's Chromium (Playwright): basemap tiles blocked, every other
request to 127.0.0.1, no console error, no Content-Security-Policy violation, on a desktop and a
phone; charts, bars and commune symbols drawn from the same figures as the summary."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from .dashboard_data import random_enquiries, random_pipeline
from .pipeline_app import pipeline_client
from .server import running_server
from .test_map_browser import ARTIFACTS, Watched

VIEWPORTS = {"desktop": (1400, 900), "phone": (390, 844)}
PERIOD = {"from": "2025-01-01", "to": "2026-11-30"}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    from .pipeline_app import pipeline_data_dir

    folder = tmp_path_factory.mktemp("dashboard")
    data = pipeline_data_dir(folder)
    url = f"sqlite:///{folder / 'records.sqlite'}"
    with pipeline_client(data, url) as client:
        random_pipeline(client.app.state.projects, 2026, count=80)
        random_enquiries(client.app.state.projects, 2026)
    with running_server(data, env={"GEO_SERVICE_DATABASE_URL": url}) as base:
        yield base


def summary(base_url: str, **params) -> dict:
    query = urllib.parse.urlencode({**PERIOD, **params})
    with urllib.request.urlopen(f"{base_url}/dashboard/summary?{query}") as response:
        return json.load(response)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_dashboard_draws_everything_from_our_own_server(base_url, viewport, browser):
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(60000)  # the page is computed on the server, on shared cores
    watched = Watched(page, base_url)
    lang = "vi" if viewport == "desktop" else "en"
    query = urllib.parse.urlencode({**PERIOD, "lang": lang})
    page.goto(f"{base_url}/dashboard?{query}")
    page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=60000)
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{viewport}.png"), full_page=True)

    by_form = summary(base_url, group_by="investment_form")
    charts = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("canvas")].map(c => {
            const chart = Chart.getChart(c);
            return [c.id, chart.data.datasets.map(d => d.data)];
        }))"""
    )
    assert set(charts) == {f"chart-{n}" for n in ("investment_form", "sector", "stage", "year")}
    assert charts["chart-investment_form"] == [
        [g["current"]["new_projects"] for g in by_form["groups"]],
        [g["previous"]["new_projects"] for g in by_form["groups"]],
    ]
    by_commune = summary(base_url, group_by="commune_code")
    with_projects = [
        g for g in by_commune["groups"] if g["commune"] and g["current"]["new_projects"]
    ]
    symbols = page.evaluate(
        "() => { let n = 0; dashboardMap.eachLayer(l => { if (l instanceof L.CircleMarker) n++; });"
        " return n; }"
    )
    assert symbols == len(with_projects) > 0
    bars = page.evaluate(
        "() => [...document.querySelectorAll('.bar .fill')].map(b => b.style.width)"
    )
    measurable = [t for t in by_form["targets"] if t["measurable"]]
    assert len(bars) == len(measurable)
    assert all(b.endswith("%") for b in bars)
    late_rows = page.locator("#late tbody tr").count()
    assert late_rows == min(20, by_form["late_projects"]["total"]) or (
        by_form["late_projects"]["total"] == 0 and late_rows == 1
    )
    if viewport == "phone":  # the view is in the URL: change the figure, share the link
        page.select_option("select[name=measure]", "projects")
        page.click("form.period button[type=submit]")
        page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=60000)
        assert "measure=projects" in page.url and "lang=en" in page.url
        stages = page.evaluate("() => Chart.getChart('chart-stage').data.datasets[0].data")
        by_stage = summary(base_url, group_by="stage")
        assert stages == [g["current"]["projects"] for g in by_stage["groups"]]
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= width, "the page scrolls sideways on a phone"
    # every name on a chart's side fits its axis, cut with "…" if need be, never at the edge
    clipped = page.evaluate(CLIPPED_NAMES)
    assert clipped == [], clipped
    context.close()
    assert watched.errors == [], watched.errors
    assert watched.violations == [], watched.violations
    assert watched.outside == [], watched.outside
    assert watched.tiles > 0  # the basemap was asked for (and refused)


CLIPPED_NAMES = """() => [...document.querySelectorAll('canvas[id^=chart-]')].flatMap(c => {
    const chart = Chart.getChart(c);
    if (chart.options.indexAxis !== 'y') return [];
    const axis = chart.scales.y;
    chart.ctx.save();
    chart.ctx.font = '11px system-ui, sans-serif';
    const over = axis.ticks.map(t => String(t.label))
        .filter(label => chart.ctx.measureText(label).width > axis.width);
    chart.ctx.restore();
    return over;
})"""
"""The names on the charts' side axes wider than the axis: those the canvas cuts at its edge."""


def test_bad_page_parameters_get_400(base_url):
    for query in ("measure=everything", "from=2026-02-30", "from=2026-05-01&to=2026-01-01"):
        try:
            urllib.request.urlopen(f"{base_url}/dashboard?{query}")
        except urllib.error.HTTPError as error:
            assert error.code == 400
            assert json.load(error)["code"]
        else:
            raise AssertionError(f"{query} was accepted")
