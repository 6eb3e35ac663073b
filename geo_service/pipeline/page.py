"""A project's public, printable page (`/projects/{id}?f=html`, in every language of `i18n`).

Rendered from the same public document as the JSON answer (so it can show nothing more), with
Jinja's autoescaping. No inline script or style: `static/project.js` sends the enquiry form and
`static/project.css` lays out screen and print.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..clock import today_in_vietnam
from ..i18n import N_
from ..i18n.pages import page_environment

STATIC_DIR = Path(__file__).parent / "static"
STATIC_ROUTE = "/static/pipeline"

STEP_STATES = {
    "pending": N_("Not started"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
}
"""A step's state as the page names it."""

_environment = page_environment("geo_service.pipeline")


def _day(value: str | None, lang: str) -> str:
    """An ISO date as people read it: 31/12/2026 in Vietnamese, 2026-12-31 in English."""
    if not value:
        return ""
    if lang == "vi":
        return dt.date.fromisoformat(value[:10]).strftime("%d/%m/%Y")
    return value[:10]


def _number(value: float | None, lang: str) -> str:
    if value is None:
        return ""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",") if lang == "vi" else text


_environment.filters["day"] = _day
_environment.filters["number"] = _number


def project_page(document: dict[str, Any], events: list[dict[str, Any]], lang: str) -> str:
    """The page of a project from its public document and its public events."""
    self_url = next(x["href"] for x in document["links"] if x["rel"] == "self")
    root = self_url.rsplit("/projects/", 1)[0]
    return _environment.get_template("project.html").render(
        p=document,
        events=events,
        steps={step["step"]: step for step in document["timeline"]},
        lang=lang,
        labels=STEP_STATES,
        root=root,
        static=STATIC_ROUTE,
        today=today_in_vietnam().isoformat(),
    )
