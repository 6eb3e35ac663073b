"""The targets dashboard over HTTP: the summary (public JSON), its page, and the annual report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from ..clock import today_in_vietnam
from ..dashboard.page import BASEMAP, MEASURES, STATIC_DIR, STATIC_ROUTE, dashboard_page
from ..dashboard.periods import Period
from ..dashboard.report import FORMATS, MEDIA_TYPES, build_report, report_file
from ..dashboard.summary import DIMENSIONS, parse_group_by
from ..errors import InvalidParameter
from ..i18n import _l
from .deps import DashboardDep, HeavyDep, LangDep, output_format
from .downloads import file_download
from .links import JSON, base_url, link
from .projects import MaybeEditor
from .security import html_page, tile_source
from .strict_input import StrictRoute

router = APIRouter(tags=["Targets dashboard"], route_class=StrictRoute)


def period_of(start: dt.date | None, end: dt.date | None, today: dt.date) -> Period:
    """`from`/`to` as a period: by default from 1 January of `to`'s year to today; it may not
    end after today (the pipeline counts what has happened)."""
    end = end or today
    period = Period(start or dt.date(end.year, 1, 1), end)
    if period.end > today:
        raise InvalidParameter(
            _l(
                "`to` ({end}) is after today ({today}): the pipeline counts what has happened",
                end=period.end,
                today=today,
            )
        )
    return period


From = Annotated[
    dt.date | None, Query(alias="from", description="first day (default: 1 January of `to`'s year)")
]
To = Annotated[dt.date | None, Query(alias="to", description="last day (default: today)")]


@router.get(
    "/dashboard/summary",
    summary="Investment attracted against the plans' targets / Kết quả thu hút đầu tư so với "
    "mục tiêu",
)
def summary(
    request: Request,
    dashboard: DashboardDep,
    start: Annotated[
        dt.date | None,
        Query(alias="from", description="first day (default: 1 January of `to`'s year)"),
    ] = None,
    end: Annotated[
        dt.date | None, Query(alias="to", description="last day (default: today)")
    ] = None,
    group_by: Annotated[
        str | None,
        Query(description=f"one or more of {', '.join(DIMENSIONS)}, separated by commas"),
    ] = None,
) -> JSONResponse:
    """Counts and capital by group for the period, beside the same period a year earlier,
    progress against each target, late projects and enquiries. What is counted is defined in
    the README ("Counting by period")."""
    today = today_in_vietnam()
    period = period_of(start, end, today)
    document: dict[str, Any] = dashboard.summary(period, parse_group_by(group_by), today)
    document["links"] = [
        link(str(request.url), "self", JSON, _l("This summary")),
        link(f"{base_url(request)}/dashboard", "alternate", "text/html", _l("Dashboard page")),
    ]
    return JSONResponse(document)  # JSON types only: `Dashboard.summary` writes dates as text


@router.get(
    "/dashboard/report",
    summary="Annual report on investment attraction / Báo cáo thu hút đầu tư hằng năm",
    response_model=None,
    responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}},
)
def report(
    dashboard: DashboardDep,
    heavy: HeavyDep,
    lang: LangDep,
    editor: MaybeEditor,
    year: Annotated[int, Query(description="the year reported on")],
    f: Annotated[str, Depends(output_format(FORMATS))],
):
    """Results against the targets, the same period a year earlier, projects by form and stage,
    late projects, enquiries and obstacles; an editor's token adds obstacles noted internally."""
    today = today_in_vietnam()
    with heavy.slot():
        document = build_report(dashboard, year, lang, today, include_internal=editor is not None)
        path = report_file(document, f, year)
    return file_download(path, MEDIA_TYPES[f])


@router.get(
    "/dashboard",
    summary="Targets dashboard page / Trang theo dõi mục tiêu thu hút đầu tư",
    response_class=HTMLResponse,
)
def page(
    dashboard: DashboardDep,
    lang: LangDep,
    start: From = None,
    end: To = None,
    measure: Annotated[str, Query(description=", ".join(MEASURES))] = MEASURES[0],
) -> HTMLResponse:
    """The period, the figure shown and the language are in the URL, so a view can be shared."""
    if measure not in MEASURES:
        raise InvalidParameter(_l("measure must be one of {value}", value=", ".join(MEASURES)))
    today = today_in_vietnam()
    html = dashboard_page(dashboard, period_of(start, end, today), measure, lang, today)
    return html_page(html, [tile_source(BASEMAP.build_url())])


def mount_static(app: FastAPI) -> None:
    """The dashboard's own script and style sheet."""
    app.mount(STATIC_ROUTE, StaticFiles(directory=STATIC_DIR), name="dashboard-static")
