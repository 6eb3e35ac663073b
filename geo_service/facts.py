"""Investor facts: which facts a site should carry, the distances computed from the catalogue's
own layers, and how complete a site's facts are.

A kind carries investor facts when its file (`kinds/<kind>.toml`) gives it `completeness_pct`;
its facts are those of the names below that it gives (an auction plot, sold whole, has no free
land or lease). Their labels, units and code lists are the kind's.

Stated facts (free land, lease price and term, incentive area, utilities) come from documents
and are never computed. Distances are: from the site to the nearest feature of a target type
in any published layer (national roads, airports, border gates) or to a fixed place (Hà Nội),
on the WGS 84 ellipsoid (`analysis.proximity`). A distance the layer already states is kept;
one with no target in the catalogue stays empty. `completeness_pct` is the share of the kind's
facts that are known, stored with the feature so that it filters and facets like any field.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from .analysis.proximity import distances, nearest
from .catalogue import FieldSpec, LayerMeta
from .errors import LayerUnavailable, NotFound
from .places import communes_of_province
from .query import And, Comparison, IsNull, Literal, Property, Query
from .store import Feature, Store

STATED_FACTS = (
    "free_land_ha",
    "lease_price_vnd_m2_year",
    "lease_term",
    "incentive_area",
    "power_capacity_mva",
    "water_capacity_m3_day",
    "wastewater_capacity_m3_day",
)
"""Facts only a document gives (`facts_source` says which): never computed."""
COMPLETENESS = "completeness_pct"
"""The share of a site's facts that are known; a kind with this field carries investor facts."""
NOT_BUILT = {"planned", "calling_investment", "under_construction"}
"""Statuses of a target that exists on paper only: its distances say so."""
HANOI_WARD = "Phường Hoàn Kiếm"
"""Distances to Hà Nội are to the centre of this ward (vietnamadminunits), the city's core."""


@dataclass(frozen=True)
class DistanceTarget:
    field: str
    label_vi: str
    label_en: str
    matches: tuple[tuple[str, str], ...] = ()
    """(field, value) pairs a target feature has, in whichever published layer holds the field."""


DISTANCE_TARGETS = (
    DistanceTarget("dist_national_road_km", "quốc lộ", "national road",
                   (("transport_type", "national_road"),)),
    DistanceTarget("dist_airport_km", "sân bay", "airport", (("transport_type", "airport"),)),
    DistanceTarget("dist_border_gate_km", "cửa khẩu", "border gate",
                   (("facility_type", "border_gate"), ("transport_type", "border_gate"))),
    DistanceTarget("dist_hanoi_km", "Hà Nội", "Hà Nội"),
)  # fmt: skip
DISTANCE_NAMES = [t.field for t in DISTANCE_TARGETS]


def fact_names(fields: Iterable[FieldSpec]) -> list[str]:
    """The facts a site with these fields should carry (those its completeness counts); none
    for fields without `completeness_pct`."""
    given = {f.name for f in fields}
    if COMPLETENESS not in given:
        return []
    return [n for n in (*STATED_FACTS, *DISTANCE_NAMES) if n in given]


def known(value: object) -> bool:
    if value is None or value is pd.NA:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return value != ""


def completeness(names: list[str], properties: dict) -> float | None:
    """The percentage (0–100, whole) of the facts `names` known in `properties`."""
    if not names:
        return None
    return float(round(100 * sum(known(properties.get(n)) for n in names) / len(names)))


@lru_cache(maxsize=1)
def hanoi_centre() -> Point:
    ward = next(c for c in communes_of_province("01") if c.name == HANOI_WARD)
    return Point(ward.lon, ward.lat)


@dataclass(frozen=True)
class Found:
    metres: float
    name: str
    status: str | None


def _nearest_target(
    store: Store,
    layers: list[LayerMeta],
    site: BaseGeometry,
    province: str | None,
    target: DistanceTarget,
) -> Found | None:
    if not target.matches:
        hanoi = Feature(HANOI_WARD, shapely.to_wkb(hanoi_centre()), {})
        (near,) = distances(site, [hanoi])
        return Found(near.distance_m, f"{HANOI_WARD}, Hà Nội", "active")
    best = None
    for meta in layers:
        for field, value in target.matches:
            if meta.field(field) is None:
                continue
            if province is None or meta.field("province_code") is None:
                continue
            wanted = And(
                (
                    Comparison("=", Property(field), Literal(value)),
                    Comparison("=", Property("province_code"), Literal(province)),
                )
            )
            props = ("name_vi", "status") if meta.field("status") else ("name_vi",)
            with contextlib.suppress(NotFound, LayerUnavailable):
                for near in nearest(store, site, meta.id, 1, wanted, properties=props):
                    if best is None or near.distance_m < best.metres:
                        name = near.properties.get("name_vi") or near.id
                        best = Found(near.distance_m, name, near.properties.get("status"))
    return best


