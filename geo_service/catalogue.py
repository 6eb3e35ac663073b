"""Layer metadata: what a layer is, in Vietnamese and English (and, where given, Japanese,
Korean and Chinese), and the schema of its fields.

The metadata is stored inside each layer's GeoPackage, so it travels and versions with the data.
The API, the map and the exports read titles, labels, units and code lists from here.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .i18n import N_, _l
from .i18n.content import in_further_languages
from .i18n.validation import named_pattern

FieldType = Literal["string", "integer", "number", "date", "datetime", "boolean"]
GeometryFamily = Literal["point", "line", "polygon"]
DataQuality = Literal["authoritative", "indicative", "synthetic_demo"]

LAYER_ID_PATTERN = re.compile(
    named_pattern(
        r"^[a-z][a-z0-9_]{0,62}$",
        N_("lower-case letters, digits and _ (at most 63), beginning with a letter"),
    )
)
ID_FIELD = "code"
"""Every layer's stable feature id lives in this text column."""


class MetadataModel(BaseModel):
    """Metadata we store and serve: every number finite (JSON has no NaN or Infinity, and one
    stored would break every later reader of the file)."""

    model_config = ConfigDict(allow_inf_nan=False)


@in_further_languages("label")
class CodedValue(MetadataModel):
    """A code and its label in Vietnamese and English, and `label_ja|ko|zh` where given."""

    code: str
    label_vi: str
    label_en: str


@in_further_languages("label", "description")
class FieldSpec(MetadataModel):
    """A field's schema; `label_ja|ko|zh` and `description_ja|ko|zh` where given."""

    name: str
    type: FieldType
    label_vi: str
    label_en: str
    unit: str | None = None
    codes: list[CodedValue] | None = None
    description_vi: str | None = None
    description_en: str | None = None
    required: bool = False
    """Every feature has a value (the layer's kind says so)."""
    facetable: bool | None = None
    """Offered as a filter with counts; None: by its type (`offered_as_filter`)."""
    queryable: bool = True
    """Listed in the collection's queryables."""

    @property
    def offered_as_filter(self) -> bool:
        """Whether the map offers it as a filter: as its kind says, else when it is coded, or a
        number or date that is not a code."""
        if self.facetable is not None:
            return self.facetable
        return bool(self.codes) or (
            self.type in ("integer", "number", "date") and not self.name.endswith("_code")
        )

    def code_labels(self) -> dict[str, CodedValue]:
        return {c.code: c for c in self.codes or []}


@in_further_languages("title", "description")
class LayerMeta(MetadataModel):
    """`title_ja|ko|zh` and `description_ja|ko|zh` where given; readers fall back to English,
    then Vietnamese (`i18n.localized`)."""

    id: str
    title_vi: str
    title_en: str
    description_vi: str = ""
    description_en: str = ""
    kind: str = "other"
    geometry_type: GeometryFamily
    fields: list[FieldSpec]
    source: str = ""
    licence: str = ""
    updated: str = Field(description="ISO date of the last change to the data")
    data_quality: DataQuality = "indicative"
    provinces: list[str] = Field(default_factory=list, description="province codes")
    version: int = 1

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not LAYER_ID_PATTERN.fullmatch(value):
            raise ValueError(
                _l(
                    "layer id {value!r} must match {pattern}",
                    value=value,
                    pattern=LAYER_ID_PATTERN.pattern,
                )
            )
        return value

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]
