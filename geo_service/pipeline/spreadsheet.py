"""Projects as a planner's spreadsheet: export to CSV/XLSX, import from CSV/XLSX.

Export goes through the catalogue's export writers (labelled headers in Vietnamese or English,
x/y and WKT of the location). Import reads the same headers in either language, the field names,
or an old or new address instead of a commune code; every problem is reported with its row and
column, and nothing is stored unless every row is valid (all or nothing, one transaction).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyogrio
import shapely
from pydantic import ValidationError
from shapely.geometry import Point, mapping

from ..catalogue import CodedValue, FieldSpec, LayerMeta
from ..clock import today_in_vietnam
from ..errors import InvalidParameter
from ..exports import export_features
from ..i18n import _l, render, said
from ..i18n.content import FURTHER
from ..i18n.validation import what
from ..places import UnmatchedPlace, commune_by_code
from ..store import Feature
from ..text import fold
from .documents import EDITABLE, ProjectDocument, check_project
from .procedures import FORMS, Procedures
from .progress import days_behind
from .projects import ProjectFilters, ProjectRecord, ProjectStore
from .stages import STAGES

SPREADSHEETS = ("csv", "xlsx")
DATA_QUALITY = {
    "authoritative": ("Chính thức", "Authoritative"),
    "indicative": ("Minh họa, chưa chính thức", "Indicative"),
    "synthetic_demo": ("Dữ liệu mô phỏng", "Synthetic demo data"),
}
DERIVED = ("stage", "current_step", "days_behind", "steps_completed", "steps_total",
           "commune_name", "updated_at")  # fmt: skip
"""Export columns computed from the record: an import reads past them."""


def codes_of(labels: dict[str, tuple[str, str]]) -> list[CodedValue]:
    return [CodedValue(code=c, label_vi=vi, label_en=en) for c, (vi, en) in labels.items()]


LANGUAGE_NAMES = {"ja": ("tiếng Nhật", "Japanese"), "ko": ("tiếng Hàn", "Korean"),
                  "zh": ("tiếng Trung", "Chinese")}  # fmt: skip
"""The further languages as the columns of their names and summaries call them."""


def texts_in_further_languages() -> list[FieldSpec]:
    """The columns of a project's name and summary in each further language (optional)."""
    return [
        FieldSpec(
            name=f"{stem}_{lang}",
            type="string",
            label_vi=f"{vi} {LANGUAGE_NAMES[lang][0]}",
            label_en=f"{en} ({LANGUAGE_NAMES[lang][1]})",
        )
        for stem, vi, en in (("name", "Tên", "Name"), ("summary", "Tóm tắt", "Summary"))
        for lang in FURTHER
    ]


