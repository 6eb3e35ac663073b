"""GIS staff's uploads: a new layer (POST) or a new version (PUT), validated before anything is
published, through the same ingest path as `geo-service import`."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from .. import strict_json
from ..admin_store import AdminStore, Token
from ..catalogue import LAYER_ID_PATTERN
from ..errors import Conflict, InvalidParameter, NotFound, ServiceError, TooLarge
from ..ingest import Report, UploadRequest, ingest
from ..ingest.read import ReadOptions, UploadLimits, claimed_suffix
from ..store.gpkg_files import versions
from .auth import AdminStoreDep, Editor
from .strict_input import StrictRoute

router = APIRouter(prefix="/admin", tags=["Administration"], route_class=StrictRoute)


class ValidationFailed(ServiceError):
    status = 400
    code = "ValidationFailed"


@dataclass
class UploadFields:
    """The multipart fields every upload takes."""

    file: UploadFile
    metadata: str | None
    table: str | None
    crs: str | None
    wkt_field: str | None
    x_field: str | None
    y_field: str | None
    dry_run: bool
    draft: bool


async def upload_fields(
    file: Annotated[
        UploadFile,
        File(description="GeoPackage, zipped Shapefile, GeoJSON, KML/KMZ, CSV or FlatGeobuf"),
    ],
    metadata: Annotated[
        str | None, Form(description="JSON: title_vi, title_en, kind, source, …")
    ] = None,
    table: Annotated[str | None, Form(description="table of a multi-table GeoPackage")] = None,
    crs: Annotated[
        str | None, Form(description="CRS of a file that declares none, e.g. EPSG:9206")
    ] = None,
    wkt_field: Annotated[str | None, Form(description="CSV: column holding WKT")] = None,
    x_field: Annotated[str | None, Form(description="CSV: longitude / easting column")] = None,
    y_field: Annotated[str | None, Form(description="CSV: latitude / northing column")] = None,
    dry_run: bool = False,
    draft: bool = False,
) -> UploadFields:
    return UploadFields(file, metadata, table, crs, wkt_field, x_field, y_field, dry_run, draft)


Upload = Annotated[UploadFields, Depends(upload_fields)]


def _upload(
    request: Request, layer_id: str, fields: UploadFields, token: Token, admin: AdminStore
) -> Report:
    settings = request.app.state.settings
    metadata = parse_metadata(fields.metadata)
    limits = UploadLimits(
        max_bytes=settings.upload_max_bytes,
        max_features=settings.upload_max_features,
        max_zip_members=settings.upload_max_zip_members,
        max_uncompressed=settings.upload_max_uncompressed,
    )
    filename = fields.file.filename or "upload"
    with tempfile.TemporaryDirectory(prefix="geo-service-upload-") as folder:
        path = Path(folder) / ("upload" + claimed_suffix(filename))
        save_upload(fields.file, path, limits.max_bytes)
        request_ = UploadRequest(
            layer_id,
            path,
            filename,
            metadata,
            ReadOptions(fields.table, fields.wkt_field, fields.x_field, fields.y_field),
            fields.crs,
            fields.dry_run,
            fields.draft,
        )
        report = ingest(
            request_, settings.data_dir, limits, settings.province, admin, f"token:{token.id}"
        )
    if not report.ok:
        errors = sum(f.severity == "error" for f in report.findings)
        raise ValidationFailed(
            f"the upload has {errors} kinds of error; nothing was published",
            extra={"report": report.to_dict()},
        )
    return report


def parse_metadata(text: str | None) -> dict:
    """The `metadata` form field: a JSON object, or nothing."""
    try:
        metadata = strict_json.loads(text) if text else {}
    except strict_json.StrictJSONError as exc:
        raise InvalidParameter(
            f"metadata is not valid JSON: {exc} / metadata không phải JSON hợp lệ"
        ) from None
    if not isinstance(metadata, dict):
        raise InvalidParameter("metadata must be a JSON object / metadata phải là đối tượng JSON")
    return metadata


def save_upload(upload: UploadFile, path: Path, limit: int) -> None:
    """Stream the uploaded file to `path`, refusing (413) past `limit` bytes."""
    written = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise TooLarge(
                    f"the upload is larger than the limit of {limit:,} bytes / "
                    f"tệp tải lên vượt giới hạn {limit:,} byte"
                )
            out.write(chunk)


@router.post("/layers", summary="Upload a new layer / Tải lên lớp mới")
def create_layer(
    request: Request,
    token: Editor,
    admin: AdminStoreDep,
    fields: Upload,
    id: Annotated[str, Form(pattern=LAYER_ID_PATTERN.pattern)],
) -> JSONResponse:
    if versions(request.app.state.settings.data_dir, id):
        raise Conflict(f"layer {id!r} exists; send a new version with PUT /admin/layers/{id}")
    report = _upload(request, id, fields, token, admin)
    return JSONResponse(
        report.to_dict(), status_code=201 if report.published or report.draft else 200
    )


@router.put("/layers/{layer_id}", summary="Upload a new version / Tải lên phiên bản mới")
def replace_layer(
    request: Request, layer_id: str, token: Editor, admin: AdminStoreDep, fields: Upload
) -> dict:
    if not versions(request.app.state.settings.data_dir, layer_id):
        raise NotFound(f"no layer {layer_id!r} to replace; create it with POST /admin/layers")
    return _upload(request, layer_id, fields, token, admin).to_dict()
