"""The dashboard page (`/dashboard`, in every language of `i18n`, phone and desktop).

Rendered on the server from the same figures as `GET /dashboard/summary`: every chart's numbers
are in an ordinary table (readable without scripts, and by screen readers); `static/dashboard.js`
draws the charts from the page's data with Chart.js and the communes' proportional symbols with
Leaflet, both served by us from npm. The view (period, figure shown, language) lives in the URL,
so a view can be shared. No inline script or style: the page's data travel as JSON in a
`<script type="application/json">`, which runs nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xyzservices.providers as basemaps

from ..i18n import N_, pick, tr
from ..i18n.pages import page_environment
from ..maps.assets import CHART_JS, LEAFLET_CSS, LEAFLET_JS, vendor_url
from .periods import FIGURES, Period
from .summary import Dashboard

STATIC_DIR = Path(__file__).parent / "static"
STATIC_ROUTE = "/static/dashboard"
BASEMAP = basemaps.OpenStreetMap.Mapnik
CHARTS = ("investment_form", "sector", "stage", "year")
MEASURES = ("new_projects", "projects", "capital_registered_billion_vnd")

LABELS = {
    "investment_form": N_("By investment form"),
    "sector": N_("By sector"),
    "stage": N_("By stage (period end)"),
    "year": N_("By year"),
    "projects": N_("Projects (period end)"),
    "new_projects": N_("New projects"),
    "completed": N_("Completed"),
    "revoked": N_("Revoked"),
    "capital_planned_billion_vnd": N_("Planned capital of new projects (billion VND)"),
    "capital_registered_billion_vnd": N_("Registered capital of new projects (billion VND)"),
    "capital_disbursed_billion_vnd": N_("Disbursed capital of new projects (billion VND)"),
    "on_track": N_("On track"),
    "behind": N_("Behind the pace"),
    "not_started": N_("Not started"),
    "not_measurable": N_("Not measurable on the platform"),
}
"""The names of the charts, figures and target states the page picks by their codes."""

_environment = page_environment("geo_service.dashboard")


def number(value: float | None, lang: str, decimals: int = 0) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".") if lang == "vi" else text


def day(value: str | dt.date, lang: str) -> str:
    value = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return value.strftime("%d/%m/%Y") if lang == "vi" else value.isoformat()


_environment.filters["number"] = number
_environment.filters["day"] = day


def dashboard_page(
    dashboard: Dashboard, period: Period, measure: str, lang: str, today: dt.date
) -> str:
    summary = dashboard.summary(period, ("commune_code",), today)
    charts = {name: dashboard.summary(period, (name,), today)["groups"] for name in CHARTS}
    data = {
        "lang": lang,
        "measure": measure,
        "labels": {"this": tr(lang, "This period"), "before": tr(lang, "A year earlier")},
        "charts": {
            name: {
                "labels": [pick(g["label"], lang) for g in groups],
                "current": [g["current"][measure] for g in groups],
                "previous": [g["previous"][measure] for g in groups],
            }
            for name, groups in charts.items()
        },
        "communes": [
            {"name": pick(g["label"], lang), **g["commune"], "value": g["current"][measure]}
            for g in summary["groups"]
            if g["commune"] and g["current"][measure]
        ],
        "basemap": {"url": BASEMAP.build_url(), "attribution": BASEMAP.html_attribution},
    }
    return _environment.get_template("dashboard.html").render(
        labels=LABELS,
        lang=lang,
        period=period,
        previous=period.previous(),
        measure=measure,
        measures=MEASURES,
        figures=FIGURES,
        summary=summary,
        charts=charts,
        data=data,
        static=STATIC_ROUTE,
        chart_js=vendor_url(CHART_JS),
        leaflet_js=vendor_url(LEAFLET_JS[0][1]),
        leaflet_css=vendor_url(LEAFLET_CSS[0][1]),
    )
