"""Map definitions: which layers a map shows, how each kind looks, which filters it offers.

A definition is a TOML file in the maps directory (`maps/investor.toml` is the default map);
its file name is the map's id, so adding a map is adding a file. Definitions are data, checked
here, so a mistake in one is a clear error naming the file, not a broken page.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import xyzservices
from pydantic import ConfigDict, Field, ValidationError, field_validator

from ..catalogue import LayerMeta, MetadataModel
from ..errors import NotFound, ServiceError
from ..i18n import _l, said
from ..i18n.validation import described

FILTERABLE_TYPES = ("string", "integer", "number", "date")
"""Field types the filter panel has a control for (checkboxes, or a range)."""
MAP_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
DEFAULT_MAP = "investor"


class InvalidMapDefinition(ServiceError):
    status = 500
    code = "InvalidMapDefinition"


class Strict(MetadataModel):
    model_config = ConfigDict(extra="forbid")


class KindStyle(Strict):
    """How every layer of one kind is drawn and where it sits in the layer control."""

    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#c2410c"])
    icon: str = Field(
        pattern=r"^[a-z0-9-]+$", description="a Font Awesome 6 solid icon name, e.g. industry"
    )
    group_vi: str
    group_en: str


class MapLayer(Strict):
    """One collection on the map; anything left out comes from its kind's style."""

    collection: str
    visible: bool = True
    tooltip: list[str] = Field(default_factory=list, description="fields shown on hover")
    filters: list[str] = Field(
        default_factory=list, description="fields offered in the filter panel"
    )
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")
    icon: str | None = Field(None, pattern=r"^[a-z0-9-]+$")

    def field_problem(self, meta: LayerMeta, role: str, name: str) -> str | None:
        """Why the page cannot use field `name` as a `tooltip` or `filters` entry, or None."""
        spec = meta.field(name)
        if spec is None:
            return f"{self.collection}: no field {name!r} ({role})"
        if role == "filters" and spec.type not in FILTERABLE_TYPES:
            return (
                f"{self.collection}: {name!r} is a {spec.type} field, "
                f"not one to filter on ({', '.join(FILTERABLE_TYPES)})"
            )
        return None

    def usable(self, meta: LayerMeta, role: str) -> list[str]:
        """The `tooltip` or `filters` names the page can show for this layer's current version."""
        return [n for n in getattr(self, role) if self.field_problem(meta, role, n) is None]


class MapView(Strict):
    """The view a map opens on: a centre and zoom, or (by default) the province's extent."""

    center: tuple[float, float] | None = Field(None, description="[latitude, longitude]")
    zoom: int | None = Field(None, ge=1, le=19)


class MapDefinition(Strict):
    id: str = ""
    title_vi: str
    title_en: str
    description_vi: str = ""
    description_en: str = ""
    provinces: list[str] = Field(
        default_factory=list,
        description="province codes offered by the place pickers; the map shows only their "
        "sites unless filter_provinces is false",
    )
    filter_provinces: bool = Field(
        True, description="show only the sites of `provinces` (when it names any)"
    )
    view: MapView = Field(default_factory=MapView)
    basemaps: list[str] = Field(
        default_factory=lambda: ["OpenStreetMap.Mapnik", "Esri.WorldImagery"],
        description="xyzservices provider names, the first shown at start",
    )
    all_layers: bool = Field(
        True, description="also show every published layer not listed, styled by its kind"
    )
    rasters: bool = Field(True, description="offer every raster layer as an overlay")
    nearby: list[str] = Field(
        default_factory=list,
        description="layers whose nearest feature (and its distance) a site's card lists",
    )
    max_features: int = Field(
        2000, ge=1, le=20000, description="most sites drawn one by one per layer and view"
    )
    default_style: KindStyle
    kinds: dict[str, KindStyle] = Field(default_factory=dict)
    layers: list[MapLayer] = Field(default_factory=list)

    @field_validator("basemaps")
    @classmethod
    def _known_basemaps(cls, names: list[str]) -> list[str]:
        for name in names:
            try:
                provider = xyzservices.providers.query_name(name)
            except ValueError:
                raise ValueError(
                    _l("unknown basemap {name!r} (an xyzservices name)", name=name)
                ) from None
            if provider.requires_token():
                raise ValueError(_l("basemap {name!r} needs an API key", name=name))
        return names

    def style(self, kind: str) -> KindStyle:
        return self.kinds.get(kind, self.default_style)

    def problems(self, published: dict[str, LayerMeta]) -> tuple[list[str], list[str]]:
        """(errors, notes) against the published layers. The page leaves out what it cannot
        show, so a layer changing under a map never breaks it; `geo-service maps` says why."""
        errors, notes = [], []
        for entry in self.layers:
            meta = published.get(entry.collection)
            if meta is None:
                notes.append(f"layer {entry.collection!r} is not published: left out for now")
                continue
            for role in ("tooltip", "filters"):
                found = (entry.field_problem(meta, role, name) for name in getattr(entry, role))
                errors += [problem for problem in found if problem]
        for layer_id in self.nearby:
            if layer_id not in published:
                notes.append(f"nearby layer {layer_id!r} is not published: left out for now")
        return errors, notes


def map_ids(maps_dir: Path) -> list[str]:
    return sorted(p.stem for p in Path(maps_dir).glob("*.toml") if MAP_ID_PATTERN.fullmatch(p.stem))


def _document(maps_dir: Path, map_id: str, seen: tuple[str, ...] = ()) -> dict:
    """The TOML document of `maps_dir/<map_id>.toml`, with what it takes from the map it names
    in `extends` (recursively): each top-level key it does not give, whole."""
    path = Path(maps_dir) / f"{map_id}.toml"
    if not MAP_ID_PATTERN.fullmatch(map_id) or not path.is_file():
        raise NotFound(
            _l(
                "no map {map_id!r}; maps: {value}",
                map_id=map_id,
                value=", ".join(map_ids(maps_dir)) or "none",
            )
        )
    document = tomllib.loads(path.read_text("utf-8"))
    base = document.pop("extends", None)
    if base is None:
        return document
    if not isinstance(base, str) or base in (*seen, map_id):
        raise ValueError(
            _l(
                "{file}: extends {base!r} must name another map, without a loop",
                file=path.name,
                base=base,
            )
        )
    try:
        inherited = _document(maps_dir, base, (*seen, map_id))
    except NotFound:
        raise ValueError(
            _l("{file}: extends {base!r}, which is not a map here", file=path.name, base=base)
        ) from None
    return {**inherited, **document}


def load_map(maps_dir: Path, map_id: str) -> MapDefinition:
    """The definition `maps_dir/<map_id>.toml`; `NotFound` if there is none. A definition may
    name another in `extends`: it takes every top-level key it does not give from that one
    (`kinds`, `layers` or `view` whole, not merged key by key)."""
    try:
        definition = MapDefinition.model_validate(_document(maps_dir, map_id))
    except (tomllib.TOMLDecodeError, ValidationError, UnicodeDecodeError, ValueError) as exc:
        problem = described(exc) if isinstance(exc, ValidationError) else said(exc)
        raise InvalidMapDefinition(
            _l("map definition {name} is invalid: {exc}", name=f"{map_id}.toml", exc=problem)
        ) from None
    return definition.model_copy(update={"id": map_id})
