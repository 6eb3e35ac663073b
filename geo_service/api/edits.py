"""Editing features one by one: OGC API – Features – Part 4 (Create, Replace, Update, Delete) for
GIS staff, and each feature's history (public).

    POST   /collections/{id}/items               create (201, Location, ETag)
    PUT    /collections/{id}/items/{fid}         replace (If-Match)
    PATCH  /collections/{id}/items/{fid}         update by JSON merge patch (If-Match)
    DELETE /collections/{id}/items/{fid}         delete (If-Match, 204)
    GET    /collections/{id}/items/{fid}/history every served version in which it changed

Each edit is one new version of the layer (`edits.Editing`). A change, replacement or deletion
must name the ETag the feature had when it was read (428 without, 412 when it has changed since).
With review required the edit is stored as a draft: 202, and nothing is served until a reviewer
publishes it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from ..edits import ANY, Edit, Editing, Published
from ..errors import InvalidParameter, no_collection, no_feature
from ..geojson import feature_document
from ..i18n import _l
from ..review import actor_of
from ..store.etags import feature_etag
from .auth import Editor
from .bodies import edit_body
from .deps import EditingDep, JsonOnly, StoreDep
from .links import GEOJSON, JSON, base_url, link
from .strict_input import StrictRoute

router = APIRouter(tags=["Features: editing"], route_class=StrictRoute)

Body = Annotated[Any, Depends(edit_body)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='the ETag the feature had when you read it (`"…"` as sent by GET), or `*`',
    ),
]

FEATURE_SCHEMA = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"type": "string", "description": "the feature's code (or give `properties.code`)"},
        "geometry": {"type": "object", "description": "GeoJSON geometry, WGS 84 lon/lat"},
        "properties": {"type": "object", "description": "the layer's fields (see /queryables)"},
    },
}
PATCH_SCHEMA = {
    "type": "object",
    "description": "JSON merge patch (RFC 7396) of the feature: the members given replace the "
    "feature's, `null` empties a property",
    "properties": {"geometry": {"type": "object"}, "properties": {"type": "object"}},
}


def _body(schema: dict, *media_types: str) -> dict:
    return {
        "requestBody": {
            "required": True,
            "content": {media: {"schema": schema} for media in media_types},
        }
    }


def _errors(*statuses: int) -> dict[int, dict]:
    described = {
        400: "the feature failed validation (`report` says where); nothing was stored",
        401: "no GIS staff token",
        403: "the token's role may not edit",
        404: "no such collection or feature",
        409: "the feature exists already, or the layer has a draft over the served version",
        412: "the feature has changed since it was read (If-Match is stale)",
        413: "the body is too large",
        415: "the body is not JSON",
        428: "If-Match is missing",
    }
    return {status: {"description": described[status]} for status in statuses}


def if_match_tag(header: str | None) -> str | None:
    """The ETag an If-Match header names, unquoted; `ANY` for `*`; None when there is none.
    A weak tag (`W/"…"`) is kept as sent: it never matches, as If-Match compares strongly."""
    if header is None or not header.strip():
        return None
    tags = [tag.strip() for tag in header.split(",") if tag.strip()]
    if tags == ["*"]:
        return ANY
    if len(tags) != 1:
        raise InvalidParameter(_l("If-Match must name one ETag (or *)"))
    tag = tags[0]
    return tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag


def _item_url(request: Request, collection_id: str, feature_id: str) -> str:
    return f"{base_url(request)}/collections/{collection_id}/items/{feature_id}"


def _answer(
    request: Request,
    editing: Editing,
    published: Published,
    status: int,
) -> Response:
    """The edited feature (or, for a deletion, nothing) with its ETag; 202 with the draft's
    number when the edit waits for review."""
    collection_id, (feature_id,) = published.layer, published.features
    url = _item_url(request, collection_id, feature_id)
    deleted = published.counts["delete"] == 1
    headers = {}
    if not deleted:
        headers["ETag"] = f'"{editing.etag(collection_id, feature_id, published.version)}"'
    if published.draft:
        document = {
            "collection": collection_id,
            "feature": feature_id,
            "version": published.version,
            "draft": True,
            "description": "stored as a draft; it is served once a reviewer publishes it / "
            "đã lưu dưới dạng bản nháp; sẽ được công bố khi người duyệt chấp thuận",
            "links": [
                link(
                    f"{base_url(request)}/admin/layers/{collection_id}/publish",
                    "preview",
                    JSON,
                    "What publishing the drafts would serve",
                )
            ],
        }
        return JSONResponse(document, status_code=202, headers=headers)
    if deleted:
        return Response(status_code=204)
    if status == 201:
        headers["Location"] = url
    feature = editing.store.feature(collection_id, feature_id, published.version)
    links = {"links": [link(url, "self", GEOJSON, _l("This feature"))]}
    return Response(
        feature_document(feature, links), status_code=status, media_type=GEOJSON, headers=headers
    )


@router.post(
    "/collections/{collection_id}/items",
    summary="Create a feature (editor) / Thêm đối tượng",
    status_code=201,
    response_class=Response,
    openapi_extra=_body(FEATURE_SCHEMA, GEOJSON, JSON),
    responses={201: {"description": "created; Location and ETag name it"}}
    | {202: {"description": "stored as a draft for review"}}
    | _errors(400, 401, 403, 404, 409, 413, 415),
)
def create_item(
    request: Request, collection_id: str, body: Body, token: Editor, editing: EditingDep
) -> Response:
    published = editing.apply(
        collection_id, [Edit("create", None, body)], actor=actor_of(token), action="feature.create"
    )
    return _answer(request, editing, published, 201)


def _register_change(op: str, method: str, summary: str, schema: dict, media: str) -> None:
    """PUT (replace) and PATCH (update): one route shape, each with its own body."""

    def change_item(
        request: Request,
        collection_id: str,
        feature_id: str,
        body: Body,
        token: Editor,
        editing: EditingDep,
        if_match: IfMatch = None,
    ) -> Response:
        edit = Edit(op, feature_id, body, if_match_tag(if_match))
        published = editing.apply(
            collection_id, [edit], actor=actor_of(token), action=f"feature.{op}"
        )
        return _answer(request, editing, published, 200)

    router.add_api_route(
        "/collections/{collection_id}/items/{feature_id}",
        change_item,
        methods=[method],
        name=f"{op}_item",
        summary=summary,
        response_class=Response,
        openapi_extra=_body(schema, media, JSON),
        responses={200: {"description": "the feature as stored, with its new ETag"}}
        | {202: {"description": "stored as a draft for review"}}
        | _errors(400, 401, 403, 404, 409, 412, 413, 415, 428),
    )


_register_change(
    "replace",
    "PUT",
    summary="Replace a feature (editor) / Thay đối tượng",
    schema=FEATURE_SCHEMA,
    media=GEOJSON,
)
_register_change(
    "update",
    "PATCH",
    summary="Update a feature's properties or geometry (editor) / Sửa đối tượng",
    schema=PATCH_SCHEMA,
    media="application/merge-patch+json",
)


@router.delete(
    "/collections/{collection_id}/items/{feature_id}",
    summary="Delete a feature (editor) / Xoá đối tượng",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "deleted"}}
    | {202: {"description": "stored as a draft for review"}}
    | _errors(401, 403, 404, 409, 412, 428),
)
def delete_item(
    request: Request,
    collection_id: str,
    feature_id: str,
    token: Editor,
    editing: EditingDep,
    if_match: IfMatch = None,
) -> Response:
    edit = Edit("delete", feature_id, None, if_match_tag(if_match))
    published = editing.apply(collection_id, [edit], actor=actor_of(token), action="feature.delete")
    return _answer(request, editing, published, 204)


@router.get(
    "/collections/{collection_id}/items/{feature_id}/history",
    summary="A feature's history / Lịch sử của đối tượng",
)
def history(
    request: Request, collection_id: str, feature_id: str, store: StoreDep, f: JsonOnly
) -> dict:
    """Every served version (up to the one served now) in which the feature was created,
    changed or deleted: who made it, when, and which fields changed ("geometry" when it moved)."""
    served = store.current_version(collection_id)
    if served is None:
        raise no_collection(collection_id)
    revisions = [r for r in store.feature_history(collection_id, feature_id) if r.version <= served]
    if not revisions:
        raise no_feature(feature_id, collection_id)
    url = _item_url(request, collection_id, feature_id)
    return {
        "collection": collection_id,
        "feature": feature_id,
        "revisions": [asdict(r) | {"fields": list(r.fields)} for r in revisions],
        "links": [
            link(f"{url}/history", "self", JSON, _l("This history")),
            link(url, "about", GEOJSON, _l("The feature as served")),
        ],
    }


def etag_header(feature) -> str:
    """The ETag header of a feature as read."""
    return f'"{feature_etag(feature)}"'
