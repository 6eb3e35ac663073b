"""The annual report plan 56-KH/TU asks for before 30 November: results against the targets,
comparison with the same period of the previous year, projects by form and stage, late projects
with their days and agency, enquiries and response times, obstacles recorded on the dossiers.

`build_report` counts it (through `Dashboard`, so the figures are the summary's) into sections of
typed tables; `write_report` writes them as XLSX (one sheet per section, numbers as numbers with
number formats), DOCX (tables a secretariat pastes into its report) or PDF (the site sheets' fpdf2
machinery and fonts).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidParameter
from ..exports.site_sheet import FONT, new_pdf, paragraph, table, write_pdf
from ..i18n import N_, _l, pick, pick_marked, tr
from ..pipeline.stages import STAGES
from .page import LABELS, day, number
from .periods import Period
from .summary import Dashboard, add_up, roll_up, shown

Kind = Literal["text", "int", "float", "percent", "date"]
FORMATS = ("xlsx", "docx", "pdf")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
FIRST_YEAR = 2000
LISTED = 500
"""At most this many late projects (the longest delays) and obstacles (the latest) are listed;
the report says how many there are in all."""


@dataclass(frozen=True)
class Column:
    label: str
    kind: Kind = "text"
    width: float = 1.0
    """Relative width in the PDF and DOCX tables."""


@dataclass
class Section:
    sheet: str
    """A short name (an XLSX sheet name: at most 31 characters)."""
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""


@dataclass
class Report:
    title: str
    subtitle: str
    lang: str
    sections: list[Section]


COMPARED = (
    "projects",
    "new_projects",
    "completed",
    "revoked",
    "capital_planned_billion_vnd",
    "capital_registered_billion_vnd",
    "capital_disbursed_billion_vnd",
)
"""The figures the report compares with the same period a year earlier."""

MESSAGES: dict[str, Any] = {
    "title": N_("Investment attraction report {year}"),
    "subtitle": N_(
        "Figures from {start} to {end}, compared with the same period of {previous}. Made on {today} from the project records; «synthetic_demo» marks simulated data."
    ),
    "targets": (N_("Targets"), N_("Results against the targets")),
    "compare": (N_("Same period"), N_("Comparison with the same period of the previous year")),
    "forms": (N_("By form"), N_("Projects by investment form")),
    "stages": (N_("By stage"), N_("Projects by stage (on the period's last day)")),
    "late": (N_("Late projects"), N_("Late projects (on the day of the report)")),
    "enquiries": (N_("Enquiries"), N_("Investors' enquiries received and answered")),
    "obstacles": (N_("Obstacles"), N_("Obstacles recorded on the project dossiers")),
    "plan": N_("Plan"),
    "target": N_("Target"),
    "goal": N_("Goal"),
    "unit": N_("Unit"),
    "achieved": N_("Achieved"),
    "share": N_("Share of the goal"),
    "pace": N_("At a linear pace"),
    "status": N_("Assessment"),
    "quote": N_("Quote"),
    "figure": N_("Figure"),
    "this_year": N_("This period"),
    "last_year": N_("Same period a year earlier"),
    "change": N_("Change"),
    "form": N_("Investment form"),
    "stage": N_("Stage"),
    **{name: LABELS[name] for name in COMPARED},  # named as the dashboard names them
    "projects_before": N_("Projects a year earlier"),
    "new_before": N_("New projects a year earlier"),
    "id": N_("Project id"),
    "name": N_("Project"),
    "step": N_("Late step"),
    "planned": N_("Planned by"),
    "days_late": N_("Days late"),
    "agency": N_("Responsible agency"),
    "step_agency": N_("Agency acting at the step"),
    "received": N_("Enquiries received"),
    "answered": N_("Answered (by the period's end)"),
    "median": N_("Time to answer (median, hours)"),
    "date": N_("Date"),
    "note": N_("Note"),
    "none": N_("None"),
    "on_track": N_("On track"),
    "behind": N_("Behind the pace"),
    "not_started": N_("Not started"),
    "not_measurable": N_("Not measurable on the platform"),
    "unknown": N_("Not recorded"),
    "internal": N_("Internal notes included."),
    "latest": N_("The latest {shown} of {total} are listed."),
    "longest": N_(
        "The {shown} longest delays of {total} late projects are listed; all of them: /projects?behind=true&f=xlsx."
    ),
    "public_only": N_("Public notes only."),
}
"""The report's texts (a section's pair: its sheet name and its title), from the catalogues."""


def _texts(lang: str) -> dict[str, Any]:
    """`MESSAGES` in `lang`."""
    return {
        key: tuple(tr(lang, m) for m in value) if isinstance(value, tuple) else tr(lang, value)
        for key, value in MESSAGES.items()
    }


def report_period(year: int, today: dt.date) -> Period:
    """The report's year up to today."""
    if not FIRST_YEAR <= year <= today.year:
        raise InvalidParameter(
            _l(
                "year must be between {first_year} and {year}",
                first_year=FIRST_YEAR,
                year=today.year,
            )
        )
    return Period(dt.date(year, 1, 1), min(dt.date(year, 12, 31), today))


