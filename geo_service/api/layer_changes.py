"""GIS staff's change sets, diffs and reviews of a layer (under `/admin`).

    POST /admin/layers/{id}/changes      many feature edits as one version (editor)
    GET  /admin/layers/{id}/diff         features added, removed, changed between two versions
    GET  /admin/layers/{id}/publish      what publishing the newest draft would serve (preview)
    POST /admin/layers/{id}/review       a comment on a draft, in the audit log

Publishing itself is `POST /admin/layers/{id}/publish` (`version_admin`), where review is
enforced (`review.Review`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..edits import Edit
from ..errors import InvalidParameter
from ..i18n import _l
from ..i18n.validation import described
from ..review import actor_of, diff_entry
from ..store.changes import FeatureDiff
from .auth import Editor
from .bodies import body_schema, edit_body
from .deps import EditingDep, ReviewDep, StoreDep
from .links import JSON, base_url, link
from .strict_input import StrictRoute

router = APIRouter(prefix="/layers", tags=["Administration"], route_class=StrictRoute)
Body = Annotated[Any, Depends(edit_body)]
DIFF_CHUNK = 500
"""Differences encoded per chunk of a streamed diff."""


class Change(BaseModel):
    """One operation of a change set."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["create", "replace", "update", "delete"]
    id: str | None = Field(None, description="the feature's code (replace, update, delete)")
    feature: dict[str, Any] | None = Field(
        None, description="create, replace: the GeoJSON Feature (as POST /collections/…/items)"
    )
    patch: dict[str, Any] | None = Field(
        None, description="update: a JSON merge patch of the feature"
    )
    if_match: str | None = Field(
        None, description="replace, update, delete: the ETag the feature had when read"
    )

    @model_validator(mode="after")
    def _members(self) -> Change:
        needs = {
            "create": ("feature",),
            "replace": ("id", "feature"),
            "update": ("id", "patch"),
            "delete": ("id",),
        }[self.op]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(_l("a {op} needs {fields}", op=self.op, fields=", ".join(missing)))
        return self

    def edit(self) -> Edit:
        body = self.patch if self.op == "update" else self.feature
        return Edit(self.op, self.id, body, self.if_match.strip('"') if self.if_match else None)


class ChangeSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    changes: list[Change] = Field(min_length=1)
    draft: bool = Field(False, description="store as a draft (with review required, always)")
    base_version: int | None = Field(
        None, ge=1, description="the version the changes were made over; 409 if no longer newest"
    )


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=4000)
    version: int | None = Field(None, ge=1, description="the draft (default: the newest)")


def _parsed(model: type[BaseModel], body: Any) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidParameter(
            _l("the body is not valid: {problems}", problems=described(exc))
        ) from None


@router.post(
    "/{layer_id}/changes",
    summary="Publish a change set as one version (editor) / Gửi một loạt thay đổi",
    status_code=201,
    openapi_extra=body_schema(ChangeSet),
)
def changes(
    request: Request, layer_id: str, body: Body, token: Editor, editing: EditingDep
) -> JSONResponse:
    sent = _parsed(ChangeSet, body)
    published = editing.apply(
        layer_id,
        [change.edit() for change in sent.changes],
        actor=actor_of(token),
        draft=sent.draft,
        base_version=sent.base_version,
    )
    admin_url = f"{base_url(request)}/admin/layers/{layer_id}"
    links = [link(f"{admin_url}/versions", "version-history", JSON, _l("Versions"))]
    if published.draft:
        links.append(link(f"{admin_url}/publish", "preview", JSON, _l("Review the drafts")))
    return JSONResponse(
        {
            "layer": layer_id,
            "version": published.version,
            "draft": published.draft,
            "counts": published.counts,
            "links": links,
        },
        status_code=201,
    )


@router.get(
    "/{layer_id}/diff",
    summary="What changed between two versions (editor) / Khác biệt giữa hai phiên bản",
    response_class=StreamingResponse,
    responses={200: {"content": {JSON: {}}, "description": "added, removed, changed features"}},
)
def diff(
    layer_id: str,
    token: Editor,
    store: StoreDep,
    from_version: Annotated[int, Query(alias="from", ge=1, description="the earlier version")],
    to_version: Annotated[int, Query(alias="to", ge=1, description="the later version")],
) -> StreamingResponse:
    """Streamed: `features` (each with its field-level changes and how far its geometry moved,
    as the Hausdorff distance in metres), then `counts`."""
    differences = store.diff(layer_id, from_version, to_version)  # 404 before any byte
    head = {"layer": layer_id, "from": from_version, "to": to_version}
    return StreamingResponse(_diff_document(head, differences), media_type=JSON)


def _diff_document(head: dict, differences: Iterator[FeatureDiff]) -> Iterator[bytes]:
    counts = {"added": 0, "removed": 0, "changed": 0}
    yield orjson.dumps(head)[:-1] + b',"features":['
    batch: list[bytes] = []
    separator = b""
    for difference in differences:
        counts[difference.change] += 1
        batch.append(orjson.dumps(diff_entry(difference)))
        if len(batch) == DIFF_CHUNK:
            yield separator + b",".join(batch)
            batch, separator = [], b","
    if batch:
        yield separator + b",".join(batch)
    yield b'],"counts":' + orjson.dumps(counts) + b"}"


@router.get(
    "/{layer_id}/publish",
    summary="Preview the drafts before publishing (editor) / Xem trước bản nháp",
)
def preview(request: Request, layer_id: str, token: Editor, review: ReviewDep) -> dict:
    """The drafts above the served version with their validation reports, the diff from the
    served version, the comments, and whether this token may publish them."""
    served = review.store.current_version(layer_id)
    newest = (review.store.version_numbers(layer_id) or [0])[-1]
    href = f"{base_url(request)}/admin/layers/{layer_id}/diff?from={served}&to={newest}"
    return review.preview(token, layer_id, href)


@router.post(
    "/{layer_id}/review",
    summary="Comment on a draft (editor) / Nhận xét bản nháp",
    status_code=201,
    openapi_extra=body_schema(Comment),
)
def comment(layer_id: str, body: Body, token: Editor, review: ReviewDep) -> dict:
    sent = _parsed(Comment, body)
    return review.comment(token, layer_id, sent.comment, sent.version)
