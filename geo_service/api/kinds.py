"""Layer kinds: served to everyone, changed by admins.

    GET /kinds                        every kind in force, with its fields and code lists
    GET /kinds/{id}                   one kind
    PUT /admin/kinds/{id}             a new definition (admin): checked, kept as a new version
    GET /admin/kinds/{id}/versions    every definition it had (editor)

A definition that would make published layers of the kind invalid is refused (409
`KindChangeBreaksLayers`), naming each layer, field and value (`kind_changes.py`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from ..errors import Conflict
from ..i18n import _l
from ..kind_changes import breaking_changes
from ..kinds import KindDefinition
from .auth import Admin, Editor
from .bodies import body_schema, json_body
from .deps import AdminStoreDep, KindsDep, StoreDep
from .strict_input import StrictRoute

KindId = Annotated[str, Path(description="the kind's id, e.g. industrial_zone")]
Body = Annotated[Any, Depends(json_body)]


class KindChangeBreaksLayers(Conflict):
    code = "KindChangeBreaksLayers"


router = APIRouter(tags=["Kinds"], route_class=StrictRoute)


@router.get("/kinds", summary="Layer kinds / Các loại lớp")
def kinds(registry: KindsDep) -> dict:
    current = registry.current()
    return {"kinds": [current.kinds[k].document() for k in sorted(current.kinds)]}


@router.get("/kinds/{kind_id}", summary="One layer kind / Một loại lớp")
def kind(kind_id: KindId, registry: KindsDep) -> dict:
    return registry.current().get(kind_id).document()


@router.put(
    "/admin/kinds/{kind_id}",
    summary="Define or change a kind (admin) / Định nghĩa loại lớp",
    tags=["Administration"],
    openapi_extra=body_schema(KindDefinition),
)
def put_kind(
    kind_id: KindId,
    body: Body,
    registry: KindsDep,
    store: StoreDep,
    token: Admin,
    admin: AdminStoreDep,
) -> dict:
    kind = registry.checked(kind_id, body)
    breaks = breaking_changes(store, kind)
    if breaks:
        layers = ", ".join(sorted({b.layer for b in breaks}))
        raise KindChangeBreaksLayers(
            _l(
                "the definition would make published layers of kind {kind!r} invalid "
                "({layers}); fix those layers first, or keep what they hold",
                kind=kind_id,
                layers=layers,
            ),
            extra={"breaks": [b.to_dict() for b in breaks]},
        )
    stored = registry.put(kind, f"token:{token.id}")
    admin.record(
        f"token:{token.id}", "kind.put", None, {"kind": kind_id, "version": stored.version}
    )
    return stored.document()


@router.get(
    "/admin/kinds/{kind_id}/versions",
    summary="Every definition of a kind (editor) / Các phiên bản của loại lớp",
    tags=["Administration"],
)
def kind_versions(kind_id: KindId, registry: KindsDep, token: Editor) -> dict:
    return {"kind": kind_id, "versions": registry.history(kind_id)}