def project_fields(procedures: Procedures) -> list[FieldSpec]:
    """The columns of a projects spreadsheet, in order, with their labels and code lists."""
    forms = {f: (p.title_vi, p.title_en) for f in FORMS if (p := procedures.forms.get(f))}
    sectors = {c: (s.name_vi, s.name_en) for c, s in procedures.sectors.items()}
    spec = FieldSpec
    return [
        spec(name="id", type="string", label_vi="Mã dự án", label_en="Project id"),
        spec(name="name_vi", type="string", label_vi="Tên dự án", label_en="Name (Vietnamese)"),
        spec(name="name_en", type="string", label_vi="Tên tiếng Anh", label_en="Name (English)"),
        spec(name="summary_vi", type="string", label_vi="Tóm tắt", label_en="Summary (Vietnamese)"),
        spec(name="summary_en", type="string", label_vi="Tóm tắt tiếng Anh", label_en="Summary (English)"),
        *texts_in_further_languages(),
        spec(name="investment_form", type="string", label_vi="Hình thức đầu tư", label_en="Investment form", codes=codes_of(forms)),
        spec(name="sector", type="string", label_vi="Lĩnh vực", label_en="Sector", codes=codes_of(sectors)),
        spec(name="stage", type="string", label_vi="Giai đoạn", label_en="Stage", codes=codes_of(STAGES)),
        spec(name="current_step", type="string", label_vi="Bước hiện tại", label_en="Current step"),
        spec(name="days_behind", type="integer", label_vi="Số ngày chậm tiến độ", label_en="Days behind schedule"),
        spec(name="steps_completed", type="integer", label_vi="Số bước đã hoàn thành", label_en="Steps completed"),
        spec(name="steps_total", type="integer", label_vi="Số bước của quy trình", label_en="Steps in the procedure"),
        spec(name="commune_code", type="string", label_vi="Mã xã, phường", label_en="Commune code"),
        spec(name="commune_name", type="string", label_vi="Xã, phường", label_en="Commune"),
        spec(name="area_ha", type="number", label_vi="Diện tích", label_en="Area", unit="ha"),
        spec(name="capital_planned_billion_vnd", type="number", label_vi="Vốn dự kiến", label_en="Planned capital", unit="tỷ VND"),
        spec(name="capital_registered_billion_vnd", type="number", label_vi="Vốn đăng ký", label_en="Registered capital", unit="tỷ VND"),
        spec(name="capital_disbursed_billion_vnd", type="number", label_vi="Vốn đã giải ngân", label_en="Disbursed capital", unit="tỷ VND"),
        spec(name="investor", type="string", label_vi="Nhà đầu tư", label_en="Investor"),
        spec(name="responsible_agency", type="string", label_vi="Cơ quan chịu trách nhiệm", label_en="Responsible agency"),
        spec(name="public_contact", type="string", label_vi="Đầu mối liên hệ", label_en="Public contact"),
        spec(name="sites", type="string", label_vi="Địa điểm liên kết", label_en="Linked sites"),
        spec(name="source", type="string", label_vi="Nguồn", label_en="Source"),
        spec(name="data_quality", type="string", label_vi="Chất lượng dữ liệu", label_en="Data quality", codes=codes_of(DATA_QUALITY)),
        spec(name="updated_at", type="datetime", label_vi="Cập nhật", label_en="Updated"),
    ]  # fmt: skip


def projects_meta(procedures: Procedures) -> LayerMeta:
    return LayerMeta(
        id="investment_projects",
        title_vi="Dự án đầu tư",
        title_en="Investment projects",
        kind="investment_project",
        geometry_type="polygon",
        fields=project_fields(procedures),
        updated=today_in_vietnam().isoformat(),
    )


def _sites_text(sites: list[tuple[str, str]]) -> str | None:
    return "; ".join(f"{c}/{i}" for c, i in sites) or None


def project_feature(record: ProjectRecord, today: dt.date) -> Feature:
    values = record.values
    code = values["commune_code"]
    properties = {
        **{k: values.get(k) for k in EDITABLE if k not in ("location", "sites")},
        "id": record.id,
        "stage": values["stage"],
        "current_step": values["current_step"],
        "days_behind": days_behind(values["earliest_open_planned"], today),
        "steps_completed": values["steps_completed"],
        "steps_total": values["steps_total"],
        "commune_name": commune_name(code),
        "sites": _sites_text(record.sites),
        "updated_at": values["updated_at"],
    }
    return Feature(record.id, values["location"], properties)


