"""The investment pipeline over HTTP: procedures, projects, their dossier events and page.

Reading is public; writing needs an editor token and is recorded in the audit log. A change
(PATCH, a JSON merge patch) must name the version it was made on (`If-Match` with the ETag of the
last GET), so two officers never overwrite each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from shapely import from_wkb
from shapely.geometry import mapping

from ..admin_store import Token
from ..clock import today_in_vietnam, utc_now
from ..errors import InvalidParameter, NotFound, refused
from ..i18n import Lang, _l, in_language
from ..i18n.content import names_per_language
from ..memory_cache import MemoryCache
from ..pipeline.documents import (
    COMMUNE_CODE,
    PROJECT_ID,
    EventDocument,
    ProjectDocument,
    check_project,
    merge_patch,
    parse,
    site_checker,
)
from ..pipeline.page import STATIC_DIR, STATIC_ROUTE, project_page
from ..pipeline.procedures import FORMS, Procedure, Procedures
from ..pipeline.progress import EVENT_KINDS, DossierEvent, Progress, days_behind
from ..pipeline.projects import (
    KeptAnswer,
    ProjectFilters,
    ProjectRecord,
    ProjectStore,
    check_version,
)
from ..pipeline.spreadsheet import DATA_QUALITY, commune_name, export_projects
from ..pipeline.stages import STAGES
from ..store import Store
from ..text import TextId
from .auth import Editor, require
from .bodies import body_schema, json_body
from .deps import (
    AdminStoreDep,
    LangDep,
    ProjectPagesDep,
    ProjectsDep,
    RecordPage,
    RecordPageDep,
    StoreDep,
    output_format,
)
from .downloads import file_download
from .links import HTML, JSON, base_url, link, paging_links, with_params
from .security import html_page
from .strict_input import StrictRoute

router = APIRouter(tags=["Investment pipeline"], route_class=StrictRoute)
AUDIT_LAYER = "investment_projects"
ProjectId = Annotated[str, Path(pattern=PROJECT_ID, max_length=64, examples=["SL-DA-0001"])]
ListFormat = Annotated[str, Depends(output_format(("json", "csv", "xlsx")))]
PageFormat = Annotated[str, Depends(output_format(("json", "html"), html=True))]
Body = Annotated[Any, Depends(json_body)]
_editor = require("editor")
PROJECT_TEXTS = names_per_language("name", "summary")
"""A project's texts per language, each in its document (null where not given)."""