def build_report(
    dashboard: Dashboard, year: int, lang: str, today: dt.date, include_internal: bool
) -> Report:
    t = _texts(lang)
    period = report_period(year, today)
    previous = period.previous()
    both = ("investment_form", "stage")
    with dashboard.records.reading() as session:
        now = dashboard.figures(session, period, both)
        before = dashboard.figures(session, previous, both)
        targets = dashboard.target_progress(session, period.end)
        enquiries = dashboard.enquiry_figures(session, period)
        late, late_total = dashboard.late_projects(session, today, LISTED)
        obstacles, obstacles_total = dashboard.obstacles(session, period, include_internal, LISTED)
    forms = dashboard.groups(
        ("investment_form",),
        period,
        roll_up(now, both, ("investment_form",)),
        roll_up(before, both, ("investment_form",)),
        dashboard.procedures,
    )
    by_stage_now = roll_up(now, both, ("stage",))
    by_stage_before = roll_up(before, both, ("stage",))
    totals = {"current": shown(add_up(now.values())), "previous": shown(add_up(before.values()))}
    sections = [
        _targets(targets, lang),
        _comparison(totals, lang),
        _by_form(dashboard, forms, lang),
        Section(
            *t["stages"],
            [
                Column(t["stage"], width=2),
                Column(t["projects"], "int"),
                Column(t["projects_before"], "int"),
            ],
            [
                [
                    pick(dict(zip(("vi", "en"), STAGES[code], strict=True)), lang),
                    by_stage_now.get((code,), {}).get("projects", 0),
                    by_stage_before.get((code,), {}).get("projects", 0),
                ]
                for code in STAGES
            ],
        ),  # fmt: skip
        _late(late, late_total, lang),
        _enquiries(enquiries, lang),
        Section(
            *t["obstacles"],
            [
                Column(t["date"], "date"),
                Column(t["id"]),
                Column(t["name"], width=2),
                Column(t["agency"], width=1.5),
                Column(t["note"], width=3),
            ],
            [
                [
                    dt.date.fromisoformat(o["date"]),
                    o["project_id"],
                    pick_marked(o, lang, "name"),
                    o["responsible_agency"] or t["unknown"],
                    o["note"],
                ]
                for o in obstacles
            ],
            note=" ".join(
                [t["internal"] if include_internal else t["public_only"]]
                + (
                    [t["latest"].format(shown=len(obstacles), total=obstacles_total)]
                    if obstacles_total > len(obstacles)
                    else []
                )
            ),
        ),  # fmt: skip
    ]
    return Report(
        t["title"].format(year=year),
        t["subtitle"].format(
            start=_text(period.start, "date", lang),
            end=_text(period.end, "date", lang),
            previous=previous.start.year,
            today=_text(today, "date", lang),
        ),
        lang,
        sections,
    )


