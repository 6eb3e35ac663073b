"""GIS staff's layer administration: versions, rollback, archive, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ..clock import modified_at
from ..errors import InvalidParameter, LayerUnavailable, NotFound
from ..store.gpkg import version_summary
from ..store.gpkg_files import activate, archive_layer, current_file, version_path, versions
from .auth import Admin, Editor
from .deps import AdminStoreDep
from .strict_input import StrictRoute

router = APIRouter(prefix="/admin", tags=["Administration"], route_class=StrictRoute)


def _data_dir(request: Request):
    return request.app.state.settings.data_dir


def _known_versions(request: Request, layer_id: str) -> list[int]:
    found = versions(_data_dir(request), layer_id)
    if not found:
        raise NotFound(f"no layer {layer_id!r}")
    return found


@router.get("/layers/{layer_id}/versions", summary="Versions of a layer / Các phiên bản")
def layer_versions(request: Request, layer_id: str, token: Editor) -> dict:
    data_dir = _data_dir(request)
    current = current_file(data_dir, layer_id)
    listed = []
    for number in _known_versions(request, layer_id):
        path = version_path(data_dir, layer_id, number)
        entry = {"version": number, "current": current == path.resolve()}
        try:
            meta, count = version_summary(path)
        except LayerUnavailable as exc:  # listed, so that GIS staff can roll back past it
            listed.append(entry | {"problem": exc.description})
            continue
        listed.append(
            entry
            | {
                "written": modified_at(path),
                "features": count,
                "title_vi": meta.title_vi,
                "title_en": meta.title_en,
                "updated": meta.updated,
            }
        )
    return {"layer": layer_id, "versions": listed}


@router.post("/layers/{layer_id}/rollback", summary="Serve an earlier version / Quay lại phiên bản")
def rollback(
    request: Request,
    layer_id: str,
    token: Editor,
    admin: AdminStoreDep,
    version: Annotated[int, Query(ge=1, description="the version to serve")],
) -> dict:
    if version not in _known_versions(request, layer_id):
        raise InvalidParameter(f"layer {layer_id!r} has no version {version}")
    activate(_data_dir(request), layer_id, version)
    admin.record(f"token:{token.id}", "layer.rollback", layer_id, {"version": version})
    return {"layer": layer_id, "current": version}


@router.delete("/layers/{layer_id}", summary="Archive a layer (admin) / Lưu trữ lớp")
def archive(request: Request, layer_id: str, token: Admin, admin: AdminStoreDep) -> dict:
    try:
        archived = archive_layer(_data_dir(request), layer_id)
    except FileNotFoundError:
        raise NotFound(f"no layer {layer_id!r}") from None
    admin.record(f"token:{token.id}", "layer.archive", layer_id, {"archive": archived.name})
    return {"layer": layer_id, "archived": archived.name}


@router.get("/audit", summary="Audit log (admin) / Nhật ký")
def audit(
    token: Admin,
    admin: AdminStoreDep,
    layer: Annotated[str | None, Query(description="only this layer")] = None,
) -> dict:
    return {"entries": admin.audit(layer)}


@router.post("/layers/{layer_id}/publish", summary="Publish the latest draft / Công bố bản nháp")
def publish_draft(request: Request, layer_id: str, token: Editor, admin: AdminStoreDep) -> dict:
    data_dir = _data_dir(request)
    latest = _known_versions(request, layer_id)[-1]
    if current_file(data_dir, layer_id) == version_path(data_dir, layer_id, latest).resolve():
        raise InvalidParameter(f"layer {layer_id!r} has no draft newer than the version served")
    activate(data_dir, layer_id, latest)
    admin.record(f"token:{token.id}", "layer.publish_draft", layer_id, {"version": latest})
    return {"layer": layer_id, "current": latest}
