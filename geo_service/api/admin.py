"""GIS staff's layer administration: versions, rollback, archive, and the audit log."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi import Form as FormField
from fastapi.responses import JSONResponse

from ..admin_store import AdminStore, Token
from ..catalogue import LAYER_ID_PATTERN
from ..errors import Conflict, InvalidParameter, NotFound, ServiceError, TooLarge
from ..ingest import Report, UploadRequest, ingest
from ..ingest.read import ReadOptions, UploadLimits, claimed_suffix
from ..store.gpkg import version_summary
from ..store.gpkg_files import activate, archive_layer, current_file, version_path, versions
from .auth import Admin, AdminStoreDep, Editor

router = APIRouter(prefix="/admin", tags=["Administration"])


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
        meta, count = version_summary(path)
        written = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        listed.append(
            {
                "version": number,
                "current": current == path.resolve(),
                "written": written.isoformat(timespec="seconds"),
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


class ValidationFailed(ServiceError):
    status = 400
    code = "ValidationFailed"


def _limits(request: Request) -> UploadLimits:
    settings = request.app.state.settings
    return UploadLimits(
        max_bytes=settings.upload_max_bytes,
        max_features=settings.upload_max_features,
        max_zip_members=settings.upload_max_zip_members,
        max_uncompressed=settings.upload_max_uncompressed,
    )


def _upload(
    request: Request,
    layer_id: str,
    file: UploadFile,
    metadata: str | None,
    table: str | None,
    crs: str | None,
    wkt_field: str | None,
    x_field: str | None,
    y_field: str | None,
    dry_run: bool,
    draft: bool,
    token: Token,
    admin: AdminStore,
) -> Report:
    settings = request.app.state.settings
    try:
        parsed = json.loads(metadata) if metadata else {}
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"metadata is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidParameter("metadata must be a JSON object")
    limit = settings.upload_max_bytes
    with tempfile.TemporaryDirectory(prefix="geo-service-upload-") as folder:
        filename = file.filename or "upload"
        path = Path(folder) / ("upload" + claimed_suffix(filename))
        written = 0
        with path.open("wb") as out:
            while chunk := file.file.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise TooLarge(f"the upload is larger than the limit of {limit:,} bytes")
                out.write(chunk)
        report = ingest(
            UploadRequest(
                layer_id,
                path,
                filename,
                parsed,
                ReadOptions(table, wkt_field, x_field, y_field),
                crs,
                dry_run,
                draft,
            ),
            settings.data_dir,
            _limits(request),
            settings.province,
            admin,
            f"token:{token.id}",
        )
    if not report.ok:
        raise ValidationFailed(
            f"the upload has {sum(f.severity == 'error' for f in report.findings)} kinds of error; "
            "nothing was published",
            extra={"report": report.to_dict()},
        )
    return report


UploadForm = Annotated[
    UploadFile,
    File(description="GeoPackage, zipped Shapefile, GeoJSON, KML/KMZ, CSV or FlatGeobuf"),
]


@router.post("/layers", summary="Upload a new layer / Tải lên lớp mới")
def create_layer(
    request: Request,
    token: Editor,
    admin: AdminStoreDep,
    file: UploadForm,
    id: Annotated[str, FormField(pattern=LAYER_ID_PATTERN.pattern)],
    metadata: Annotated[str | None, FormField()] = None,
    table: Annotated[str | None, FormField()] = None,
    crs: Annotated[str | None, FormField()] = None,
    wkt_field: Annotated[str | None, FormField()] = None,
    x_field: Annotated[str | None, FormField()] = None,
    y_field: Annotated[str | None, FormField()] = None,
    dry_run: bool = False,
    draft: bool = False,
) -> JSONResponse:
    if versions(_data_dir(request), id):
        raise Conflict(f"layer {id!r} exists; send a new version with PUT /admin/layers/{id}")
    report = _upload(
        request,
        id,
        file,
        metadata,
        table,
        crs,
        wkt_field,
        x_field,
        y_field,
        dry_run,
        draft,
        token,
        admin,
    )
    status = 201 if report.published or report.draft else 200
    return JSONResponse(report.to_dict(), status_code=status)


@router.put("/layers/{layer_id}", summary="Upload a new version / Tải lên phiên bản mới")
def replace_layer(
    request: Request,
    layer_id: str,
    token: Editor,
    admin: AdminStoreDep,
    file: UploadForm,
    metadata: Annotated[str | None, FormField()] = None,
    table: Annotated[str | None, FormField()] = None,
    crs: Annotated[str | None, FormField()] = None,
    wkt_field: Annotated[str | None, FormField()] = None,
    x_field: Annotated[str | None, FormField()] = None,
    y_field: Annotated[str | None, FormField()] = None,
    dry_run: bool = False,
    draft: bool = False,
) -> dict:
    _known_versions(request, layer_id)
    report = _upload(
        request,
        layer_id,
        file,
        metadata,
        table,
        crs,
        wkt_field,
        x_field,
        y_field,
        dry_run,
        draft,
        token,
        admin,
    )
    return report.to_dict()


@router.post("/layers/{layer_id}/publish", summary="Publish the latest draft / Công bố bản nháp")
def publish_draft(request: Request, layer_id: str, token: Editor, admin: AdminStoreDep) -> dict:
    data_dir = _data_dir(request)
    latest = _known_versions(request, layer_id)[-1]
    if current_file(data_dir, layer_id) == version_path(data_dir, layer_id, latest).resolve():
        raise InvalidParameter(f"layer {layer_id!r} has no draft newer than the version served")
    activate(data_dir, layer_id, latest)
    admin.record(f"token:{token.id}", "layer.publish_draft", layer_id, {"version": latest})
    return {"layer": layer_id, "current": latest}