def _targets(targets: list[dict], lang: str) -> Section:
    t = _texts(lang)
    rows = []
    for target in targets:
        goal = (
            f"{_text(target['min'], 'float', lang)}–{_text(target['max'], 'float', lang)}"
            if target["value"] is None
            else _text(target["value"], "float", lang)
        )
        if target["approximate"]:
            goal = tr(lang, "about {goal}", goal=goal)
        measured = target["status"] not in ("not_measurable", "not_started")
        rows.append(
            [
                pick(target["plan_title"], lang),
                pick(target["name"], lang),
                goal,
                pick(target["unit_name"], lang),
                target["achieved"] if measured else None,
                target.get("share_of_goal") if measured else None,
                target.get("expected_by_now") if measured else None,
                t[target["status"]],
                target["quote"],
            ]
        )
    return Section(
        *t["targets"],
        [Column(t["plan"], width=2), Column(t["target"], width=1.5), Column(t["goal"]),
         Column(t["unit"], width=0.7), Column(t["achieved"], "float"),
         Column(t["share"], "percent"), Column(t["pace"], "float"), Column(t["status"]),
         Column(t["quote"], width=3)],
        rows,
    )  # fmt: skip


def _comparison(totals: dict, lang: str) -> Section:
    t = _texts(lang)
    rows = []
    for name in COMPARED:
        now, before = totals["current"][name], totals["previous"][name]
        rows.append([t[name], now, before, now - before])
    return Section(
        *t["compare"],
        [Column(t["figure"], width=3), Column(t["this_year"], "float"),
         Column(t["last_year"], "float"), Column(t["change"], "float")],
        rows,
    )  # fmt: skip


def _by_form(dashboard: Dashboard, groups: list[dict], lang: str) -> Section:
    t = _texts(lang)
    names = ("projects", "new_projects", "completed", "revoked", "capital_registered_billion_vnd")
    return Section(
        *t["forms"],
        [Column(t["form"], width=2.5), *[Column(t[n], "float" if "capital" in n else "int")
                                         for n in names],
         Column(t["projects_before"], "int"), Column(t["new_before"], "int")],
        [[pick(g["label"], lang), *[g["current"][n] for n in names], g["previous"]["projects"],
          g["previous"]["new_projects"]] for g in groups],
    )  # fmt: skip


def _late(late: list[dict], total: int, lang: str) -> Section:
    t = _texts(lang)
    return Section(
        *t["late"],
        [Column(t["id"]), Column(t["name"], width=2.5), Column(t["step"], width=2),
         Column(t["planned"], "date"), Column(t["days_late"], "int"),
         Column(t["agency"], width=1.5), Column(t["step_agency"], width=1.5)],
        [[p["id"], pick_marked(p, lang, "name"),
          pick(p["step_name"], lang) if p["step_name"] else "", dt.date.fromisoformat(p["planned"]),
          p["days_late"], p["responsible_agency"] or t["unknown"],
          pick(p["step_agency"], lang) if p["step_agency"] else ""] for p in late],
        note=t["longest"].format(shown=len(late), total=total) if total > len(late) else "",
    )  # fmt: skip


def _enquiries(enquiries: dict, lang: str) -> Section:
    t = _texts(lang)
    now, before = enquiries["current"], enquiries["previous"]
    return Section(
        *t["enquiries"],
        [Column(t["figure"], width=3), Column(t["this_year"], "float"),
         Column(t["last_year"], "float")],
        [[t["received"], now["received"], before["received"]],
         [t["answered"], now["answered"], before["answered"]],
         [t["median"], now["median_hours_to_answer"], before["median_hours_to_answer"]]],
    )  # fmt: skip


