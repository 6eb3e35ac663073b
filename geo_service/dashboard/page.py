"""The dashboard page (`/dashboard`, Vietnamese or English, phone and desktop).

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
from jinja2 import Environment, PackageLoader, select_autoescape

from ..maps.assets import CHART_JS, LEAFLET_CSS, LEAFLET_JS, vendor_url
from .periods import FIGURES, Period
from .summary import Dashboard

STATIC_DIR = Path(__file__).parent / "static"
STATIC_ROUTE = "/static/dashboard"
BASEMAP = basemaps.OpenStreetMap.Mapnik
CHARTS = ("investment_form", "sector", "stage", "year")
MEASURES = ("new_projects", "projects", "capital_registered_billion_vnd")

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Kết quả thu hút đầu tư so với mục tiêu",
        "other_lang": "English",
        "map_link": "Bản đồ đầu tư",
        "from": "Từ ngày",
        "to": "Đến ngày",
        "measure": "Số liệu",
        "show": "Xem",
        "period": "Kỳ {start} – {end}, so với cùng kỳ {pstart} – {pend}",
        "report": "Báo cáo năm {year}",
        "targets": "Mục tiêu, chỉ tiêu",
        "achieved": "Đạt {achieved} / {goal} {unit} ({share})",
        "pace": "theo tiến độ đều cần {pace} {unit} đến {day}",
        "on_track": "Đúng tiến độ",
        "behind": "Chậm so với tiến độ",
        "not_started": "Chưa đến kỳ",
        "not_measurable": "Không đo được trên nền tảng",
        "source": "Nguồn",
        "this": "Kỳ này",
        "before": "Cùng kỳ năm trước",
        "table": "Bảng số liệu",
        "group": "Nhóm",
        "investment_form": "Theo hình thức đầu tư",
        "sector": "Theo lĩnh vực",
        "stage": "Theo giai đoạn (cuối kỳ)",
        "year": "Theo năm",
        "communes": "Theo xã, phường",
        "map_note": "Diện tích vòng tròn tỉ lệ với số liệu của xã, phường.",
        "late": "Dự án chậm tiến độ",
        "late_total": "{total} dự án có bước quá hạn kế hoạch (tại ngày {day})",
        "id": "Mã",
        "name": "Dự án",
        "days_late": "Số ngày chậm",
        "agency": "Cơ quan chịu trách nhiệm",
        "step_agency": "Cơ quan thực hiện bước",
        "enquiries": "Câu hỏi của nhà đầu tư",
        "received": "Tiếp nhận",
        "answered": "Đã trả lời",
        "median": "Thời gian trả lời (trung vị)",
        "days": "{value} ngày",
        "projects": "Số dự án (cuối kỳ)",
        "new_projects": "Dự án mới",
        "completed": "Hoàn thành",
        "revoked": "Thu hồi",
        "capital_planned_billion_vnd": "Vốn dự kiến của dự án mới (tỷ đồng)",
        "capital_registered_billion_vnd": "Vốn đăng ký của dự án mới (tỷ đồng)",
        "capital_disbursed_billion_vnd": "Vốn giải ngân của dự án mới (tỷ đồng)",
        "none": "Không có",
        "definitions": "Dự án mới: được chấp thuận chủ trương đầu tư hoặc lựa chọn nhà đầu tư "
        "trong kỳ và chưa bị thu hồi tại ngày cuối kỳ; giai đoạn, hình thức tính tại ngày cuối "
        "kỳ theo các sự kiện hồ sơ. Dữ liệu «synthetic_demo» là dữ liệu mô phỏng.",
    },
    "en": {
        "title": "Investment attracted against the targets",
        "other_lang": "Tiếng Việt",
        "map_link": "Investment map",
        "from": "From",
        "to": "To",
        "measure": "Figure",
        "show": "Show",
        "period": "Period {start} – {end}, beside {pstart} – {pend}",
        "report": "Report {year}",
        "targets": "Targets",
        "achieved": "{achieved} of {goal} {unit} ({share})",
        "pace": "a linear pace needs {pace} {unit} by {day}",
        "on_track": "On track",
        "behind": "Behind the pace",
        "not_started": "Not started",
        "not_measurable": "Not measurable on the platform",
        "source": "Source",
        "this": "This period",
        "before": "A year earlier",
        "table": "Data table",
        "group": "Group",
        "investment_form": "By investment form",
        "sector": "By sector",
        "stage": "By stage (period end)",
        "year": "By year",
        "communes": "By commune",
        "map_note": "Circle areas are proportional to each commune's figure.",
        "late": "Late projects",
        "late_total": "{total} projects have a step past its planned date (on {day})",
        "id": "Id",
        "name": "Project",
        "days_late": "Days late",
        "agency": "Responsible agency",
        "step_agency": "Agency acting at the step",
        "enquiries": "Investors' enquiries",
        "received": "Received",
        "answered": "Answered",
        "median": "Time to answer (median)",
        "days": "{value} days",
        "projects": "Projects (period end)",
        "new_projects": "New projects",
        "completed": "Completed",
        "revoked": "Revoked",
        "capital_planned_billion_vnd": "Planned capital of new projects (billion VND)",
        "capital_registered_billion_vnd": "Registered capital of new projects (billion VND)",
        "capital_disbursed_billion_vnd": "Disbursed capital of new projects (billion VND)",
        "none": "None",
        "definitions": "New project: its investment policy approved or investor selected within "
        "the period and not revoked by its end; stage and form as of the period's end, from the "
        "dossier events. «synthetic_demo» marks simulated data.",
    },
}

_environment = Environment(
    loader=PackageLoader("geo_service.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


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
        "labels": {"this": TEXT[lang]["this"], "before": TEXT[lang]["before"]},
        "charts": {
            name: {
                "labels": [g["label"][lang] for g in groups],
                "current": [g["current"][measure] for g in groups],
                "previous": [g["previous"][measure] for g in groups],
            }
            for name, groups in charts.items()
        },
        "communes": [
            {"name": g["label"][lang], **g["commune"], "value": g["current"][measure]}
            for g in summary["groups"]
            if g["commune"] and g["current"][measure]
        ],
        "basemap": {"url": BASEMAP.build_url(), "attribution": BASEMAP.html_attribution},
    }
    return _environment.get_template("dashboard.html").render(
        t=TEXT[lang],
        lang=lang,
        other="en" if lang == "vi" else "vi",
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


def image_sources() -> list[str]:
    """The basemap's tile host, for the page's Content-Security-Policy."""
    from ..api.security import tile_source

    return [tile_source(BASEMAP.build_url())]