def target_state(status: str | None) -> str:
    """What a distance to a target of this status must say: nothing for one in service, that it
    is planned and not built, or that its state is not known."""
    if status in ("operating", "active"):
        return ""
    if status in NOT_BUILT:
        return " (quy hoạch, chưa xây dựng / planned, not built)"
    return " (hiện trạng chưa rõ / status not stated)"


def round_km(metres: float) -> float:
    """Kilometres with the precision a straight-line distance between indicative places has:
    0.1 km under 10 km, whole kilometres beyond."""
    km = metres / 1000
    return round(km, 1) if km < 10 else float(round(km))


def distance_facts(
    store: Store, layers: list[LayerMeta], site: BaseGeometry, province: str | None
) -> tuple[dict[str, float], str]:
    """Each computable distance (km) from `site`, and a note saying how and to what. Targets
    are looked for in the site's own province only: the catalogue covers provinces one by one,
    and a target in another could be far from the nearest one there is."""
    values, notes = {}, []
    for target in DISTANCE_TARGETS:
        found = _nearest_target(store, layers, site, province, target)
        if found is None:
            continue
        values[target.field] = round_km(found.metres)
        notes.append(
            f"{target.label_vi} / {target.label_en}: {found.name}{target_state(found.status)}"
        )
    if not notes:
        return values, ""
    how = ("Khoảng cách đường chim bay trên ellipsoid WGS 84, tính từ các lớp của danh mục / "
           "straight-line distance on the WGS 84 ellipsoid, computed from the catalogue's layers")  # fmt: skip
    return values, f"{how}: " + "; ".join(notes)


def with_completeness(fields: Iterable[FieldSpec], properties: dict) -> dict:
    """`properties` (one site's, as an editor changed them) with `completeness_pct` counted
    again; unchanged for fields without investor facts. Distances are not computed here: an
    edit keeps the ones it gives."""
    names = fact_names(fields)
    if not names:
        return properties
    return {**properties, COMPLETENESS: completeness(names, properties)}


def with_facts(store: Store, meta: LayerMeta, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """`frame` (a layer about to be published) with its empty distances computed from the
    store's published layers and every site's completeness; unchanged for other kinds."""
    names = fact_names(meta.fields)
    if not names or COMPLETENESS not in frame:
        return frame
    frame = frame.copy()
    layers = [m for m in store.layers() if m.id != meta.id]
    for index, geometry in zip(frame.index, frame.geometry, strict=True):
        if geometry is None or geometry.is_empty:
            continue
        missing = [n for n in DISTANCE_NAMES if n in frame and not known(frame.at[index, n])]
        if missing:
            province = frame.at[index, "province_code"] if "province_code" in frame else None
            values, note = distance_facts(store, layers, geometry, province or None)
            for name in missing:
                if name in values:
                    frame.at[index, name] = values[name]
            if (
                note
                and "distances_source" in frame
                and not known(frame.at[index, "distances_source"])
            ):
                frame.at[index, "distances_source"] = note
    frame[COMPLETENESS] = [
        completeness(names, row) for row in frame.drop(columns="geometry").to_dict("records")
    ]
    return frame


def completeness_report(
    store: Store, layer_ids: list[str] | None = None, limit: int = 100
) -> list[dict]:
    """Per layer with investor facts: how many sites, and for each fact how many lack it and
    which (up to `limit` each), counted by the store's own filter (never a whole-layer read)."""
    report = []
    for meta in store.layers():
        names = fact_names(meta.fields)
        if not names or (layer_ids and meta.id not in layer_ids):
            continue
        total = store.query(meta.id, Query(limit=0)).number_matched
        facts = []
        for name in names:
            spec = meta.field(name)
            page = store.query(
                meta.id,
                Query(filter=IsNull(Property(name)), properties=("name_vi",), limit=limit),
            )
            facts.append(
                {
                    "fact": name,
                    "label_vi": spec.label_vi,
                    "label_en": spec.label_en,
                    "missing": page.number_matched,
                    "sites": [
                        {"id": f.id, "name_vi": f.properties.get("name_vi")} for f in page.features
                    ],
                }
            )
        report.append(
            {
                "layer": meta.id,
                "title_vi": meta.title_vi,
                "title_en": meta.title_en,
                "sites": total,
                "facts": facts,
            }
        )
    return report