# -- writing ----------------------------------------------------------------------------------
def _text(value: Any, kind: Kind, lang: str) -> str:
    """A value as people read it in the language (1.234,5 in Vietnamese, 1,234.5 in English)."""
    if value is None:
        return "—"
    if kind == "date":
        return day(value, lang)
    if kind in ("int", "float", "percent"):
        figure = value * 100 if kind == "percent" else value
        decimals = 0 if kind == "int" or float(figure).is_integer() else 1
        return number(figure, lang, decimals) + ("%" if kind == "percent" else "")
    return str(value)


NUMBER_FORMATS = {"int": "#,##0", "float": "#,##0.0", "percent": "0.0%", "date": "yyyy-mm-dd"}


def write_xlsx(report: Report, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for section in report.sections:
        sheet = book.create_sheet(section.sheet[:31])
        sheet.append([c.label for c in section.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in section.rows:
            sheet.append(row)
        for index, column in enumerate(section.columns, start=1):
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = 14 * column.width
            if column.kind in NUMBER_FORMATS:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = NUMBER_FORMATS[column.kind]
        sheet.freeze_panes = "A2"
        if section.note:
            sheet.append([])
            sheet.append([section.note])
    book.properties.title = report.title
    book.save(path)


def write_docx(report: Report, path: Path) -> None:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    document = Document()
    document.core_properties.title = report.title
    document.add_heading(report.title, level=0)
    document.add_paragraph(report.subtitle)
    for section in report.sections:
        document.add_heading(section.title, level=1)
        grid = document.add_table(rows=1, cols=len(section.columns))
        grid.style = "Table Grid"
        for cell, column in zip(grid.rows[0].cells, section.columns, strict=True):
            cell.text = column.label
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for row in section.rows:
            cells = grid.add_row().cells
            for cell, value, column in zip(cells, row, section.columns, strict=True):
                cell.text = _text(value, column.kind, report.lang)
                if column.kind in ("int", "float", "percent"):
                    cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        if not section.rows:
            document.add_paragraph(tr(report.lang, MESSAGES["none"]))
        if section.note:
            document.add_paragraph(section.note)
    document.save(path)


def write_pdf_report(report: Report, path: Path) -> None:
    pdf = new_pdf(report.title, orientation="landscape", lang=report.lang)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    paragraph(pdf, 8, report.title)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(0, 5, report.subtitle, new_x="LMARGIN", new_y="NEXT")
    for section in report.sections:
        pdf.ln(3)
        pdf.set_font(FONT, "B", 11)
        paragraph(pdf, 7, section.title)
        total = sum(c.width for c in section.columns)
        rows: list[Sequence[str]] = [[c.label for c in section.columns]]
        rows += [
            [_text(v, c.kind, report.lang) for v, c in zip(row, section.columns, strict=True)]
            for row in section.rows
        ]
        table(pdf, rows, [c.width / total for c in section.columns])
        pdf.set_font(FONT, "", 8)
        if not section.rows:
            paragraph(pdf, 5, tr(report.lang, MESSAGES["none"]))
        if section.note:
            paragraph(pdf, 5, section.note)
    written = write_pdf(pdf, path.stem)
    written.replace(path)
    written.parent.rmdir()


def write_report(report: Report, fmt: str, path: Path) -> None:
    {"xlsx": write_xlsx, "docx": write_docx, "pdf": write_pdf_report}[fmt](report, path)


def report_file(report: Report, fmt: str, year: int) -> Path:
    """The report written to `bao-cao-thu-hut-dau-tu-<year>-<lang>.<fmt>` in a temporary folder
    the caller removes."""
    if fmt not in FORMATS:
        raise InvalidParameter(_l("f must be one of {value}", value=", ".join(FORMATS)))
    folder = Path(tempfile.mkdtemp(prefix="geo-service-report-"))
    path = folder / f"bao-cao-thu-hut-dau-tu-{year}-{report.lang}.{fmt}"
    write_report(report, fmt, path)
    return path
