"""Layer kinds as data: what a layer of each kind holds, read from `kinds/<kind>.toml`.

`kinds/common.toml` lists the fields every layer has; each `kinds/<kind>.toml` a kind's bilingual
labels, the geometry families it may have and its own fields (type, unit, bilingual labels, code
list, `required`, facet and query hints, and `aliases`: the column names provincial files give
it). Admins may put a newer definition of a kind through the API (`kind_versions.py`); such a
definition takes the place of the file's. Upload validation, the sample builder, the README and
`/kinds` all read kinds from here, and nothing else in the code names a kind.

A definition is checked with strict models: a mistake is a message naming the file and the field
(`geo-service kinds`), never a layer validated against half a schema. Files are read again when
they change.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .catalogue import ID_FIELD, LAYER_ID_PATTERN, FieldSpec, FieldType, GeometryFamily
from .definition_files import DefinitionFolders, check_unique
from .errors import InvalidParameter, NotFound, ServiceError
from .i18n import N_, _l, joined, per_language
from .i18n.content import in_further_languages
from .i18n.validation import placed

COMMON_FILE = "common.toml"
FIELD_NAME = r"^[a-z][a-z0-9_]{0,62}$"


class InvalidKinds(ServiceError):
    status = 500
    code = "InvalidKinds"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@in_further_languages("label", min_length=1)
class Code(Strict):
    code: str = Field(min_length=1, max_length=100)
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)


@in_further_languages("label", "description", min_length=1)
class KindField(Strict):
    """One field as a kind defines it: what a layer stores (`FieldSpec`) and how files name it;
    `label_ja|ko|zh` and `description_ja|ko|zh` where given."""

    name: str = Field(pattern=FIELD_NAME)
    type: FieldType
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    unit: str | None = Field(None, min_length=1)
    description_vi: str | None = None
    description_en: str | None = None
    codes: tuple[Code, ...] | None = Field(None, min_length=1, description="the code list")
    required: bool = Field(False, description="every feature must have a value")
    facetable: bool | None = Field(
        None, description="offered as a filter with counts (default: coded, numeric and dates)"
    )
    queryable: bool = Field(True, description="listed in the collection's queryables")
    aliases: tuple[str, ...] = Field(
        (), description="column names files give this field (case and diacritics ignored)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> KindField:
        if self.codes is not None:
            if self.type != "string":
                raise ValueError("a code list belongs to a field of type string")
            check_unique([c.code for c in self.codes], N_("codes used twice: {value}"))
        return self

    def spec(self) -> FieldSpec:
        """The field as a layer's metadata stores it."""
        return FieldSpec.model_validate(self.model_dump(exclude={"aliases"}))


def _unique_names(fields: tuple[KindField, ...]) -> None:
    check_unique([f.name for f in fields], N_("field names used twice: {value}"))


