"""GIS staff's layer administration: versions, rollback, archive, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..errors import InvalidParameter, not_found
from .auth import Admin, Editor
from .deps import AdminStoreDep, StoreDep
from .strict_input import StrictRoute

router = APIRouter(prefix="/admin", tags=["Administration"], route_class=StrictRoute)


@router.get("/layers/{layer_id}/versions", summary="Versions of a layer / Các phiên bản")
def layer_versions(layer_id: str, token: Editor, store: StoreDep) -> dict:
    listed = []
    for summary in store.versions(layer_id):
        entry = {"version": summary.number, "current": summary.current}
        meta = summary.meta
        if meta is None:  # listed, so that GIS staff can roll back past it
            listed.append(entry | {"problem": summary.problem})
            continue
        listed.append(
            entry
            | {
                "written": summary.written,
                "features": summary.features,
                "title_vi": meta.title_vi,
                "title_en": meta.title_en,
                "updated": meta.updated,
            }
        )
    return {"layer": layer_id, "versions": listed}


@router.post("/layers/{layer_id}/rollback", summary="Serve an earlier version / Quay lại phiên bản")
def rollback(
    layer_id: str,
    token: Editor,
    admin: AdminStoreDep,
    store: StoreDep,
    version: Annotated[int, Query(ge=1, description="the version to serve")],
) -> dict:
    store.activate(layer_id, version)
    admin.record(f"token:{token.id}", "layer.rollback", layer_id, {"version": version})
    return {"layer": layer_id, "current": version}


@router.delete("/layers/{layer_id}", summary="Archive a layer (admin) / Lưu trữ lớp")
def archive(layer_id: str, token: Admin, admin: AdminStoreDep, store: StoreDep) -> dict:
    archived = store.archive(layer_id)
    admin.record(f"token:{token.id}", "layer.archive", layer_id, {"archive": archived})
    return {"layer": layer_id, "archived": archived}


@router.get("/audit", summary="Audit log (admin) / Nhật ký")
def audit(
    token: Admin,
    admin: AdminStoreDep,
    layer: Annotated[str | None, Query(description="only this layer")] = None,
) -> dict:
    return {"entries": admin.audit(layer)}


@router.post("/layers/{layer_id}/publish", summary="Publish the latest draft / Công bố bản nháp")
def publish_draft(layer_id: str, token: Editor, admin: AdminStoreDep, store: StoreDep) -> dict:
    numbers = store.version_numbers(layer_id)
    if not numbers:
        raise not_found("layer", layer_id)
    latest = numbers[-1]
    if store.current_version(layer_id) == latest:
        raise InvalidParameter(f"layer {layer_id!r} has no draft newer than the version served")
    store.activate(layer_id, latest)
    admin.record(f"token:{token.id}", "layer.publish_draft", layer_id, {"version": latest})
    return {"layer": layer_id, "current": latest}
