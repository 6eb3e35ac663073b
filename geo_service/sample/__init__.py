"""The sample catalogue: Sơn La's named sites plus the peer provinces' zones, honestly placed.

Each site sits at its real 2025 commune (old addresses converted with `vietnamadminunits`)
with an indicative shape sized to its published area, or a small nominal shape and an empty
`area_ha` when no area is published. The sources are the JSON files beside this module.
Land-auction plots have no public source offline: they are generated and marked synthetic.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from ..analysis.proximity import centred_metres
from ..catalogue import LayerMeta
from ..facts import fact_names, with_facts
from ..kinds import fields_for_kind
from ..layer_frame import records_to_frame
from ..places import Commune, communes_of_province, province_centre, resolve_commune
from ..store import Store
from ..text import unaccent
from .citations import cite
from .derived import logistics_distance

SAMPLE_DATE = "2026-11-23"
PROVINCES = {"14": "Sơn La", "22": "Quảng Ninh", "08": "Tuyên Quang"}
NOMINAL_RADIUS_M = 250.0
"""Radius of the placeholder drawn for a site whose area is not published (it gives no area)."""
ADMIN_SOURCE = "vietnamadminunits (MIT): 2025 administrative units, centroids and areas"


def source_files() -> list[Path]:
    folder = resources.files(__package__) / "sources"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".json"))


def build_sample(data_dir: Path, store: Store | None = None) -> list[LayerMeta]:
    """Publish every sample layer into `store` (by default the GeoPackage store of `data_dir`),
    each as a new version, and write the raster derived from them (`derived.logistics_distance`)
    into `data_dir`. Layers with investor facts are published last, so that their distances are
    computed from the others."""
    if store is None:
        from ..store.gpkg import GeoPackageStore

        store = GeoPackageStore(data_dir)
    layers = [_layer_from_source(json.loads(p.read_text(encoding="utf-8"))) for p in source_files()]
    layers += [_communes_layer(), _auction_plots_layer()]
    layers.sort(key=lambda layer: bool(fact_names(layer[0].fields)))
    built = []
    for meta, records, geometries in layers:
        built.append(_publish(store, meta, records, geometries))
        if meta.id == "logistics_trade":
            logistics_distance(data_dir, records, geometries)
    return built


def _publish(
    store: Store, meta: LayerMeta, records: list[dict], geometries: list[BaseGeometry]
) -> LayerMeta:
    store.publish(meta, with_facts(store, meta, records_to_frame(meta, records, geometries)))
    return meta


def _layer_meta(block: dict[str, Any], provinces: list[str]) -> LayerMeta:
    block = {**block, "source": cite(block["source"]).vi}
    return LayerMeta(**block, fields=fields_for_kind(block["kind"]), provinces=provinces)


def _layer_from_source(document: dict) -> tuple[LayerMeta, list[dict], list[BaseGeometry]]:
    block = document["layer"]
    records, geometries = [], []
    for site in document["sites"]:
        place = _place(site)
        geometry, quality = _geometry(block["geometry_type"], place, site.get("area_ha"))
        citation = cite(site["source"])
        geometries.append(geometry)
        records.append(
            {
                **site.get("attributes", {}),
                "code": site["code"],
                "name_vi": site["name_vi"],
                "name_en": site["name_en"],
                "province_code": place.province_code,
                "commune_code": place.commune_code,
                "commune_name": place.commune_name,
                "status": site["status"],
                "status_note": site.get("status_note"),
                "area_ha": site.get("area_ha") if quality != "placeholder" else None,
                "source": citation.vi,
                "source_en": citation.en,
                "data_quality": site.get("data_quality", "indicative"),
                "geometry_quality": quality,
                "updated_at": citation.date,
            }
        )
    provinces = sorted({r["province_code"] for r in records})
    return _layer_meta(block, provinces), records, geometries


@dataclass(frozen=True)
class Place:
    """Where a sample site is put: a commune's centre shifted by `offset_km`, or (when the
    documents name no commune) the province's centre."""

    point: Point
    province_code: str
    commune_code: str | None
    commune_name: str | None
    at_centre: bool
    """The point is an administrative unit's centre, unshifted."""


def _place(site: dict) -> Place:
    if "address" not in site:
        lon, lat, _ = province_centre(site["province_code"])
        return Place(Point(lon, lat), site["province_code"], None, None, True)
    commune = resolve_commune(site["address"])
    east, north = site.get("offset_km", (0.0, 0.0))
    return Place(
        _shifted(commune, east, north), commune.province_code, commune.code, commune.name,
        east == 0 and north == 0,
    )  # fmt: skip


def _geometry(family: str, place: Place, area_ha: float | None) -> tuple[BaseGeometry, str]:
    """The site's geometry and its `geometry_quality`: a point is a unit's centre (`centroid`)
    or a shifted one (`indicative`); an area is a shape of its published area (`indicative`),
    or a placeholder circle that gives no area (`placeholder`)."""
    if family == "point":
        return place.point, "centroid" if place.at_centre else "indicative"
    if area_ha:
        return _indicative_polygon(place.point, area_ha), "indicative"
    return _indicative_polygon(place.point, None), "placeholder"


def _shifted(commune: Commune, east_km: float, north_km: float) -> Point:
    lat = commune.lat + north_km / 110.574
    lon = commune.lon + east_km / (111.320 * math.cos(math.radians(commune.lat)))
    return Point(lon, lat)


