"""One ingest path for the API and the CLI: read, validate, then publish (or not) under the
layer's lock, and record it in the audit log."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..admin_store import AdminStore
from ..catalogue import LAYER_ID_PATTERN, LayerMeta
from ..errors import InvalidParameter
from ..kinds import KIND_FIELDS
from ..store.gpkg_files import publish_layer
from .read import ReadOptions, UploadLimits, read_upload
from .validate import FAMILIES, Report, prepare

METADATA_KEYS = {
    "title_vi",
    "title_en",
    "description_vi",
    "description_en",
    "kind",
    "source",
    "licence",
    "data_quality",
    "province_code",
}


@dataclass
class UploadRequest:
    layer_id: str
    file: Path
    filename: str
    metadata: dict[str, Any] = field(default_factory=dict)
    options: ReadOptions = field(default_factory=ReadOptions)
    crs: str | None = None
    dry_run: bool = False
    draft: bool = False


def layer_meta(
    layer_id: str, metadata: dict[str, Any], default_province: str, report: Report
) -> tuple[LayerMeta, str]:
    """The layer's metadata from the upload's, with sensible defaults the report lists."""
    unknown = set(metadata) - METADATA_KEYS
    if unknown:
        raise InvalidParameter(
            f"unknown metadata keys: {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(METADATA_KEYS))}"
        )
    kind = metadata.get("kind", "other")
    if kind not in KIND_FIELDS:
        raise InvalidParameter(
            f"kind {kind!r} is unknown; use one of {', '.join(sorted(KIND_FIELDS))}"
        )
    province = str(metadata.get("province_code", default_province))
    defaults = {
        "title_vi": layer_id,
        "title_en": layer_id,
        "description_vi": "",
        "description_en": "",
        "kind": "other",
        "source": "uploaded by GIS staff",
        "licence": "",
        "data_quality": "authoritative",
        "province_code": default_province,
    }
    for key, value in defaults.items():
        if key not in metadata:
            report.defaulted.append(f"metadata {key} = {value!r}")
    values = {**defaults, **metadata}
    try:
        meta = LayerMeta(
            id=layer_id,
            title_vi=values["title_vi"],
            title_en=values["title_en"],
            description_vi=values["description_vi"],
            description_en=values["description_en"],
            kind=kind,
            geometry_type="polygon",
            fields=[],
            source=values["source"],
            licence=values["licence"],
            updated=dt.date.today().isoformat(),
            data_quality=values["data_quality"],
            provinces=[province],
        )
    except ValidationError as exc:
        raise InvalidParameter(f"metadata: {exc.errors()[0]['msg']}") from None
    return meta, province


STAGES = ("read", "validate", "publish")


def ingest(
    request: UploadRequest,
    data_dir: Path,
    limits: UploadLimits,
    default_province: str,
    admin: AdminStore,
    actor: str,
    progress: Callable[[str], None] = lambda stage: None,
) -> Report:
    """Validate the upload and, unless a dry run or if errors were found, publish it.

    `progress` is told each stage of STAGES as it starts.
    """
    if not LAYER_ID_PATTERN.fullmatch(request.layer_id):
        raise InvalidParameter(
            f"layer id {request.layer_id!r} must match {LAYER_ID_PATTERN.pattern}"
        )
    report = Report(request.layer_id)
    meta, province = layer_meta(request.layer_id, request.metadata, default_province, report)
    progress("read")
    with tempfile.TemporaryDirectory(prefix="geo-service-upload-") as workdir:
        frame = read_upload(request.file, request.filename, request.options, limits, Path(workdir))
    geometry_type = _family(frame)
    meta = meta.model_copy(update={"geometry_type": geometry_type})
    progress("validate")
    prepared, meta, checked = prepare(frame, meta, request.crs, province)
    checked.defaulted[:0] = report.defaulted
    report = checked
    if prepared is None or request.dry_run:
        return report
    progress("publish")
    path = publish_layer(data_dir, meta, prepared, activate_now=not request.draft)
    report.published, report.draft = not request.draft, request.draft
    report.version = int(path.stem[1:])
    admin.record(
        actor,
        "layer.draft" if request.draft else "layer.publish",
        request.layer_id,
        {"version": report.version, "features": report.features, "file": request.filename},
    )
    return report


def _family(frame) -> str:
    families = {FAMILIES.get(t) for t in frame.geometry.dropna().geom_type.unique()} - {None}
    return families.pop() if len(families) == 1 else "polygon"
