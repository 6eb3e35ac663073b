"""Validate an uploaded layer and shape it to the catalogue's schema, with a report that says
exactly what is wrong, how often, and where (example feature ids).

Errors stop a publish; warnings and notes are published with the data. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..catalogue import ID_FIELD, FieldSpec, LayerMeta
from ..errors import ValidationFailed
from ..i18n import N_, _l
from ..kinds import Kind, load_kinds
from ..layer_frame import records_to_frame
from ..places import UnmatchedPlace, communes_of_province, province_extent, resolve_commune
from ..query import MAX_INTEGER, MIN_INTEGER
from ..text import nfc

Severity = Literal["error", "warning", "info"]
FAMILIES = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}
PROVINCE_ZONES = {"14": 9206, "22": 5899, "08": 9211}
"""Each province's VN-2000 TM-3 zone (Sơn La 104°00', Quảng Ninh 107°45', Tuyên Quang 106°00')."""
EXAMPLES = 5
_MOJIBAKE = re.compile("Ã.|Ä.|Æ.|á»|áº")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_REFUSALS = {
    "upload": N_("the upload has {errors} kinds of error; nothing was stored"),
    "edit": N_("the edit has {errors} kinds of error; nothing was stored"),
}
"""The 400 for a refused upload or edit (`Report.refusal`)."""


@dataclass
class Finding:
    severity: Severity
    code: str
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Report:
    layer: str
    features: int = 0
    source_crs: str | None = None
    findings: list[Finding] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)
    published: bool = False
    version: int | None = None
    draft: bool = False
    mapping: dict[str, Any] | None = None
    """The column and value mapping proposed (`mapping.Proposal`): its `fields` member can be
    sent back as the upload's `fields`."""

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def add(
        self, severity: Severity, code: str, message: str, ids: list[str] | None = None
    ) -> None:
        ids = ids or []
        self.findings.append(
            Finding(severity, code, message, len(ids), [str(i) for i in ids[:EXAMPLES]])
        )

    def absorb(self, other: Report, feature_id: str) -> None:
        """Take in the findings of one feature's report (`ingest.features`): the same finding for
        several features is listed once, with their count and ids."""
        for finding in other.findings:
            ids = finding.examples or [feature_id]
            same = next(
                (
                    f
                    for f in self.findings
                    if (f.severity, f.code, f.message)
                    == (finding.severity, finding.code, finding.message)
                ),
                None,
            )
            if same is None:
                self.findings.append(Finding(finding.severity, finding.code, finding.message, 0))
                same = self.findings[-1]
            same.count += max(finding.count, 1)
            same.examples = (same.examples + ids)[:EXAMPLES]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def refusal(self, subject: Literal["upload", "edit"]) -> ValidationFailed:
        """The 400 for what this report found errors in: nothing of it was stored."""
        errors = sum(f.severity == "error" for f in self.findings)
        return ValidationFailed(
            _l(_REFUSALS[subject], errors=errors), extra={"report": self.to_dict()}
        )

    def to_text(self) -> str:
        """The report as a person reads it in a terminal."""
        state = "draft stored" if self.draft else "published" if self.published else "not published"
        lines = [
            f"layer {self.layer}: {self.features} features, CRS {self.source_crs or '?'}; {state}"
        ]
        if self.version:
            lines[0] += f" as version {self.version}"
        for finding in self.findings:
            examples = f" (e.g. {', '.join(finding.examples)})" if finding.examples else ""
            count = f" ×{finding.count}" if finding.count else ""
            lines.append(
                f"  {finding.severity.upper():<7} {finding.code}{count}: {finding.message}{examples}"
            )
        lines += [f"  default  {item}" for item in self.defaulted]
        if self.mapping and self.mapping["proposed"]:
            lines.append("  proposed mapping (use with --fields):")
            lines += [f"    {item}" for item in self.mapping["proposed"]]
        return "\n".join(lines)


def _ids(frame: pd.DataFrame, mask) -> list[str]:
    return [str(v) for v in frame.loc[mask, "__id"].head(EXAMPLES * 4)]


