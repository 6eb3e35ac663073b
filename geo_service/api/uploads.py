"""GIS staff's uploads: a new layer (POST) or a new version (PUT), validated before anything is
published, through the same ingest path as `geo-service import`.

The token is checked from the headers before a byte of the body is read (`upload_body`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .. import strict_json
from ..admin_store import AdminStore, Token
from ..catalogue import LAYER_ID_PATTERN
from ..errors import InvalidParameter, ServiceError, missing
from ..ingest import Report, UploadRequest, ingest
from ..ingest.read import ReadOptions, UploadLimits, claimed_suffix
from ..settings import Settings
from ..store import Store
from .auth import Editor
from .deps import AdminStoreDep, SettingsDep, StoreDep
from .strict_input import StrictRoute
from .upload_body import ReceivedForm, UploadForm, receive_form, refuse_an_existing_id

router = APIRouter(prefix="/admin", tags=["Administration"], route_class=StrictRoute)


class ValidationFailed(ServiceError):
    status = 400
    code = "ValidationFailed"


def _text(description: str) -> dict:
    return {"type": "string", "description": description}


LAYER_FIELDS = {
    "metadata": _text(
        "JSON: title_vi, title_en, kind, source, licence, data_quality (required for a new "
        "layer), …; a new version keeps what it does not give"
    ),
    "data_quality": {
        "type": "string",
        "enum": ["authoritative", "indicative", "synthetic_demo"],
        "description": "the layer's data quality, as in metadata (one or the other); required "
        "for a new layer",
    },
    "table": _text("table of a multi-table GeoPackage"),
    "crs": _text("CRS of a file that declares none, e.g. EPSG:9206"),
    "wkt_field": _text("CSV: column holding WKT"),
    "x_field": _text("CSV: longitude / easting column"),
    "y_field": _text("CSV: latitude / northing column"),
}
FILE = "GeoPackage, zipped Shapefile, GeoJSON, KML/KMZ, CSV or FlatGeobuf"
NEW_LAYER = UploadForm(
    FILE,
    {"id": {"type": "string", "pattern": LAYER_ID_PATTERN.pattern}} | LAYER_FIELDS,
    ("id",),
)
NEW_VERSION = UploadForm(FILE, LAYER_FIELDS)


def parse_metadata(text: str | None) -> dict:
    """The `metadata` form field: a JSON object, or nothing."""
    try:
        metadata = strict_json.loads(text) if text else {}
    except strict_json.StrictJSONError as exc:
        raise InvalidParameter(f"metadata: {exc}") from None
    if not isinstance(metadata, dict):
        raise InvalidParameter("metadata must be a JSON object / metadata phải là đối tượng JSON")
    return metadata


def _metadata(fields: dict[str, str]) -> dict:
    """The `metadata` field, with `data_quality` given as its own field if it was."""
    metadata = parse_metadata(fields.get("metadata"))
    quality = fields.get("data_quality")
    if quality is not None and metadata.setdefault("data_quality", quality) != quality:
        raise InvalidParameter(
            "data_quality is given twice, differently (a field and in metadata) / "
            "data_quality được nêu hai lần với giá trị khác nhau"
        )
    return metadata


def _saved_as(filename: str) -> str:
    """The upload keeps its suffix, so GDAL recognises it."""
    return "upload" + claimed_suffix(filename)


def _upload(
    settings: Settings,
    store: Store,
    admin: AdminStore,
    token: Token,
    layer_id: str,
    form: ReceivedForm,
    new_layer: bool,
    dry_run: bool,
    draft: bool,
) -> Report:
    fields = form.fields
    request = UploadRequest(
        layer_id,
        form.file,
        form.filename,
        _metadata(fields),
        ReadOptions(
            fields.get("table"),
            fields.get("wkt_field"),
            fields.get("x_field"),
            fields.get("y_field"),
        ),
        fields.get("crs"),
        dry_run,
        draft,
        new_layer,
    )
    report = ingest(
        request,
        store,
        UploadLimits.from_settings(settings),
        settings.province,
        admin,
        f"token:{token.id}",
    )
    if not report.ok:
        errors = sum(f.severity == "error" for f in report.findings)
        raise ValidationFailed(
            f"the upload has {errors} kinds of error; nothing was published / tệp tải lên có "
            f"{errors} loại lỗi; không có gì được công bố",
            extra={"report": report.to_dict()},
        )
    return report


async def _receive_and_ingest(
    request: Request,
    settings: Settings,
    store: Store,
    token: Token,
    admin: AdminStore,
    layer_id: str | None,
    dry_run: bool,
    draft: bool,
) -> Report:
    """Receive the form (the token was checked already) and ingest it off the event loop;
    `layer_id` None: a new layer, named by the form's `id`."""
    form_of = NEW_LAYER if layer_id is None else NEW_VERSION
    early = refuse_an_existing_id(lambda id_: bool(store.version_numbers(id_)), "layer")
    async with receive_form(request, form_of, settings.upload_max_bytes, _saved_as, early) as form:
        return await run_in_threadpool(
            _upload,
            settings,
            store,
            admin,
            token,
            layer_id or form.fields["id"],
            form,
            layer_id is None,
            dry_run,
            draft,
        )


@router.post(
    "/layers", summary="Upload a new layer / Tải lên lớp mới", openapi_extra=NEW_LAYER.openapi()
)
async def create_layer(
    request: Request,
    token: Editor,
    admin: AdminStoreDep,
    settings: SettingsDep,
    store: StoreDep,
    dry_run: bool = False,
    draft: bool = False,
) -> JSONResponse:
    report = await _receive_and_ingest(request, settings, store, token, admin, None, dry_run, draft)
    return JSONResponse(
        report.to_dict(), status_code=201 if report.published or report.draft else 200
    )


@router.put(
    "/layers/{layer_id}",
    summary="Upload a new version / Tải lên phiên bản mới",
    openapi_extra=NEW_VERSION.openapi(),
)
async def replace_layer(
    request: Request,
    layer_id: str,
    token: Editor,
    admin: AdminStoreDep,
    settings: SettingsDep,
    store: StoreDep,
    dry_run: bool = False,
    draft: bool = False,
) -> dict:
    if not store.version_numbers(layer_id):  # asked again as the store publishes
        raise missing("layer", layer_id)
    report = await _receive_and_ingest(
        request, settings, store, token, admin, layer_id, dry_run, draft
    )
    return report.to_dict()
