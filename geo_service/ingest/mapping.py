"""Column and value mapping: a provincial file's own column names and labels, mapped to a kind's
fields and codes.

A mapping is JSON, sent as the upload's `fields` form field or `geo-service import --fields`:

    {"fields": {"name_vi": "TEN_KCN", "area_ha": "DienTich"},
     "values": {"status": {"Đang hoạt động": "operating"}}}

`fields` maps each of our fields to the file's column holding it; `values` maps, per coded field,
a value the file holds to a code of the field's list. A mapping is checked in full before it is
applied (an unknown field, a column the file lacks, a column given twice, a code outside the list
is a 400 naming it) and nothing is stored on such an error.

`propose` completes a mapping for what is still unmatched: columns by the field's name, labels and
`aliases` (the common Vietnamese column names: TEN, TEN_KCN, DIENTICH, DT_HA, MAXA, TRANGTHAI, …),
compared ignoring case, diacritics and separators, then by similarity; values by the code list's
codes and labels, the same way. The proposal holds the mapping given too, so a client can send it
back unchanged as `fields`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from .. import strict_json
from ..errors import InvalidParameter
from ..i18n import Text, _l
from ..kinds import Kind, KindField
from ..text import fold, nfc

NOT_COLUMNS = ("geometry",)
SIMILAR_NAME = 0.8
"""Least similarity (0–1, difflib's ratio over folded names) for a column to be proposed."""
SIMILAR_VALUE = 0.85
"""Least similarity for a file's value to be proposed as a code."""
MOST_VALUES = 200
"""Most distinct values of one column looked at for a proposal."""
_WORDS = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


class InvalidFieldMapping(InvalidParameter):
    code = "InvalidFieldMapping"


_VALUES_SHAPE = "{file value: code}"
"""Named outside the message: its braces are not a placeholder."""


def _refused(problem: Text) -> InvalidFieldMapping:
    return InvalidFieldMapping(_l("fields: {problem}", problem=problem))


@dataclass(frozen=True)
class FieldMapping:
    fields: dict[str, str] = field(default_factory=dict)
    """Our field → the file's column."""
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    """Our coded field → {the file's value → our code}."""

    def to_dict(self) -> dict[str, Any]:
        return {"fields": dict(self.fields), "values": {k: dict(v) for k, v in self.values.items()}}

    @property
    def empty(self) -> bool:
        return not self.fields and not self.values


def parse_mapping(text: str | bytes | None) -> FieldMapping:
    """The `fields` form field (or `--fields` file): JSON of a mapping's shape, else 400."""
    if not text:
        return FieldMapping()
    try:
        document = strict_json.loads(text)
    except strict_json.StrictJSONError as exc:
        raise _refused(_l("not valid JSON: {exc}", exc=exc)) from None
    return mapping_from(document)


def mapping_from(document: Any) -> FieldMapping:
    shape = (
        '{"fields": {"our_field": "FILE_COLUMN"}, "values": {"our_field": {"file value": "code"}}}'
    )
    if not isinstance(document, dict) or set(document) - {"fields", "values"}:
        raise _refused(_l("must be an object {shape}", shape=shape))
    fields, values = document.get("fields", {}), document.get("values", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise _refused(_l("`fields` maps each field to the name of a column (text)"))
    if not isinstance(values, dict) or not all(
        isinstance(m, dict) and all(isinstance(c, str) for c in m.values()) for m in values.values()
    ):
        raise _refused(
            _l("`values` maps each coded field to an object {shape}", shape=_VALUES_SHAPE)
        )
    return FieldMapping(
        {nfc(k): nfc(v) for k, v in fields.items()},
        {nfc(k): {nfc(v).strip(): nfc(c) for v, c in m.items()} for k, m in values.items()},
    )


def _columns(frame: gpd.GeoDataFrame) -> list[str]:
    return [c for c in frame.columns if c not in NOT_COLUMNS]


def check_mapping(frame: gpd.GeoDataFrame, mapping: FieldMapping, kind: Kind) -> None:
    """400 for the first thing in `mapping` that cannot apply to this file and kind."""
    columns = _columns(frame)
    sources: dict[str, str] = {}
    for ours, column in mapping.fields.items():
        if kind.field(ours) is None:
            raise _refused(
                _l("{field!r} is not a field of kind {kind!r}", field=ours, kind=kind.id)
            )
        if column not in columns:
            raise _refused(
                _l(
                    "the file has no column {column!r} (it has {columns})",
                    column=column,
                    columns=", ".join(columns),
                )
            )
        if column in sources:
            raise _refused(
                _l(
                    "column {column!r} is given for both {first!r} and {second!r}",
                    column=column,
                    first=sources[column],
                    second=ours,
                )
            )
        sources[column] = ours
    for ours in mapping.fields:
        if ours in columns and ours not in sources:
            raise _refused(
                _l(
                    "{field!r} is mapped from {column!r} but the file has a column {field!r} "
                    "too; map that one elsewhere or leave {field!r} out",
                    field=ours,
                    column=mapping.fields[ours],
                )
            )
    for ours, values in mapping.values.items():
        spec = kind.field(ours)
        if spec is None or not spec.codes:
            raise _refused(
                _l(
                    "values: {field!r} is not a field of kind {kind!r} with a code list",
                    field=ours,
                    kind=kind.id,
                )
            )
        allowed = {c.code for c in spec.codes}
        outside = sorted({code for code in values.values() if code not in allowed})
        if outside:
            raise _refused(
                _l(
                    "values: {values} not in the code list of {field!r} ({codes})",
                    values=", ".join(map(repr, outside)),
                    field=ours,
                    codes=", ".join(sorted(allowed)),
                )
            )


def apply_mapping(frame: gpd.GeoDataFrame, mapping: FieldMapping, kind: Kind) -> gpd.GeoDataFrame:
    """The frame with the mapping's columns renamed to our fields and its values to our codes;
    `InvalidFieldMapping` (400) if the mapping does not fit the file or the kind."""
    check_mapping(frame, mapping, kind)
    if mapping.empty:
        return frame
    renamed = frame.rename(columns={column: ours for ours, column in mapping.fields.items()})
    for ours, values in mapping.values.items():
        if ours in renamed.columns:
            renamed[ours] = renamed[ours].map(
                lambda v, m=values: m.get(nfc(str(v)).strip(), v) if _is_value(v) else v
            )
    return renamed


def _is_value(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)


def _words(text: str) -> list[str]:
    return _WORDS.findall(fold(_CAMEL.sub("_", text)))


def _compact(text: str) -> str:
    return "".join(_words(text))


def _name_score(column: str, spec: KindField) -> float:
    """How well a column's name fits a field: 1 for its name, a label or an alias (case,
    diacritics and separators ignored); 0.9 when it starts with an alias's words (TEN_KCN for
    TEN); else the best similarity, scaled down."""
    words, compact = _words(column), _compact(column)
    best = 0.0
    for name in (spec.name, spec.label_vi, spec.label_en, *spec.aliases):
        theirs = _words(name)
        if not theirs:
            continue
        if "".join(theirs) == compact:
            return 1.0
        if name in spec.aliases and words[: len(theirs)] == theirs and len(words) > len(theirs):
            best = max(best, 0.9)
        ratio = difflib.SequenceMatcher(None, compact, "".join(theirs)).ratio()
        if ratio >= SIMILAR_NAME:
            best = max(best, ratio * 0.85)
    return best


def _value_code(value: str, spec: KindField) -> str | None:
    folded = _compact(value)
    best, best_ratio = None, 0.0
    for code in spec.codes or ():
        for name in (code.code, code.label_vi, code.label_en):
            theirs = _compact(name)
            if theirs == folded:
                return code.code
            ratio = difflib.SequenceMatcher(None, folded, theirs).ratio()
            if ratio >= SIMILAR_VALUE and ratio > best_ratio:
                best, best_ratio = code.code, ratio
    return best


@dataclass
class Proposal:
    mapping: FieldMapping
    """The mapping given, completed with what was found: send back as `fields`."""
    proposed: list[str]
    """What was added, as a person reads it."""
    unmatched_columns: list[str]
    unmatched_fields: list[str]
    """Required fields still without a column."""
    unmatched_values: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": self.mapping.to_dict(),
            "proposed": self.proposed,
            "unmatched": {
                "columns": self.unmatched_columns,
                "required_fields": self.unmatched_fields,
                "values": self.unmatched_values,
            },
        }

    @property
    def adds_anything(self) -> bool:
        return bool(self.proposed)


def propose(frame: gpd.GeoDataFrame, given: FieldMapping, kind: Kind) -> Proposal:
    """A mapping for the columns and values of `frame` (the file's, before `given` is applied)
    that `given` leaves unmatched."""
    columns = _columns(frame)
    fields = dict(given.fields)
    names = {f.name for f in kind.all_fields}
    taken = set(fields.values()) | (set(columns) & names)
    present = set(fields) | (set(columns) & names)
    free_columns = [c for c in columns if c not in taken]
    free_fields = [f for f in kind.all_fields if f.name not in present]
    scored = sorted(
        (
            (score, column, spec.name)
            for column in free_columns
            for spec in free_fields
            if (score := _name_score(column, spec)) > 0
        ),
        key=lambda item: (-item[0], columns.index(item[1])),
    )
    proposed = []
    for score, column, ours in scored:
        if ours in fields or column in fields.values():
            continue
        fields[ours] = column
        proposed.append(f"{ours} ← column {column!r} ({'name' if score == 1 else 'similar'})")
    values = {k: dict(v) for k, v in given.values.items()}
    unmatched_values: dict[str, list[str]] = {}
    for spec in kind.all_fields:
        column = fields.get(spec.name, spec.name if spec.name in columns else None)
        if not spec.codes or column is None:
            continue
        codes = {c.code for c in spec.codes}
        mapped = values.get(spec.name, {})
        seen = pd.Series(frame[column].dropna().unique()[:MOST_VALUES]).map(
            lambda v: nfc(str(v)).strip()
        )
        for value in dict.fromkeys(seen):
            if not value or value in codes or value in mapped:
                continue
            code = _value_code(value, spec)
            if code is None:
                unmatched_values.setdefault(spec.name, []).append(value)
            else:
                values.setdefault(spec.name, {})[value] = code
                mapped = values[spec.name]
                proposed.append(f"{spec.name}: {value!r} → {code!r}")
    return Proposal(
        FieldMapping(fields, values),
        proposed,
        [c for c in columns if c not in fields.values() and c not in names],
        [
            f.name
            for f in kind.all_fields
            if f.required and f.name not in fields and f.name not in columns
        ],
        unmatched_values,
    )