def prepare(
    frame: gpd.GeoDataFrame,
    meta: LayerMeta,
    declared_crs: str | None,
    province_code: str,
    kind: Kind | None = None,
    *,
    strict: bool = False,
) -> tuple[gpd.GeoDataFrame | None, LayerMeta, Report]:
    """The features in WGS 84 with the layer's schema (None if there are errors), and the report.

    `kind` is the layer's kind as in force (default: as the settings' kinds files define it).
    `strict` is for features edited one by one in a published layer (`ingest.features`): its
    schema is `meta.fields` as they are, and an invalid geometry, one of another family than the
    layer's, or a property the layer lacks is an error; an upload repairs the geometry, reports
    the family and adds the property as a new field.
    """
    if kind is None:
        from ..settings import Settings

        kind = load_kinds(Settings().kinds_dir).check(meta.kind)
    report = Report(meta.id, features=len(frame))
    frame = frame.copy()
    frame["__id"] = (
        frame[ID_FIELD].astype(str)
        if ID_FIELD in frame
        else [f"#{i + 1}" for i in range(len(frame))]
    )

    if frame.crs is None and declared_crs is None:
        report.add(
            "error", "crs_missing", "the file declares no CRS; give one with `crs` (e.g. EPSG:9206)"
        )
        return None, meta, report
    source_crs = CRS.from_user_input(declared_crs) if frame.crs is None else frame.crs
    report.source_crs = source_crs.to_string()
    frame = frame.set_crs(source_crs, allow_override=True).to_crs(4326)

    _check_geometries(frame, report, meta, kind, strict)
    _check_extent(frame, report, province_code, source_crs)
    _fix_text(frame, report)
    fields = _fields_of_layer(frame, meta, report) if strict else _schema(frame, kind, report)
    meta = meta.model_copy(update={"fields": fields})
    _check_ids(frame, report)
    records = _records(frame, meta, report, province_code)
    if not report.ok:
        return None, meta, report
    return records_to_frame(meta, records, frame.geometry.values), meta, report


def _check_geometries(
    frame: gpd.GeoDataFrame, report: Report, meta: LayerMeta, kind: Kind, strict: bool
) -> None:
    empty = frame.geometry.isna() | frame.geometry.is_empty
    if empty.any():
        report.add("error", "geometry_empty", "features without a geometry", _ids(frame, empty))
    invalid = ~empty & ~frame.geometry.is_valid
    if invalid.any() and strict:
        reasons = sorted(set(shapely.is_valid_reason(frame.geometry[invalid].values)))
        report.add(
            "error",
            "geometry_invalid",
            f"invalid geometries ({'; '.join(reasons[:EXAMPLES])}); draw them again / hình "
            "không hợp lệ; hãy vẽ lại",
            _ids(frame, invalid),
        )
    elif invalid.any():
        frame.loc[invalid, "geometry"] = shapely.make_valid(frame.geometry[invalid].values)
        report.add(
            "warning",
            "geometry_repaired",
            "invalid geometries repaired with make_valid",
            _ids(frame, invalid),
        )
    families = {FAMILIES.get(t) for t in frame.geometry[~empty].geom_type.unique()}
    if None in families or len(families) > 1:
        report.add(
            "error",
            "geometry_mixed",
            f"a layer holds one geometry family; found {sorted(map(str, families))}",
        )
    elif families and not families <= set(kind.definition.geometry):
        report.add(
            "error",
            "geometry_kind",
            f"a layer of kind {kind.id!r} holds {' or '.join(kind.definition.geometry)} "
            f"geometries; the file has {families.pop()}",
        )
    elif families and families != {meta.geometry_type}:
        family = families.pop()
        if strict:
            report.add(
                "error",
                "geometry_family",
                f"layer {meta.id} holds {meta.geometry_type}s, not {family}s / lớp {meta.id} "
                f"chứa hình dạng {meta.geometry_type}, không phải {family}",
                _ids(frame, ~empty),
            )
        else:
            report.add("info", "geometry_family", f"geometry family is {family}")


def _check_extent(frame: gpd.GeoDataFrame, report: Report, province: str, source_crs: CRS) -> None:
    minx, miny, maxx, maxy = province_extent(province)
    points = frame.geometry.representative_point()
    x, y = points.x.to_numpy(), points.y.to_numpy()
    outside = ~((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)) & ~np.isnan(x)
    if not outside.any():
        return
    swapped = outside & (y >= minx) & (y <= maxx) & (x >= miny) & (x <= maxy)
    hint = ""
    if swapped.any():
        hint = "; some look like latitude and longitude swapped"
    zone = PROVINCE_ZONES.get(province)
    if (
        zone
        and source_crs.to_epsg()
        and source_crs.to_epsg() != zone
        and "VN-2000" in source_crs.name
    ):
        hint += f"; the file is in {source_crs.name}, the province's zone is EPSG:{zone}"
    report.add(
        "error",
        "outside_province",
        f"features outside province {province}'s extent ({minx:.2f}, {miny:.2f}, {maxx:.2f}, {maxy:.2f}){hint}",
        _ids(frame, outside),
    )