class CommonFields(Strict):
    fields: tuple[KindField, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _checked(self) -> CommonFields:
        _unique_names(self.fields)
        if ID_FIELD not in {f.name for f in self.fields}:
            raise ValueError(f"the common fields must include `{ID_FIELD}`, each feature's id")
        return self


@in_further_languages("label", "description", min_length=1)
class KindDefinition(Strict):
    """A kind as its file (or an admin's PUT) states it; its id is the file's name."""

    id: str | None = Field(None, description="the kind's id; the file's name when left out")
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    description_vi: str = ""
    description_en: str = ""
    geometry: tuple[GeometryFamily, ...] = Field(
        min_length=1, description="the geometry families its layers may have"
    )
    fields: tuple[KindField, ...] = ()

    @model_validator(mode="after")
    def _checked(self) -> KindDefinition:
        if len(set(self.geometry)) != len(self.geometry):
            raise ValueError("geometry lists a family twice")
        _unique_names(self.fields)
        return self


@dataclass(frozen=True)
class Kind:
    id: str
    definition: KindDefinition
    common: tuple[KindField, ...]
    origin: str
    """Where the definition in force comes from: its file, or the admin's version."""
    version: int | None = None
    """The admin's version in force; None for the file's definition."""

    @property
    def all_fields(self) -> tuple[KindField, ...]:
        """The common fields, then the kind's own."""
        return self.common + self.definition.fields

    def fields(self) -> list[FieldSpec]:
        """The schema a layer of this kind stores."""
        return [f.spec() for f in self.all_fields]

    def field(self, name: str) -> KindField | None:
        return next((f for f in self.all_fields if f.name == name), None)

    def document(self) -> dict[str, Any]:
        """The kind as `/kinds` serves it: bilingual, every field with its code list."""
        return {
            "id": self.id,
            "label_vi": self.definition.label_vi,
            "label_en": self.definition.label_en,
            "description_vi": self.definition.description_vi,
            "description_en": self.definition.description_en,
            **per_language(self.definition, "label"),
            **per_language(self.definition, "description"),
            "geometry": list(self.definition.geometry),
            "origin": self.origin,
            "version": self.version,
            "fields": [
                {**f.model_dump(exclude_none=True), "common": f in self.common}
                for f in self.all_fields
            ],
        }


@dataclass(frozen=True)
class Kinds:
    """Every kind in force and the fields they share."""

    common: tuple[KindField, ...]
    kinds: dict[str, Kind]

    def get(self, kind_id: str) -> Kind:
        kind = self.kinds.get(kind_id)
        if kind is None:
            known = ", ".join(sorted(self.kinds))
            raise NotFound(
                _l("kind {kind!r} is unknown; use one of {value}", kind=kind_id, value=known)
            )
        return kind

    def fields_for(self, kind_id: str) -> list[FieldSpec]:
        return self.get(kind_id).fields()

    def check(self, kind_id: str) -> Kind:
        """The kind a layer's metadata names; an unknown one is the client's error (400)."""
        try:
            return self.get(kind_id)
        except NotFound as exc:
            raise InvalidParameter(exc.description) from None

    def replaced(self, kind: Kind) -> Kinds:
        return Kinds(self.common, {**self.kinds, kind.id: kind})


def describe(error: ValidationError, document: Any) -> str:
    """Pydantic's errors as a person reads them: each with its place, fields named by name
    (`fields[2] (crop).codes[0].label_en: required`)."""
    described = []
    for problem in error.errors():
        place, node = "", document
        for part in problem["loc"]:
            if isinstance(part, int):
                place += f"[{part}]"
                node = node[part] if isinstance(node, list | tuple) and part < len(node) else None
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    place += f" ({node['name']})"
            else:
                place += f".{part}" if place else str(part)
                node = node.get(part) if isinstance(node, dict) else None
        described.append(placed(problem, place or "definition"))
    return joined(described)


def kind_from_document(
    kind_id: str, document: dict, common: tuple[KindField, ...], origin: str, version: int | None
) -> Kind:
    """A kind checked from its definition; `ValueError` naming the place of each problem."""
    if not LAYER_ID_PATTERN.fullmatch(kind_id):
        raise ValueError(_l("a kind's id must match {pattern}", pattern=LAYER_ID_PATTERN.pattern))
    if kind_id == Path(COMMON_FILE).stem:
        raise ValueError(_l("{kind!r} names the common fields, not a kind", kind=kind_id))
    try:
        definition = KindDefinition.model_validate(document)
    except ValidationError as exc:
        raise ValueError(describe(exc, document)) from None
    if definition.id is not None and definition.id != kind_id:
        raise ValueError(
            _l("id: {id!r} is not the kind's id {kind!r}", id=definition.id, kind=kind_id)
        )
    shared = {f.name for f in common} & {f.name for f in definition.fields}
    if shared:
        raise ValueError(
            f"fields: {', '.join(sorted(shared))} are common fields already ({COMMON_FILE})"
        )
    return Kind(kind_id, definition, common, origin, version)


def _read_toml(path: Path) -> dict:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def read_kinds(folder: Path) -> tuple[Kinds | None, list[str]]:
    """The kinds defined by the files in `folder`, or None and every problem (file: problem)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None, [f"{folder}: no such folder (GEO_SERVICE_KINDS_DIR)"]
    problems: list[str] = []
    common_path = folder / COMMON_FILE
    common: tuple[KindField, ...] = ()
    try:
        document = _read_toml(common_path)
        common = CommonFields.model_validate(document).fields
    except FileNotFoundError:
        problems.append(f"{COMMON_FILE}: missing (the fields every kind has)")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{COMMON_FILE}: not valid TOML: {exc}")
    except ValidationError as exc:
        problems.append(f"{COMMON_FILE}: {describe(exc, document)}")
    kinds: dict[str, Kind] = {}
    for path in sorted(folder.glob("*.toml")):
        if path.name == COMMON_FILE:
            continue
        try:
            kinds[path.stem] = kind_from_document(
                path.stem, _read_toml(path), common, f"file {path.name}", None
            )
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{path.name}: not valid TOML: {exc}")
        except ValueError as exc:
            problems.append(f"{path.name}: {exc}")
    if not kinds and not problems:
        problems.append(f"{folder}: no kind (<kind>.toml) in it")
    if problems:
        return None, problems
    return Kinds(common, kinds), []


_folders = DefinitionFolders(
    read_kinds,
    lambda problems: InvalidKinds(
        _l(
            "the layer kinds are not valid (run `geo-service kinds`): {problems}",
            problems="; ".join(problems),
        )
    ),
)


def load_kinds(folder: Path) -> Kinds:
    """The kinds the files define, read again only when a file has changed; `InvalidKinds` when
    a definition is wrong."""
    return _folders.load(folder)


def fields_for_kind(kind: str, kinds: Kinds | None = None) -> list[FieldSpec]:
    """The full schema of a layer of this kind: common fields, then the kind's own; from the
    kinds in force where given, else from the files of the settings' kinds folder."""
    if kinds is None:
        from .settings import Settings

        kinds = load_kinds(Settings().kinds_dir)
    if kind not in kinds.kinds:
        raise KeyError(
            _l(
                "unknown layer kind {kind!r}; known: {value}",
                kind=kind,
                value=", ".join(sorted(kinds.kinds)),
            )
        )
    return kinds.fields_for(kind)