def commune_name(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return commune_by_code(code).name
    except UnmatchedPlace:
        return None


def export_projects(
    store: ProjectStore, filters: ProjectFilters, today: dt.date, format_name: str, lang: str
) -> tuple[Path, str]:
    """Every project matching `filters` as CSV or XLSX: (file, media type)."""
    if format_name not in SPREADSHEETS:
        raise InvalidParameter(
            _l("projects export as csv or xlsx, not {format_name!r}", format_name=format_name)
        )
    batches = (
        [project_feature(r, today) for r in batch] for batch in store.batches(filters, today)
    )
    return export_features(projects_meta(store.procedures), batches, format_name, lang)


# -- import ------------------------------------------------------------------------------------

Severity = Literal["error", "warning"]


@dataclass
class ImportProblem:
    row: int | None
    """The spreadsheet row (the header is row 1), or None for the whole file."""
    column: str
    message: str
    """A `Text`, said in the report's language."""
    severity: Severity = "error"


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    stored: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def add(self, row: int | None, column: str, message: str, severity: Severity = "error"):
        self.problems.append(ImportProblem(row, column, message, severity))

    def to_text(self, lang: str = "en") -> str:
        """The report for a person, in `lang`: what became of the file, then each problem."""
        if self.stored:
            state = _l(
                "stored: {created} created, {updated} updated",
                created=self.created,
                updated=self.updated,
            )
        elif self.ok:
            state = _l("valid (dry run, nothing stored)")
        else:
            errors = sum(p.severity == "error" for p in self.problems)
            state = _l("{errors} errors, nothing stored", errors=errors)
        head = _l("{file}: {rows} rows; {state}", file=self.file, rows=self.rows, state=state)
        lines = [render(head, lang)]
        severities = {"error": _l("error"), "warning": _l("warning")}
        for p in self.problems:
            where = _l("row {row}", row=p.row) if p.row is not None else _l("the file")
            problem = _l(
                "{where}, column {column!r}: {message}",
                where=where,
                column=p.column,
                message=p.message,
            )
            severity = render(severities[p.severity], lang).upper()
            lines.append(f"  {severity:<9} {render(problem, lang)}")
        return "\n".join(lines)


_SPACES = re.compile(r"\s+")
_X_HEADERS = ("x", "lon", "lng", "longitude", "kinh do")
_Y_HEADERS = ("y", "lat", "latitude", "vi do")


def _key(header: str) -> str:
    return _SPACES.sub(" ", fold(header).strip())


def _header_names(fields: list[FieldSpec]) -> dict[str, str]:
    """Folded header → field (or `wkt`, `x`, `y`, `address`)."""
    names: dict[str, str] = {}
    for spec in fields:
        for text in (spec.name, spec.label_vi, spec.label_en):
            names[_key(text)] = spec.name
            if spec.unit:
                names[_key(f"{text} ({spec.unit})")] = spec.name
    for text in ("wkt", "location", "vi tri", "geometry"):
        names[text] = "wkt"
    names.update({h: "x" for h in _X_HEADERS})
    names.update({h: "y" for h in _Y_HEADERS})
    names.update({"address": "address", "dia chi": "address"})
    return names


def _column(header: str, names: dict[str, str]) -> str | None:
    key = _key(header)
    if key in names:
        return names[key]
    stem = key.split(" (", 1)[0]  # "wkt (epsg:4326)", "x (epsg:4326)"
    return names.get(stem) if stem in ("wkt", "x", "y") else None


def read_rows(path: Path) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """The header and the rows of a CSV or XLSX file, every cell as text (or None)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InvalidParameter(
            _l("{name}: a projects spreadsheet is .csv or .xlsx", name=path.name)
        )
    options = {"HEADERS": "FORCE", "FIELD_TYPES": "STRING"} if suffix == ".xlsx" else {}
    try:
        frame = pyogrio.read_dataframe(path, read_geometry=False, **options)
    except Exception as exc:  # GDAL's errors for unreadable files come in several kinds
        raise InvalidParameter(
            _l("{name}: cannot read it as a spreadsheet: {exc}", name=path.name, exc=exc)
        ) from None
    headers = [str(c) for c in frame.columns]
    frame = frame.astype(object).where(frame.notna(), None)
    return headers, iter(frame.to_dict("records"))


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(text: str) -> float:
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text.replace(" ", ""))
    except ValueError:
        raise ValueError(_l("not a number")) from None


def _coded(text: str, spec: FieldSpec) -> str:
    """The code a cell means: the code itself, a label in either language, or a part of one
    label only (e.g. «du lịch» for «Du lịch, dịch vụ cao cấp»)."""
    codes = spec.codes or []
    key = _key(text)
    for code in codes:
        if text == code.code or key in (_key(code.label_vi), _key(code.label_en)):
            return code.code
    partial = [c.code for c in codes if key in _key(c.label_vi) or key in _key(c.label_en)]
    if len(partial) == 1:
        return partial[0]
    raise ValueError(
        _l(
            "not a known {value}: use a code ({value2}) or its name",
            value=spec.label_en.lower(),
            value2=", ".join(c.code for c in codes),
        )
    )


def _document(cells: dict[str, str], fields: dict[str, FieldSpec]) -> tuple[dict, list]:
    """The row as a project document; problems of cell syntax as (field, message)."""
    document: dict[str, Any] = {}
    problems = []
    for name, text in cells.items():
        spec = fields.get(name)
        try:
            if name == "sites":
                document["sites"] = [
                    dict(zip(("collection", "id"), part.strip().split("/", 1), strict=True))
                    for part in re.split(r"[;\n]", text)
                    if part.strip()
                ]
            elif name == "wkt":
                document["location"] = mapping(shapely.from_wkt(text))
            elif name in ("x", "y", "address"):
                continue
            elif spec is not None and spec.type == "number":
                document[name] = _number(text)
            elif spec is not None and spec.codes:
                document[name] = _coded(text, spec)
            else:
                document[name] = text
        except (ValueError, shapely.errors.ShapelyError) as exc:
            problems.append(
                (name, _l("{place}: {problem}", place=repr(text[:60]), problem=said(exc)))
            )
    if "address" in cells:
        document["address"] = cells["address"]
    if "location" not in document and "x" in cells and "y" in cells:
        try:
            document["location"] = mapping(Point(_number(cells["x"]), _number(cells["y"])))
        except ValueError as exc:
            problems.append(("x", _l("cannot read the coordinates: {exc}", exc=said(exc))))
    elif "location" not in document and ("x" in cells) != ("y" in cells):
        given = "x" if "x" in cells else "y"
        problems.append((given, _l("give both the longitude and the latitude, or neither")))
    return document, problems


def import_projects(
    path: Path,
    store: ProjectStore,
    site_exists: Callable[[str, str], bool],
    today: dt.date,
    dry_run: bool = False,
) -> ImportReport:
    """Validate every row; store them all (created or replaced by id) only if none has an error."""
    report = ImportReport(path.name, dry_run=dry_run)
    headers, rows = read_rows(path)
    procedures = store.procedures
    specs = {s.name: s for s in project_fields(procedures)}
    names = _header_names(list(specs.values()))
    columns: dict[str, str] = {}
    for header in headers:
        name = _column(header, names)
        if name is None:
            report.add(None, header, _l("unknown column, ignored"), "warning")
        elif name in DERIVED:
            continue  # computed from the record; an exported file carries it
        elif name in columns.values():
            report.add(None, header, _l("a second column for {name!r}", name=name))
        else:
            columns[header] = name
    by_field = {name: header for header, name in columns.items()}
    for required in ("id", "name_vi", "source"):
        if required not in by_field:
            report.add(None, specs[required].label_vi, _l("missing column {name!r}", name=required))
    if not report.ok:
        return report
    known_sites: dict[tuple[str, str], bool] = {}

    def cached_site(collection: str, feature_id: str) -> bool:
        key = (collection, feature_id)
        if key not in known_sites:
            known_sites[key] = site_exists(collection, feature_id)
        return known_sites[key]

    checked, seen, first_row = [], {}, {}
    for number, raw in enumerate(rows, start=2):
        report.rows += 1
        cells = {columns[h]: c for h, v in raw.items() if h in columns and (c := _cell(v))}
        if not cells:
            continue
        document, problems = _document(cells, specs)
        given = cells.get("id")
        if given in first_row:  # whether or not that row was valid
            problems.append(
                ("id", _l("id {id} is also on row {row}", id=given, row=first_row[given]))
            )
        elif given is not None:
            first_row[given] = number
        project = None
        try:
            project = ProjectDocument.model_validate(document)
        except ValidationError as exc:
            problems += [(str(e["loc"][0]) if e["loc"] else "row", what(e)) for e in exc.errors()]
        if project is not None and not problems:
            result, problems = check_project(project, procedures, cached_site)
            if result is not None:
                seen[project.id] = number
                checked.append(result)
        for name, message in problems:
            if name == "location":
                name = "wkt" if "wkt" in by_field else "x"
            report.add(number, by_field.get(name, name), message)
    locked = store.forms_fixed_by_steps(list(seen))
    for item in checked:
        form = locked.get(item.document.id, item.document.investment_form)
        if form != item.document.investment_form:
            report.add(
                seen[item.document.id],
                by_field.get("investment_form", "investment_form"),
                _l(
                    "project {id} has steps of the {form} procedure recorded; its investment form "
                    "cannot change",
                    id=item.document.id,
                    form=form,
                ),
            )
    if report.ok and not dry_run and checked:
        report.created, report.updated = store.import_projects(checked, today)
        report.stored = True
    return report