def _fix_text(frame: gpd.GeoDataFrame, report: Report) -> None:
    """NFC everywhere; UTF-8 read as Latin-1 (mojibake) is converted back, or refused; text
    holding NUL is refused (no one means it, and PostgreSQL cannot store it: refused by both
    stores alike)."""
    for column in frame.columns:
        if column in ("geometry", "__id") or not (
            frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column])
        ):
            continue
        values = frame[column]
        nul = values.map(lambda v: isinstance(v, str) and "\x00" in v)
        if nul.any():
            report.add(
                "error",
                "text_nul",
                f"{column}: text holds the NUL character; remove it",
                _ids(frame, nul),
            )
        broken = values.map(lambda v: isinstance(v, str) and bool(_MOJIBAKE.search(v)))
        if broken.any():
            try:
                frame.loc[broken, column] = values[broken].map(
                    lambda v: v.encode("latin-1").decode("utf-8")
                )
                report.add(
                    "warning",
                    "encoding_converted",
                    f"{column}: text read in the wrong encoding, converted to UTF-8",
                    _ids(frame, broken),
                )
            except (UnicodeEncodeError, UnicodeDecodeError):
                report.add(
                    "error",
                    "encoding",
                    f"{column}: text is not valid UTF-8; save the file as UTF-8",
                    _ids(frame, broken),
                )
        frame[column] = frame[column].map(lambda v: nfc(v) if isinstance(v, str) else v)


def _schema(frame: gpd.GeoDataFrame, kind: Kind, report: Report) -> list[FieldSpec]:
    """The kind's fields, then the file's other columns (kept, typed from the data).

    A GeoPackage's column names ignore case, so a column whose name differs from another's (or
    from a field of the kind) only in case cannot be stored beside it: an error naming both.
    """
    fields = kind.fields()
    known = {f.name for f in fields}
    taken = {name.lower(): name for name in known}
    extra = []
    for column in frame.columns:
        if column in known or column in ("geometry", "__id"):
            continue
        if not _FIELD_NAME.fullmatch(column):
            report.add(
                "warning",
                "column_dropped",
                f"column {column!r} has a name that is not a plain identifier; left out",
            )
            continue
        if column.lower() in taken:
            report.add(
                "error",
                "column_case",
                f"column {column!r} differs only in case from {taken[column.lower()]!r}, which "
                "a GeoPackage cannot tell apart; rename it",
            )
            continue
        taken[column.lower()] = column
        kind = frame[column].dtype.kind
        type_ = {"i": "integer", "u": "integer", "f": "number", "b": "boolean"}.get(kind, "string")
        extra.append(FieldSpec(name=column, type=type_, label_vi=column, label_en=column))
        if type_ == "string":
            frame[column] = frame[column].map(lambda v: None if v is None or v != v else str(v))
    return fields + extra


def _fields_of_layer(frame: gpd.GeoDataFrame, meta: LayerMeta, report: Report) -> list[FieldSpec]:
    """A published layer's own fields; a property it lacks is an error."""
    known = set(meta.field_names)
    unknown = [c for c in frame.columns if c not in known and c not in ("geometry", "__id")]
    if unknown:
        report.add(
            "error",
            "field_unknown",
            f"properties the layer {meta.id} does not have: {', '.join(sorted(unknown))} "
            f"(its fields: {', '.join(meta.field_names)}) / thuộc tính không có trong lớp",
            _ids(frame, np.ones(len(frame), dtype=bool)),
        )
    return list(meta.fields)


def _check_ids(frame: gpd.GeoDataFrame, report: Report) -> None:
    if ID_FIELD not in frame:
        report.add(
            "error", "id_missing", f"a `{ID_FIELD}` column with a stable id per feature is required"
        )
        return
    blank = frame[ID_FIELD].isna() | (frame[ID_FIELD].astype(str).str.strip() == "")
    if blank.any():
        report.add("error", "id_blank", f"features without a `{ID_FIELD}`", _ids(frame, blank))
    duplicated = ~blank & frame[ID_FIELD].astype(str).duplicated(keep=False)
    if duplicated.any():
        report.add(
            "error",
            "id_duplicate",
            f"`{ID_FIELD}` values used more than once",
            _ids(frame, duplicated),
        )


