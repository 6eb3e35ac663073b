"""What clients send: a project, a dossier event, an enquiry, as checked pydantic documents.

Shape and ranges are checked by the models (unknown members, wrong types, negative or non-finite
numbers, bad ids, dates that cannot be); codes and places against the reference data by
`check_project`, which returns every problem as (field, message) so an API answer and an import
report can both name them. Text is stored NFC.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import shapely
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)
from pyproj import Geod
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ..catalogue import LAYER_ID_PATTERN, DataQuality
from ..errors import InvalidParameter, NotFound, refused
from ..i18n import N_, Lang, _l, said
from ..i18n.content import in_further_languages
from ..i18n.validation import named_pattern, named_problems
from ..places import Commune, UnmatchedPlace, commune_by_code, province_area_ha, resolve_commune
from ..store import Store
from ..text import Text, TextId
from .procedures import CODE, Form, Procedures
from .progress import DATED_KINDS, RECORDED_KINDS, STEP_KINDS, DossierEvent, EventKind

PROJECT_ID = named_pattern(
    r"^[A-Z]{2}-[A-Z0-9]+(?:-[A-Z0-9]+)*$", N_("a project id, such as SL-DA-0001")
)
"""A project's stable id: province prefix, then parts, e.g. SL-DA-0001."""
COMMUNE_CODE = named_pattern(r"^[0-9]{5}$", N_("a commune code of 5 digits, such as 04123"))
EMAIL = named_pattern(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$", N_("an email address"))
ENQUIRY_ID = named_pattern(r"^EQ-[0-9A-F]{12}$", N_("an enquiry id, such as EQ-0A1B2C3D4E5F"))
PHONE = named_pattern(r"^\+?[0-9 ().-]{6,24}$", N_("a phone number, such as +84 212 3456 789"))
GEOMETRY_TYPES = ("Point", "Polygon", "MultiPolygon")
MAX_SITES = 50
_GEOD = Geod(ellps="WGS84")


def text(max_length: int, min_length: int = 0, default: Any = ...) -> Any:
    """A text field: required when it has a minimum length, else empty ("") by default."""
    if default is ... and min_length == 0:
        default = ""
    return Field(default, min_length=min_length, max_length=max_length)


Capital = Annotated[float | None, Field(ge=0, allow_inf_nan=False, description="billion VND")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SiteRef(Strict):
    collection: str = Field(pattern=LAYER_ID_PATTERN.pattern, examples=["industrial_zones"])
    id: TextId = Field(min_length=1, max_length=200, examples=["SL-KCN-MAISON-2"])


@in_further_languages("summary", annotation=Text, max_length=4000)
@in_further_languages("name", annotation=Text, max_length=500)
class ProjectDocument(Strict):
    """A project as an editor writes it (POST body; the result of a merge patch). Its name and
    summary may be given in Japanese, Korean and Chinese too (`name_ja`, `summary_zh`, …);
    readers fall back to English, then Vietnamese."""

    id: str = Field(pattern=PROJECT_ID, max_length=64, examples=["SL-DA-0001"])
    name_vi: Text = text(500, 1)
    name_en: Text = text(500)
    summary_vi: Text = text(4000)
    summary_en: Text = text(4000)
    sector: str | None = Field(None, pattern=CODE)
    investment_form: Form | None = None
    location: dict[str, Any] | None = Field(
        None, description="GeoJSON Point, Polygon or MultiPolygon, WGS 84 longitude/latitude"
    )
    commune_code: str | None = Field(None, pattern=COMMUNE_CODE, description="2025 commune")
    address: Text | None = Field(
        None, max_length=500, description="old or new address; gives commune_code (not stored)"
    )
    sites: list[SiteRef] = Field(default_factory=list, max_length=MAX_SITES)
    area_ha: float | None = Field(None, ge=0, allow_inf_nan=False)
    capital_planned_billion_vnd: Capital = None
    capital_registered_billion_vnd: Capital = None
    capital_disbursed_billion_vnd: Capital = None
    investor: Text | None = text(500, default=None)
    responsible_agency: Text | None = text(500, default=None)
    public_contact: Text | None = text(500, default=None)
    source: Text = text(2000, 1)
    data_quality: DataQuality = "indicative"

    def geometry(self) -> BaseGeometry | None:
        """The location as a shapely geometry (checked by `check_project`)."""
        return None if self.location is None else shape(self.location)


EDITABLE = tuple(f for f in ProjectDocument.model_fields if f not in ("id", "address"))


EARLIEST_DATE = dt.date(1988, 1, 1)
"""No dossier is dated before Viet Nam's first Law on Foreign Investment (1987) took effect: an
earlier date is a slip of the keyboard (0001, 202), which would make a project two thousand
years behind schedule on the dashboard."""


class EventDocument(Strict):
    kind: EventKind
    step: str | None = Field(None, pattern=CODE, description="the procedure step it concerns")
    date: dt.date | None = Field(None, ge=EARLIEST_DATE, description="when it happened")
    planned_date: dt.date | None = Field(
        None, ge=EARLIEST_DATE, description="a step's planned completion"
    )
    document: Text | None = text(500, default=None)
    note: Text = text(4000)
    public: StrictBool = True
    obstacle: StrictBool = Field(
        False, description="a difficulty or obstacle (khó khăn, vướng mắc) for the annual report"
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> EventDocument:
        if self.kind in RECORDED_KINDS:
            raise ValueError(
                _l(
                    "a {kind} event is recorded by the service when the project's investment_form changes (PATCH the project)",
                    kind=self.kind,
                )
            )
        if self.kind in STEP_KINDS and self.step is None:
            raise ValueError(_l("a {kind} event needs `step`", kind=self.kind))
        if self.kind in ("listed", "suspended", "resumed", "revoked") and self.step is not None:
            raise ValueError(_l("a {kind} event concerns the project, not a step", kind=self.kind))
        if self.kind in DATED_KINDS and self.date is None:
            raise ValueError(_l("a {kind} event needs `date`", kind=self.kind))
        if self.planned_date is not None and self.kind not in STEP_KINDS:
            raise ValueError(_l("only step events have a `planned_date`"))
        if self.kind == "note" and not self.note:
            raise ValueError(_l("a note event needs `note`"))
        return self

    def event(self, actor: str) -> DossierEvent:
        return DossierEvent(**self.model_dump(), actor=actor)


EnquiryStatus = Literal["new", "in_progress", "answered", "closed"]


class EnquiryDocument(Strict):
    name: Text = text(200, 1)
    organisation: Text = text(200)
    email: TextId | None = Field(None, max_length=254, pattern=EMAIL)
    phone: str | None = Field(None, pattern=PHONE)
    language: Lang = "vi"
    message: Text = text(4000, 1)
    project: str | None = Field(None, pattern=PROJECT_ID, max_length=64)
    site: SiteRef | None = None
    website: str = Field("", max_length=500, description="leave empty (a trap for robots)")

    @model_validator(mode="after")
    def _reachable(self) -> EnquiryDocument:
        if not self.email and not self.phone:
            raise ValueError(_l("give an email address or a phone number to be answered on"))
        return self


class EnquiryChange(Strict):
    officer: Text | None = text(200, 1, default=None)
    status: EnquiryStatus | None = None
    reply_note: Text | None = text(4000, default=None)


def parse(model: type[BaseModel], document: Any) -> Any:
    """The document as `model`, or a 400 naming every problem."""
    if not isinstance(document, dict):
        raise InvalidParameter(_l("the body must be a JSON object"))
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise refused(named_problems(exc.errors())) from None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: members set, `null` removes, objects merge, the rest replace."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def site_checker(store: Store) -> Callable[[str, str], bool]:
    """Whether a catalogue site (collection, feature id) exists, read through the store."""

    def exists(collection: str, feature_id: str) -> bool:
        try:
            store.feature(collection, feature_id)
        except NotFound:
            return False
        return True

    return exists


@dataclass(frozen=True)
class CheckedProject:
    """A project document whose codes and places hold, ready to store."""

    document: ProjectDocument
    geometry: BaseGeometry | None
    commune_code: str | None


def check_project(
    document: ProjectDocument,
    procedures: Procedures,
    site_exists: Callable[[str, str], bool],
) -> tuple[CheckedProject | None, list[tuple[str, str]]]:
    """Check codes, geometry, commune and linked sites: (the checked project, []) or
    (None, [(field, problem), …])."""
    problems: list[tuple[str, str]] = []
    if document.sector is not None and document.sector not in procedures.sectors:
        problems.append(
            (
                "sector",
                _l(
                    "unknown sector {sector!r} ({sectors})",
                    sector=document.sector,
                    sectors=", ".join(procedures.sectors),
                ),
            )
        )
    geometry = _geometry(document.location, problems)
    commune = _commune(document, problems)
    if geometry is not None and commune is not None:
        _near_commune(geometry, commune, problems)
    if commune is not None and document.area_ha is not None:
        _within_province(document.area_ha, commune, problems)
    for site in document.sites:
        if not site_exists(site.collection, site.id):
            problems.append(
                (
                    "sites",
                    _l(
                        "no site {collection}/{id} in the catalogue",
                        collection=site.collection,
                        id=site.id,
                    ),
                )
            )
    if problems:
        return None, problems
    return CheckedProject(document, geometry, None if commune is None else commune.code), []


def _geometry(location: dict | None, problems: list) -> BaseGeometry | None:
    if location is None:
        return None
    if location.get("type") not in GEOMETRY_TYPES:
        expected = ", ".join(GEOMETRY_TYPES)
        problems.append(("location", _l("a GeoJSON {types} is expected", types=expected)))
        return None
    try:
        geometry = shape(location)
    except Exception as exc:  # shapely raises several kinds on malformed coordinates
        problems.append(("location", _l("not a valid GeoJSON geometry: {exc}", exc=exc)))
        return None
    if geometry.is_empty or not shapely.is_valid(geometry):
        reason = shapely.is_valid_reason(geometry) if not geometry.is_empty else "empty"
        problems.append(("location", _l("invalid geometry: {reason}", reason=reason)))
        return None
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90) or not all(
        map(math.isfinite, geometry.bounds)
    ):
        problems.append(("location", _l("coordinates must be WGS 84 longitude, latitude")))
        return None
    if shapely.has_z(geometry):
        geometry = shapely.force_2d(geometry)
    return geometry


def _commune(document: ProjectDocument, problems: list):
    commune = None
    if document.commune_code is not None:
        try:
            commune = commune_by_code(document.commune_code)
        except UnmatchedPlace as exc:
            problems.append(("commune_code", said(exc)))
            return None
    if document.address:
        try:
            found = resolve_commune(document.address)
        except UnmatchedPlace as exc:
            problems.append(("address", said(exc)))
            return None
        if commune is not None and found.code != commune.code:
            problems.append(
                (
                    "address",
                    _l(
                        "the address is in {found} ({found_code}), "
                        "not commune_code {code} ({name})",
                        found=found.name,
                        found_code=found.code,
                        code=commune.code,
                        name=commune.name,
                    ),
                )
            )
            return None
        commune = found
    return commune


def _within_province(area_ha: float, commune: Commune, problems: list) -> None:
    """No project is larger than its whole province: a larger area is a slipped unit or
    decimal point."""
    province_ha = province_area_ha(commune.province_code)
    if province_ha is not None and area_ha > province_ha:
        problems.append(
            (
                "area_ha",
                _l(
                    "{area:,.0f} ha is more than the whole of {province} ({whole:,.0f} ha)",
                    area=area_ha,
                    province=commune.province_name,
                    whole=province_ha,
                ),
            )
        )


def _near_commune(geometry: BaseGeometry, commune, problems: list) -> None:
    """The location must lie near its commune: within twice the commune's equivalent radius
    plus 10 km of its centre (the 2025 units come with centres and areas, not boundaries)."""
    point = geometry.representative_point()
    _, _, metres = _GEOD.inv(commune.lon, commune.lat, point.x, point.y)
    radius_km = math.sqrt((commune.area_km2 or 100.0) / math.pi)
    limit_km = 2 * radius_km + 10
    if metres / 1000 > limit_km:
        problems.append(
            (
                "location",
                _l(
                    "the location is {km:.0f} km from the centre of {name} ({code}), farther "
                    "than {limit:.0f} km: wrong commune or coordinates",
                    km=metres / 1000,
                    name=commune.name,
                    code=commune.code,
                    limit=limit_km,
                ),
            )
        )
