"""GIS staff's layer administration: a new layer (POST) or a new version (PUT) from an upload,
validated before anything is published through the same ingest path as `geo-service import`;
versions, rollback, drafts and archive (the routes every versioned kind has, `version_admin`);
and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..admin_store import AdminStore, Token
from ..catalogue import LAYER_ID_PATTERN
from ..errors import InvalidParameter
from ..facts import completeness_report
from ..i18n import _l
from ..ingest import UploadRequest, ingest
from ..ingest.mapping import parse_mapping
from ..ingest.read import ReadOptions, UploadLimits, claimed_suffix
from ..review import Review
from ..settings import Settings
from ..store import VersionSummary
from ..text import TextId
from . import layer_changes
from .auth import Admin, Editor
from .deps import AdminStoreDep, StoreDep, get_store, kinds_of
from .strict_input import StrictRoute
from .upload_body import ReceivedForm, UploadForm, parse_metadata
from .version_admin import Route, Uploading, VersionAdmin


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
    "fields": _text(
        description="JSON: how the file's columns and values map to the kind's fields and codes, e.g. "
        '{"fields": {"name_vi": "TEN_KCN"}, "values": {"status": {"Đang hoạt động": '
        '"operating"}}}; a refused upload\'s report proposes one (mapping.fields)'
    ),
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


def _metadata(fields: dict[str, str]) -> dict:
    """The `metadata` field, with `data_quality` given as its own field if it was."""
    metadata = parse_metadata(fields.get("metadata"))
    quality = fields.get("data_quality")
    if quality is not None and metadata.setdefault("data_quality", quality) != quality:
        raise InvalidParameter(
            _l("data_quality is given twice, differently (a field and in metadata)")
        )
    return metadata


class LayerAdmin(VersionAdmin):
    """Layers: uploads go through `ingest` (which records them in the audit log), and may be
    stored as drafts."""

    def upload(
        self, sent: Uploading, item_id: str, form: ReceivedForm, new: bool
    ) -> tuple[dict[str, Any], bool]:
        fields = form.fields
        options = ReadOptions(
            fields.get("table"),
            fields.get("wkt_field"),
            fields.get("x_field"),
            fields.get("y_field"),
        )
        wanted = UploadRequest(
            item_id,
            form.file,
            form.filename,
            _metadata(fields),
            options,
            fields.get("crs"),
            sent.dry_run,
            sent.draft or sent.settings.review_required,
            new,
            parse_mapping(fields.get("fields")),
        )
        settings = sent.settings
        limits = UploadLimits.from_settings(settings)
        kinds = kinds_of(sent.request).current()
        report = ingest(
            wanted, sent.store, limits, settings.province, sent.admin, sent.actor, kinds
        )
        if not report.ok:
            raise report.refusal("upload")
        return report.to_dict(), report.published or report.draft

    def saved_as(self, filename: str) -> str:
        """The upload keeps its suffix, so GDAL recognises it."""
        return "upload" + claimed_suffix(filename)

    def details(self, summary: VersionSummary) -> dict[str, Any]:
        return {"features": summary.features, "kind": summary.kind, "actor": summary.actor}

    def serving(
        self,
        token: Token,
        store: Any,
        admin: AdminStore,
        settings: Settings,
        item_id: str,
        version: int,
    ) -> dict[str, Any]:
        """With review required, a draft is served only by a reviewer who made none of it."""
        return Review(store, admin, settings).check(token, item_id, version)


layers = LayerAdmin(
    kind="layer",
    prefix="/layers",
    id_name="layer_id",
    store=get_store,
    new_item=NEW_LAYER,
    new_version=NEW_VERSION,
    drafts=True,
    routes={
        "create": Route("create_layer", "Upload a new layer / Tải lên lớp mới"),
        "replace": Route("replace_layer", "Upload a new version / Tải lên phiên bản mới"),
        "versions": Route("layer_versions", "Versions of a layer / Các phiên bản"),
        "rollback": Route("rollback", "Serve an earlier version / Quay lại phiên bản"),
        "archive": Route("archive", "Archive a layer (admin) / Lưu trữ lớp"),
        "publish": Route("publish_draft", "Publish the latest draft / Công bố bản nháp"),
    },
)
router = APIRouter(prefix="/admin", tags=["Administration"], route_class=StrictRoute)
router.include_router(layers.router)
router.include_router(layer_changes.router)


@router.get("/audit", summary="Audit log (admin) / Nhật ký")
def audit(
    token: Admin,
    admin: AdminStoreDep,
    layer: Annotated[TextId | None, Query(description="only this layer")] = None,
) -> dict:
    return {"entries": admin.audit(layer)}


@router.get("/completeness", summary="Missing investor facts (GIS staff) / Thông tin còn thiếu")
def completeness(
    token: Editor,
    store: StoreDep,
    layer: Annotated[list[str] | None, Query(description="only these layers")] = None,
    limit: Annotated[int, Query(ge=0, le=10_000, description="most sites listed per fact")] = 100,
) -> dict:
    """Per layer with investor facts, which facts are missing where, so GIS staff know what to
    collect; each site's `completeness_pct` filters and facets like any field."""
    return {"layers": completeness_report(store, layer, limit)}