def _coerce(spec: FieldSpec, value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if spec.type == "integer":
        return _integer(value)
    if spec.type == "number":
        if isinstance(value, bool | np.bool_):
            raise ValueError(value)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    if spec.type in ("date", "datetime"):
        if isinstance(value, dt.datetime | pd.Timestamp):
            return value.date().isoformat() if spec.type == "date" else value.isoformat()
        parsed = dt.date.fromisoformat(str(value)[:10])
        return parsed.isoformat() if spec.type == "date" else str(value)
    if spec.type == "boolean":
        return {"true": True, "false": False, "1": True, "0": False}[str(value).lower()]
    if spec.codes and str(value) not in spec.code_labels():
        raise ValueError(value)
    return str(value)


def _integer(value: Any) -> int:
    """A whole number within 64 bits, exactly (not through a float, which rounds past 2**53):
    from an integer, a whole float, or the text of either; never from a boolean."""
    if isinstance(value, bool | np.bool_):
        raise ValueError(value)
    if isinstance(value, int | np.integer):
        number = int(value)
    else:
        text = str(value).strip()
        try:
            number = int(text)
        except ValueError:
            whole = float(text)
            if not whole.is_integer():
                raise ValueError(value) from None
            number = int(whole)
    if not MIN_INTEGER <= number <= MAX_INTEGER:
        raise ValueError(value)
    return number


def _records(frame: gpd.GeoDataFrame, meta: LayerMeta, report: Report, province: str) -> list[dict]:
    columns = [f for f in meta.fields if f.name in frame.columns]
    records: list[dict] = [{} for _ in range(len(frame))]
    ids = frame["__id"].tolist()
    for spec in columns:
        bad_ids, bad_values = [], []
        for record, row_id, value in zip(records, ids, frame[spec.name].tolist(), strict=True):
            try:
                record[spec.name] = _coerce(spec, value)
            except (ValueError, TypeError, KeyError):
                bad_ids.append(row_id)
                bad_values.append(str(value))
        if bad_ids:
            report.add("error", "field_type", _bad_values_message(spec, bad_values), bad_ids)
    _check_required(frame, meta, report)
    if report.ok:
        _derive(frame, meta, records, report, province)
    return records


def _check_required(frame: gpd.GeoDataFrame, meta: LayerMeta, report: Report) -> None:
    """Every field the kind requires has a column, and a value in each feature (the id is
    checked on its own, `_check_ids`)."""
    for spec in meta.fields:
        if not spec.required or spec.name == ID_FIELD:
            continue
        if spec.name not in frame.columns:
            report.add(
                "error",
                "field_missing",
                f"a `{spec.name}` column ({spec.label_en} / {spec.label_vi}) is required",
            )
            continue
        values = frame[spec.name]
        blank = values.isna() | (values.astype(str).str.strip() == "")
        if blank.any():
            report.add(
                "error",
                "field_blank",
                f"`{spec.name}` ({spec.label_en}) is required; features without it",
                _ids(frame, blank),
            )


def _bad_values_message(spec: FieldSpec, values: list[str]) -> str:
    shown = ", ".join(repr(v[:40]) for v in list(dict.fromkeys(values))[:EXAMPLES])
    if spec.codes and spec.type == "string":
        allowed = ", ".join(spec.code_labels())
        return f"{spec.name}: values outside its code list: {shown} (allowed: {allowed})"
    return f"{spec.name}: values that are not a {spec.type}: {shown}"


def _derive(
    frame: gpd.GeoDataFrame, meta: LayerMeta, records: list[dict], report: Report, province: str
) -> None:
    """Fill the common fields that can be derived, and say which were."""
    present = set(frame.columns)
    if "province_code" not in present:
        for r in records:
            r["province_code"] = province
        report.defaulted.append(f"province_code = {province}")
    if "area_ha" not in present and meta.geometry_type == "polygon":
        areas = frame.geometry.to_crs(f"EPSG:{PROVINCE_ZONES.get(province, 3405)}").area / 10_000
        for r, area in zip(records, areas, strict=True):
            r["area_ha"] = round(float(area), 4)
        report.defaulted.append("area_ha from the geometry")
    for name, value in (
        ("source", meta.source),
        ("data_quality", meta.data_quality),
        ("updated_at", meta.updated),
    ):
        if name not in present:
            for r in records:
                r[name] = value
            report.defaulted.append(f"{name} = {value}")
    if "commune_name" in present:
        unmatched = []
        province_name = next((c.province_name for c in communes_of_province(province)), "")
        cache: dict[str, Any] = {}
        for r, row_id in zip(records, frame["__id"], strict=True):
            name = r.get("commune_name")
            if not name or r.get("commune_code"):
                continue
            if name not in cache:
                address = name if "tỉnh" in name.lower() else f"{name}, {province_name}"
                try:
                    cache[name] = resolve_commune(address)
                except UnmatchedPlace:
                    cache[name] = None
            commune = cache[name]
            if commune is None:
                unmatched.append(row_id)
            else:
                r["commune_code"], r["commune_name"] = commune.code, commune.name
        if unmatched:
            report.add(
                "warning",
                "commune_unmatched",
                "commune names that match no 2025 commune or ward",
                unmatched,
            )
