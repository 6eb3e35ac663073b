"""Investors' enquiries: anyone sends one about a project or a site; editors follow them up.

Public answers carry only the enquiry's id and status; contact details and messages go only to
editors, as JSON (never rendered as HTML), and never into the audit log.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from ..clock import utc_now
from ..errors import InvalidParameter
from ..i18n import _l
from ..pipeline.documents import (
    ENQUIRY_ID,
    PROJECT_ID,
    EnquiryChange,
    EnquiryDocument,
    parse,
    site_checker,
)
from ..pipeline.enquiries import MOVES, EnquiryFilters
from .auth import Editor
from .bodies import body_schema, json_body
from .client import ClientAddress
from .deps import AdminStoreDep, EnquiriesDep, RecordPageDep, StoreDep
from .links import JSON, base_url, link, paging_links
from .projects import Projects
from .strict_input import StrictRoute

router = APIRouter(tags=["Enquiries"], route_class=StrictRoute)
EnquiryId = Annotated[str, Path(pattern=ENQUIRY_ID, examples=["EQ-0A1B2C3D4E5F"])]
Body = Annotated[Any, Depends(json_body)]
PRIVATE = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
"""Headers of every answer holding contact details or messages."""


Enquiries = EnquiriesDep


@router.post(
    "/enquiries",
    status_code=201,
    summary="Ask about a project or site / Gửi câu hỏi",
    openapi_extra=body_schema(EnquiryDocument),
    response_model=None,
)
def create_enquiry(
    request: Request,
    body: Body,
    enquiries: Enquiries,
    projects: Projects,
    store: StoreDep,
    client: ClientAddress,
) -> JSONResponse:
    document = parse(EnquiryDocument, body)
    if document.website:  # only robots fill the hidden field: answer as if stored, store nothing
        fake = {
            "id": "EQ-" + secrets.token_hex(6).upper(),
            "status": "new",
            "created_at": utc_now(),
        }
        return JSONResponse(fake, status_code=201)
    if document.project is not None and not projects.exists(document.project):
        raise InvalidParameter(_l("no project {project!r}", project=document.project))
    if document.site is not None and not site_checker(store)(
        document.site.collection, document.site.id
    ):
        raise InvalidParameter(
            _l(
                "no site {collection}/{id} in the catalogue",
                collection=document.site.collection,
                id=document.site.id,
            )
        )
    created = enquiries.create(document, client)
    return JSONResponse(
        created,
        status_code=201,
        headers={"Location": f"{base_url(request)}/enquiries/{created['id']}"},
    )


@router.get("/enquiries", summary="Enquiries (editor) / Danh sách câu hỏi")
def list_enquiries(
    request: Request,
    enquiries: Enquiries,
    token: Editor,
    asked: RecordPageDep,
    status: Annotated[str | None, Query(description=", ".join(MOVES))] = None,
    project: Annotated[str | None, Query(pattern=PROJECT_ID)] = None,
) -> JSONResponse:
    if status is not None and status not in MOVES:
        raise InvalidParameter(
            _l("unknown status {status!r}; one of: {value}", status=status, value=", ".join(MOVES))
        )
    page, matched = enquiries.search(EnquiryFilters(status, project), asked.limit, asked.offset)
    links = [
        link(str(request.url), "self", JSON, _l("This page")),
        *paging_links(request, JSON, asked.limit, asked.offset, len(page), matched),
    ]
    return JSONResponse(
        {"enquiries": page, "numberMatched": matched, "numberReturned": len(page), "links": links},
        headers=PRIVATE,
    )


@router.get("/enquiries/{enquiry_id}", summary="One enquiry (editor) / Một câu hỏi")
def read_enquiry(enquiry_id: EnquiryId, enquiries: Enquiries, token: Editor) -> JSONResponse:
    return JSONResponse(enquiries.get(enquiry_id), headers=PRIVATE)


@router.patch(
    "/enquiries/{enquiry_id}",
    summary="Assign, answer, close an enquiry (editor) / Xử lý câu hỏi",
    openapi_extra=body_schema(EnquiryChange),
    response_model=None,
)
def change_enquiry(
    enquiry_id: EnquiryId,
    body: Body,
    enquiries: Enquiries,
    token: Editor,
    admin: AdminStoreDep,
) -> JSONResponse:
    change = parse(EnquiryChange, body)
    enquiry, changed = enquiries.change(enquiry_id, change)
    if changed:
        admin.record(
            f"token:{token.id}",
            "enquiry.update",
            None,
            {"enquiry": enquiry_id, "fields": changed, "status": enquiry["status"]},
        )
    return JSONResponse(enquiry, headers=PRIVATE)