async def optional_editor(
    admin: AdminStoreDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Token | None:
    """The editor's token if one is sent (a bad one is still a 401), else None."""
    if authorization is None:
        return None
    return await _editor(admin, authorization)


Projects = ProjectsDep
MaybeEditor = Annotated[Token | None, Depends(optional_editor)]


def actor(token: Token) -> str:
    """How an officer appears on the events they record: the token's label."""
    return token.label or f"token {token.id}"


# -- procedures ------------------------------------------------------------------------------


def procedure_json(procedure: Procedure) -> dict[str, Any]:
    return procedure.model_dump()


@router.get("/procedures", summary="Investment procedures / Quy trình, thủ tục đầu tư")
def procedures(request: Request, projects: Projects) -> dict[str, Any]:
    reference = projects.procedures
    root = base_url(request)
    return {
        "forms": [procedure_json(p) for p in reference.forms.values()],
        "sectors": [s.model_dump() for s in reference.sectors.values()],
        "sectors_source": reference.sectors_source,
        "stages": [{"code": c, "name_vi": vi, "name_en": en} for c, (vi, en) in STAGES.items()],
        "event_kinds": [
            {"code": c, "name_vi": vi, "name_en": en} for c, (vi, en) in EVENT_KINDS.items()
        ],
        "links": [link(f"{root}/procedures", "self", JSON, _l("Procedures"))],
    }


@router.get("/procedures/{form}", summary="One form's procedure / Quy trình một hình thức")
def procedure(form: str, projects: Projects) -> dict[str, Any]:
    found = projects.procedures.procedure(form)
    if found is None:
        raise NotFound(
            _l("no investment form {form!r} (one of {value})", form=form, value=", ".join(FORMS))
        )
    return procedure_json(found)


# -- projects --------------------------------------------------------------------------------


def project_json(
    request: Request,
    record: ProjectRecord,
    reference: Procedures,
    progress: Progress | None,
    lang: Lang,
) -> dict[str, Any]:
    """A project's public document: its fields, names of its codes, its derived progress (from
    `progress` when given, else from the stored projection) and links; its `name` and `summary`
    in `lang`, else English, else Vietnamese, with the language each is in (`name_lang`)."""
    values = record.values
    today = today_in_vietnam()
    root = base_url(request)
    url = f"{root}/projects/{record.id}"
    location = values["location"]
    bbox = [values[k] for k in ("min_lon", "min_lat", "max_lon", "max_lat")]
    if progress is None:
        derived = {
            "stage": values["stage"],
            "current_step": values["current_step"],
            "steps_completed": values["steps_completed"],
            "steps_total": values["steps_total"],
            "days_behind": days_behind(values["earliest_open_planned"], today),
        }
    else:
        derived = {
            "stage": progress.stage,
            "current_step": progress.current_step,
            "steps_completed": progress.steps_completed,
            "steps_total": len(progress.steps),
            "days_behind": progress.days_behind,
        }
    form = reference.procedure(values["investment_form"])
    sector = reference.sectors.get(values["sector"] or "")
    return {
        "id": record.id,
        **in_language(values, "name", lang),
        **in_language(values, "summary", lang),
        **{k: values[k] for k in PROJECT_TEXTS},
        "investment_form": values["investment_form"],
        "investment_form_name": None
        if form is None
        else {"vi": form.title_vi, "en": form.title_en},
        "sector": values["sector"],
        "sector_name": None if sector is None else {"vi": sector.name_vi, "en": sector.name_en},
        **derived,
        "stage_name": dict(zip(("vi", "en"), STAGES[derived["stage"]], strict=True)),
        "data_quality_name": dict(
            zip(("vi", "en"), DATA_QUALITY[values["data_quality"]], strict=True)
        ),
        "location": None if location is None else mapping(from_wkb(location)),
        "bbox": None if location is None else bbox,
        "commune_code": values["commune_code"],
        "commune_name": commune_name(values["commune_code"]),
        "sites": [
            {"collection": c, "id": i, "href": f"{root}/collections/{c}/items/{i}"}
            for c, i in record.sites
        ],
        **{
            k: values[k]
            for k in (
                "area_ha",
                "capital_planned_billion_vnd",
                "capital_registered_billion_vnd",
                "capital_disbursed_billion_vnd",
                "investor",
                "responsible_agency",
                "public_contact",
                "source",
                "data_quality",
                "created_at",
                "updated_at",
            )
        },
        "links": [
            link(url, "self", JSON, _l("This project")),
            link(f"{url}?f=html", "alternate", HTML, _l("Printable page")),
            link(f"{url}/events", "related", JSON, _l("Dossier events")),
        ],
    }


def timeline(procedure: Procedure | None, progress: Progress) -> list[dict[str, Any]]:
    """Each step of the form's procedure with its state and dates, in order."""
    if procedure is None:
        return []
    today = today_in_vietnam()
    return [
        {
            "step": step.code,
            "name_vi": step.name_vi,
            "name_en": step.name_en,
            "agency_vi": step.agency_vi,
            "agency_en": step.agency_en,
            "legal_basis": step.legal_basis,
            "optional": step.optional,
            "duration_days": step.duration_days,
            "state": state.state,
            "started": state.started,
            "planned": state.planned,
            "completed": state.completed,
            "days_late": state.days_late(today),
            "delay_days": state.delay_days,
            "reopened": state.reopened,
        }
        for step, state in zip(procedure.steps, progress.steps, strict=True)
    ]


def event_json(event: DossierEvent, editor: bool) -> dict[str, Any]:
    document = {
        "seq": event.seq,
        "kind": event.kind,
        "kind_name": dict(zip(("vi", "en"), EVENT_KINDS[event.kind], strict=True)),
        "step": event.step,
        "date": event.date,
        "planned_date": event.planned_date,
        "document": event.document,
        "note": event.note,
        "public": event.public,
        "obstacle": event.obstacle,
        "recorded_at": event.recorded_at,
    }
    if event.kind == "form_changed":
        document.update(form_before=event.form_before, form_after=event.form_after)
    if editor:
        document["actor"] = event.actor
    return document


def _filters(
    reference: Procedures,
    investment_form: str | None,
    stage: str | None,
    sector: str | None,
    commune_code: str | None,
    behind: bool,
    q: str | None,
) -> ProjectFilters:
    for name, value, known in (
        ("investment_form", investment_form, FORMS),
        ("stage", stage, tuple(STAGES)),
        ("sector", sector, tuple(reference.sectors)),
    ):
        if value is not None and value not in known:
            raise InvalidParameter(
                _l(
                    "unknown {name} {value!r}; one of: {value2}",
                    name=name,
                    value=value,
                    value2=", ".join(known),
                )
            )
    return ProjectFilters(investment_form, stage, sector, commune_code, behind, q or None)


@router.get("/projects", summary="Pipeline projects / Danh mục dự án", response_model=None)
def list_projects(
    request: Request,
    projects: Projects,
    pages: ProjectPagesDep,
    asked: RecordPageDep,
    lang: LangDep,
    f: ListFormat,
    investment_form: Annotated[str | None, Query(description=", ".join(FORMS))] = None,
    stage: Annotated[str | None, Query(description=", ".join(STAGES))] = None,
    sector: Annotated[str | None, Query(description="a code of GET /procedures' sectors")] = None,
    commune_code: Annotated[
        str | None, Query(pattern=COMMUNE_CODE, description="2025 commune or ward")
    ] = None,
    behind: Annotated[bool, Query(description="only projects with a step past its plan")] = False,
    q: Annotated[
        TextId | None, Query(max_length=200, description="text, with or without diacritics")
    ] = None,
) -> Response:
    stamp, reference = projects.stamped_procedures()  # see `_kept`
    filters = _filters(reference, investment_form, stage, sector, commune_code, behind, q)
    today = today_in_vietnam()
    if f != "json":
        return file_download(*export_projects(projects, filters, today, f, lang))
    return _kept(
        request,
        projects,
        pages,
        (stamp, lang, today),
        lambda: (_page(request, projects, reference, lang, filters, asked, today), {}),
    )


def _kept(
    request: Request,
    projects: ProjectStore,
    pages: MemoryCache[KeptAnswer],
    made_of: tuple[tuple, str, dt.date],
    make: Callable[[], tuple[dict[str, Any], dict[str, str]]],
) -> Response:
    """The JSON answer `make` gives (document, headers), kept per worker while the pipeline's
    records (its change counter, bumped by whichever process writes) and what else it is
    `made_of` stay as they were: the procedures files' stamp (names of steps and forms), taken
    before the procedures `make` uses were read, so an answer never stands for files newer
    than it was made from;
    the language; the day in Vietnam (days behind)."""
    key = (projects.changes(), *made_of, str(request.url))
    found = pages.get(key)
    if found is None:
        document, headers = make()
        found = KeptAnswer(JSONResponse(_jsonable(document)).body, tuple(headers.items()))
        pages.put(key, found)
    return Response(found.body, media_type="application/json", headers=dict(found.headers))


def _page(
    request: Request,
    projects: ProjectStore,
    reference: Procedures,
    lang: Lang,
    filters: ProjectFilters,
    asked: RecordPage,
    today: dt.date,
) -> dict[str, Any]:
    """One page of `/projects` as JSON: the projects, their count and the links."""
    page, matched = projects.search(filters, asked.limit, asked.offset, today)
    links = [
        link(str(request.url), "self", JSON, _l("This page")),
        *paging_links(request, JSON, asked.limit, asked.offset, len(page), matched),
    ]
    links += [
        link(
            with_params(request, f=name),
            "alternate",
            media,
            _l("All matching as {name}", name=name),
        )
        for name, media in (
            ("csv", "text/csv"),
            ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )
    ]
    return {
        "projects": [project_json(request, r, reference, None, lang) for r in page],
        "numberMatched": matched,
        "numberReturned": len(page),
        "timeStamp": utc_now(),
        "links": links,
    }


def _jsonable(document: Any) -> Any:
    """Dates as ISO text (the one non-JSON type our documents hold); a walk of our own, as
    `jsonable_encoder`'s generic one took most of the time of a page of 100 projects."""
    if isinstance(document, dict):
        return {key: _jsonable(value) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [_jsonable(value) for value in document]
    if isinstance(document, dt.date):
        return document.isoformat()
    return document


@router.get(
    "/projects/{project_id}",
    summary="One project with its timeline / Một dự án và tiến độ",
    response_model=None,
)
def read_project(
    request: Request,
    project_id: ProjectId,
    projects: Projects,
    pages: ProjectPagesDep,
    lang: LangDep,
    f: PageFormat,
) -> Response:
    today = today_in_vietnam()
    stamp, reference = projects.stamped_procedures()
    if f == "html":
        document, headers = _project_document(request, projects, reference, lang, project_id, today)
        events = [_jsonable(event_json(e, False)) for e in projects.events(project_id)]
        page = html_page(project_page(_jsonable(document), events, lang))
        page.headers.update(headers)
        return page
    return _kept(
        request,
        projects,
        pages,
        (stamp, lang, today),
        lambda: _project_document(request, projects, reference, lang, project_id, today),
    )


def _project_document(
    request: Request,
    projects: ProjectStore,
    reference: Procedures,
    lang: Lang,
    project_id: str,
    today: dt.date,
) -> tuple[dict[str, Any], dict[str, str]]:
    """A project with its procedure and timeline, and its `ETag` header."""
    record, progress = projects.progress(project_id, today)
    procedure = reference.procedure(record.values["investment_form"])
    document = {
        **project_json(request, record, reference, progress, lang),
        "procedure": None
        if procedure is None
        else {k: getattr(procedure, k) for k in ("form", "title_vi", "title_en", "legal_basis")},
        "timeline": timeline(procedure, progress),
    }
    return document, {"ETag": record.etag}


@router.get("/projects/{project_id}/events", summary="Dossier events / Sự kiện hồ sơ")
def read_events(project_id: ProjectId, projects: Projects, editor: MaybeEditor) -> dict:
    """Public events; an editor's token shows internal ones too, and who recorded each."""
    events = projects.events(project_id, include_internal=editor is not None)
    return _jsonable(
        {"project": project_id, "events": [event_json(e, editor is not None) for e in events]}
    )


def _checked(projects: Projects, store: Store, document: ProjectDocument):
    checked, problems = check_project(document, projects.procedures, site_checker(store))
    if checked is None:
        raise refused(problems)
    return checked


@router.post(
    "/projects",
    status_code=201,
    summary="Add a project (editor) / Thêm dự án",
    openapi_extra=body_schema(ProjectDocument),
    response_model=None,
)
def create_project(
    request: Request,
    body: Body,
    projects: Projects,
    store: StoreDep,
    token: Editor,
    admin: AdminStoreDep,
    lang: LangDep,
) -> JSONResponse:
    document = parse(ProjectDocument, body)
    record = projects.create(_checked(projects, store, document), today_in_vietnam())
    admin.record(f"token:{token.id}", "project.create", AUDIT_LAYER, {"project": record.id})
    url = f"{base_url(request)}/projects/{record.id}"
    return JSONResponse(
        _jsonable(project_json(request, record, projects.procedures, None, lang)),
        status_code=201,
        headers={"Location": url, "ETag": record.etag},
    )


@router.patch(
    "/projects/{project_id}",
    summary="Change a project (editor, If-Match) / Sửa dự án",
    openapi_extra=body_schema(ProjectDocument, "application/merge-patch+json", "application/json"),
    response_model=None,
)
def change_project(
    request: Request,
    project_id: ProjectId,
    body: Body,
    projects: Projects,
    store: StoreDep,
    token: Editor,
    admin: AdminStoreDep,
    lang: LangDep,
    if_match: Annotated[
        str | None, Header(description='the ETag of your last GET, e.g. "v3"')
    ] = None,
) -> JSONResponse:
    current = projects.get(project_id)
    check_version(current.version, if_match)
    if not isinstance(body, dict):
        raise InvalidParameter(_l("a merge patch is a JSON object"))
    if body.get("id", project_id) != project_id:
        raise InvalidParameter(_l("a project's id cannot change"))
    before = current.document()
    document = parse(ProjectDocument, merge_patch(before, body))
    record = projects.update(
        project_id, _checked(projects, store, document), if_match, today_in_vietnam(), actor(token)
    )
    after = record.document()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    admin.record(
        f"token:{token.id}",
        "project.update",
        AUDIT_LAYER,
        {"project": project_id, "fields": changed, "version": record.version},
    )
    return JSONResponse(
        _jsonable(project_json(request, record, projects.procedures, None, lang)),
        headers={"ETag": record.etag},
    )


@router.post(
    "/projects/{project_id}/events",
    status_code=201,
    summary="Record a dossier event (editor) / Ghi sự kiện hồ sơ",
    openapi_extra=body_schema(EventDocument),
    response_model=None,
)
def append_event(
    project_id: ProjectId,
    body: Body,
    projects: Projects,
    token: Editor,
    admin: AdminStoreDep,
) -> JSONResponse:
    document = parse(EventDocument, body)
    event, progress = projects.append_event(project_id, document, actor(token), today_in_vietnam())
    admin.record(
        f"token:{token.id}",
        "project.event",
        AUDIT_LAYER,
        {"project": project_id, "seq": event.seq, "kind": event.kind, "step": event.step,
         "public": event.public},
    )  # fmt: skip
    return JSONResponse(
        _jsonable(
            {
                "project": project_id,
                "event": event_json(event, True),
                "stage": progress.stage,
                "current_step": progress.current_step,
                "days_behind": progress.days_behind,
            }
        ),
        status_code=201,
    )


def mount_static(app: FastAPI) -> None:
    """The project page's own script and style sheet."""
    app.mount(STATIC_ROUTE, StaticFiles(directory=STATIC_DIR), name="pipeline-static")