def _indicative_polygon(centre: Point, area_ha: float | None, sides: int = 12) -> Polygon:
    """A regular polygon of `area_ha` (or nominal size) around `centre`, drawn in metres."""
    if area_ha:
        radius = math.sqrt(area_ha * 10_000 * 2 / (sides * math.sin(2 * math.pi / sides)))
    else:
        radius = NOMINAL_RADIUS_M
    angles = [2 * math.pi * k / sides for k in range(sides)]
    lons, lats = centred_metres(centre.x, centre.y).transform(
        [radius * math.cos(a) for a in angles],
        [radius * math.sin(a) for a in angles],
        direction="INVERSE",
    )
    return Polygon(zip(lons, lats, strict=True))


def _communes_layer() -> tuple[LayerMeta, list[dict], list[BaseGeometry]]:
    meta = LayerMeta(
        id="communes",
        title_vi="Xã, phường (đơn vị hành chính 2025)",
        title_en="Communes and wards (2025 administrative units)",
        description_vi="Mọi xã, phường từ 1/7/2025 của "
        + ", ".join(PROVINCES.values())
        + "; điểm là tâm của đơn vị, diện tích theo vietnamadminunits.",
        description_en="Every commune and ward since 1 July 2025 in Son La, Quang Ninh and "
        "Tuyen Quang; each point is the unit's centre, area from vietnamadminunits.",
        kind="commune",
        geometry_type="point",
        fields=fields_for_kind("commune"),
        source=ADMIN_SOURCE,
        licence="MIT (vietnamadminunits)",
        updated=SAMPLE_DATE,
        data_quality="authoritative",
        provinces=list(PROVINCES),
    )
    communes = [c for code in PROVINCES for c in communes_of_province(code)]
    records = [
        {
            "code": c.code,
            "name_vi": c.name,
            "name_en": _english_unit_name(c),
            "province_code": c.province_code,
            "province_name": c.province_name,
            "commune_code": c.code,
            "commune_name": c.name,
            "status": "active",
            "area_ha": None if c.area_km2 is None else round(c.area_km2 * 100, 1),
            "unit_type": c.unit_type,
            "source": ADMIN_SOURCE,
            "data_quality": "authoritative",
            "geometry_quality": "centroid",
            "updated_at": "2025-07-01",
        }
        for c in communes
    ]
    return meta, records, [Point(c.lon, c.lat) for c in communes]


def _english_unit_name(commune: Commune) -> str:
    prefix = {"commune": "Xã ", "ward": "Phường ", "special_zone": "Đặc khu "}[commune.unit_type]
    bare = commune.name.removeprefix(prefix)
    suffix = {"commune": "Commune", "ward": "Ward", "special_zone": "Special Zone"}
    return f"{unaccent(bare)} {suffix[commune.unit_type]}"


_PURPOSES = ["residential", "commercial_service", "production_business", "agriculture"]
_PURPOSE_VI = {
    "residential": "đất ở",
    "commercial_service": "đất thương mại, dịch vụ",
    "production_business": "đất sản xuất, kinh doanh",
    "agriculture": "đất nông nghiệp",
}


def _auction_plots_layer(count: int = 48) -> tuple[LayerMeta, list[dict], list[BaseGeometry]]:
    """Plausible demo plots at real Sơn La communes, generated with a fixed seed."""
    meta = LayerMeta(
        id="land_auction_plots",
        title_vi="Thửa đất đấu giá quyền sử dụng đất (dữ liệu mô phỏng)",
        title_en="Land-use-right auction plots (synthetic demo data)",
        description_vi="Không có danh sách công khai ngoại tuyến: các thửa đất này được sinh ngẫu "
        "nhiên để minh họa, không phải thông tin đấu giá thật.",
        description_en="No public list is available offline: these plots are generated for "
        "demonstration and are not real auction information.",
        kind="land_auction_plot",
        geometry_type="polygon",
        fields=fields_for_kind("land_auction_plot"),
        source="synthetic demo data generated by geo-service sample",
        licence="CC0",
        updated=SAMPLE_DATE,
        data_quality="synthetic_demo",
        provinces=["14"],
    )
    rng = random.Random(2025)
    communes = communes_of_province("14")
    records, geometries = [], []
    for number, commune in zip(range(1, count + 1), _cycle_sample(rng, communes), strict=False):
        purpose = rng.choice(_PURPOSES)
        area_ha = round(rng.uniform(0.05, 4.0), 2)
        centre = _shifted(commune, rng.uniform(-2, 2), rng.uniform(-2, 2))
        geometries.append(_indicative_polygon(centre, area_ha, sides=4))
        auctioned = rng.random() < 0.3
        records.append(
            {
                "code": f"SL-DG-DEMO-{number:03d}",
                "name_vi": f"Thửa đất mô phỏng {number:03d} ({_PURPOSE_VI[purpose]})",
                "name_en": f"Demo plot {number:03d} ({purpose.replace('_', ' ')})",
                "province_code": commune.province_code,
                "commune_code": commune.code,
                "commune_name": commune.name,
                "status": "auctioned" if auctioned else "upcoming_auction",
                "area_ha": area_ha,
                "source": meta.source,
                "data_quality": "synthetic_demo",
                "geometry_quality": "indicative",
                "updated_at": SAMPLE_DATE,
                "land_use_purpose": purpose,
                "starting_price_million_vnd": round(area_ha * rng.uniform(800, 6000), -1),
                "auction_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                if auctioned
                else f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            }
        )
    return meta, records, geometries


def _cycle_sample(rng: random.Random, items: list[Commune]) -> Iterator[Commune]:
    while True:
        yield rng.choice(items)
