"""One ingest path for the API and the CLI: read, validate, then publish (or not) through the
store, and record it in the audit log.

A new layer states its `data_quality` (nothing is presumed authoritative); a new version keeps
the served version's metadata except what its upload gives.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..admin_store import AdminStore
from ..catalogue import LAYER_ID_PATTERN, LayerMeta
from ..errors import InvalidParameter, NotFound, check_existence, missing
from ..facts import with_facts
from ..i18n import _l
from ..i18n.content import further_names
from ..i18n.validation import described
from ..kinds import Kinds, load_kinds
from ..store import Store
from .mapping import FieldMapping, apply_mapping, propose
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
    *further_names("title", "description"),
}
"""What an upload's metadata may give; `title_ja`, `description_ko`, … are optional (the layer
is shown in English, then Vietnamese, where they are missing)."""


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
    new_layer: bool | None = None
    """True: a new layer (409 if it exists); False: a new version (404 unless the layer exists);
    None: whichever the layer's existence says (the CLI)."""
    fields: FieldMapping = field(default_factory=FieldMapping)
    """How the file's columns and values map to the kind's fields and codes."""


def layer_meta(
    layer_id: str,
    metadata: dict[str, Any],
    default_province: str,
    report: Report,
    previous: LayerMeta | None = None,
    kinds: Kinds | None = None,
) -> tuple[LayerMeta, str]:
    """The layer's metadata from the upload's: over the `previous` version's for a new version,
    else over defaults (a new layer must state its `data_quality`); the report lists what was
    not given."""
    unknown = set(metadata) - METADATA_KEYS
    if unknown:
        raise InvalidParameter(
            _l(
                "unknown metadata keys: {value}; allowed: {value2}",
                value=", ".join(sorted(unknown)),
                value2=", ".join(sorted(METADATA_KEYS)),
            )
        )
    if previous is None and "data_quality" not in metadata:
        raise InvalidParameter(
            _l(
                "a new layer's metadata must state its data_quality: authoritative, indicative or synthetic_demo; none is presumed"
            )
        )
    if previous is None:
        base = {
            "title_vi": layer_id,
            "title_en": layer_id,
            "description_vi": "",
            "description_en": "",
            "kind": "other",
            "source": "uploaded by GIS staff",
            "licence": "",
            "province_code": default_province,
        }
        given_by = "default"
    else:
        base = previous.model_dump(include=METADATA_KEYS - {"province_code"}, exclude_none=True)
        base["province_code"] = (previous.provinces or [default_province])[0]
        given_by = f"kept from version {previous.version}"
    for key, value in base.items():
        if key not in metadata:
            report.defaulted.append(f"metadata {key} = {value!r} ({given_by})")
    values = {**base, **metadata}
    kind = values["kind"]
    (kinds or _kinds_in_files()).check(str(kind))
    province = str(values["province_code"])
    try:
        meta = LayerMeta(
            id=layer_id,
            title_vi=values["title_vi"],
            title_en=values["title_en"],
            description_vi=values["description_vi"],
            description_en=values["description_en"],
            **{name: values.get(name) or None for name in further_names("title", "description")},
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
        raise InvalidParameter(_l("metadata: {problem}", problem=described(exc))) from None
    return meta, province


def _kinds_in_files() -> Kinds:
    from ..settings import Settings

    return load_kinds(Settings().kinds_dir)


def served_meta(store: Store, layer_id: str, numbers: list[int]) -> LayerMeta:
    """The metadata of the layer's served version, else of its newest (a draft); `NotFound`
    when the layer went away meanwhile (archived)."""
    served = store.current_version(layer_id) is not None
    try:
        return store.layer(layer_id, None if served else numbers[-1])
    except NotFound:
        raise missing("layer", layer_id) from None


def ingest(
    request: UploadRequest,
    store: Store,
    limits: UploadLimits,
    default_province: str,
    admin: AdminStore,
    actor: str,
    kinds: Kinds | None = None,
) -> Report:
    """Validate the upload and, unless a dry run or if errors were found, publish it.

    `kinds`: the kinds in force (`KindRegistry.current()`); default, the kinds files'."""
    kinds = kinds or _kinds_in_files()
    if not LAYER_ID_PATTERN.fullmatch(request.layer_id):
        raise InvalidParameter(
            _l(
                "layer id {layer_id!r} must match {pattern}",
                layer_id=request.layer_id,
                pattern=LAYER_ID_PATTERN.pattern,
            )
        )
    numbers = store.version_numbers(request.layer_id)
    new = not numbers if request.new_layer is None else request.new_layer
    # a first answer before the work; the store asks again as it publishes
    check_existence("layer", request.layer_id, bool(numbers), new)
    previous = None if new else served_meta(store, request.layer_id, numbers)
    report = Report(request.layer_id)
    meta, province = layer_meta(
        request.layer_id, request.metadata, default_province, report, previous, kinds
    )
    kind = kinds.get(meta.kind)
    with tempfile.TemporaryDirectory(prefix="geo-service-upload-") as workdir:
        frame = read_upload(request.file, request.filename, request.options, limits, Path(workdir))
    mapped = apply_mapping(frame, request.fields, kind)
    proposal = propose(frame, request.fields, kind)
    geometry_type = _family(mapped)
    meta = meta.model_copy(update={"geometry_type": geometry_type})
    prepared, meta, checked = prepare(mapped, meta, request.crs, province, kind)
    checked.defaulted[:0] = report.defaulted
    report = checked
    report.mapping = proposal.to_dict()
    if proposal.adds_anything:
        report.add(
            "info",
            "mapping_proposed",
            _l(
                "columns or values of the file match the kind's fields by name or label; send "
                "the report's mapping.fields as `fields` to use them"
            ),
        )
    if prepared is None or request.dry_run:
        return report
    prepared = with_facts(store, meta, prepared)
    report.version = store.publish(meta, prepared, new=new, draft=request.draft, actor=actor)
    report.published, report.draft = not request.draft, request.draft
    found = report.to_dict()
    admin.record(
        actor,
        "layer.draft" if request.draft else "layer.publish",
        request.layer_id,
        {
            "version": report.version,
            "features": report.features,
            "file": request.filename,
            "report": {"findings": found["findings"], "defaulted": found["defaulted"]},
        },
    )
    return report


def _family(frame) -> str:
    families = {FAMILIES.get(t) for t in frame.geometry.dropna().geom_type.unique()} - {None}
    return families.pop() if len(families) == 1 else "polygon"
