"""Generate the synthetic parcel layer for the benchmarks (marked synthetic, never committed).

    python benchmarks/make_parcels.py [--count 1000000] [--data-dir benchmarks/data]
    python benchmarks/make_parcels.py --database-url postgresql+psycopg://… [--count 10000000]
    python benchmarks/make_parcels.py --few-fields --data-dir benchmarks/data/few

Parcels are small irregular quadrilaterals (about 0.1–5 ha) scattered over Sơn La, each with
the catalogue's common fields and the land-auction-plot fields, at its nearest 2025 commune.
Deterministic: the same count gives the same layer. Published through the service's own store:
the GeoPackage store of `--data-dir`, or with `--database-url` the PostGIS store, which loads
them in parts of `--batch` parcels (the first part is the whole layer up to that size, so 1M
parcels are the same in both stores). `--few-fields` keeps only `FEW_FIELDS` of them (the same
parcels, 8 properties instead of 30): what a peer's cost per property is measured with.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geo_service.catalogue import LayerMeta
from geo_service.kinds import fields_for_kind
from geo_service.places import communes_of_province
from geo_service.records import Records, upgrade
from geo_service.store.gpkg import GeoPackageStore
from geo_service.store.postgis import PostGISStore

LAYER_ID = "parcels"
STATUSES = np.array(["planned", "calling_investment", "operating", "upcoming_auction", "auctioned"])
PURPOSES = np.array(["residential", "commercial_service", "production_business", "agriculture"])
BOUNDS = (103.2, 20.6, 105.0, 22.0)
SEED = 20251
FEW_FIELDS = (
    "code", "name_vi", "name_en", "commune_code", "status", "area_ha", "land_use_purpose",
    "starting_price_million_vnd",
)  # fmt: skip


def parcel_code(number: int) -> str:
    """The unique code of parcel `number` (0-based), e.g. SYN-000000123."""
    return f"SYN-{number:09d}"


def parcel_meta(only: tuple[str, ...] | None = None) -> LayerMeta:
    """The layer's metadata: every field of a land-auction plot, or `only` those named."""
    fields = fields_for_kind("land_auction_plot")
    return LayerMeta(
        id=LAYER_ID,
        title_vi="Thửa đất mô phỏng (dữ liệu benchmark)",
        title_en="Synthetic parcels (benchmark data)",
        description_vi="Dữ liệu sinh ngẫu nhiên để đo hiệu năng; không phải thông tin thật.",
        description_en="Randomly generated to measure performance; not real information.",
        kind="land_auction_plot",
        geometry_type="polygon",
        fields=[f for f in fields if only is None or f.name in only],
        source="synthetic benchmark data",
        licence="CC0",
        updated="2026-11-23",
        data_quality="synthetic_demo",
        provinces=["14"],
    )


def parcels(count: int, seed: int = SEED, part: int = 0, start: int = 0) -> gpd.GeoDataFrame:
    """`count` parcels numbered from `start`; parts after the first draw from a seed of their
    own."""
    rng = np.random.default_rng(seed if part == 0 else [seed, part])
    minx, miny, maxx, maxy = BOUNDS
    margin = 0.002  # degrees: a parcel is at most about 300 m across, so all stay in BOUNDS
    cx = rng.uniform(minx + margin, maxx - margin, count)
    cy = rng.uniform(miny + margin, maxy - margin, count)
    # A unit square around the centre, corners jittered by up to 20 % of the side (each corner
    # stays in its own quadrant, so the quadrilateral is simple), then scaled in metres to a
    # log-uniform target area of 0.1–5 ha (a little margin for the projection's scale).
    unit = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    shape = unit[None, :, :] + rng.uniform(-0.2, 0.2, (count, 4, 2))
    x, y = shape[:, :, 0], shape[:, :, 1]
    unit_area = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, 1))
    hectares = np.exp(rng.uniform(np.log(0.102), np.log(4.9), count))
    scale_m = np.sqrt(hectares * 10_000 / unit_area)
    metres_per_degree_lon = 111_320 * np.cos(np.radians(cy))
    corners = np.empty_like(shape)
    corners[:, :, 0] = cx[:, None] + shape[:, :, 0] * (scale_m / metres_per_degree_lon)[:, None]
    corners[:, :, 1] = cy[:, None] + shape[:, :, 1] * (scale_m / 110_574)[:, None]
    rings = np.concatenate([corners, corners[:, :1, :]], axis=1)
    geometries = shapely.polygons(rings)

    communes = communes_of_province("14")
    tree = shapely.STRtree([shapely.Point(c.lon, c.lat) for c in communes])
    _, nearest = tree.query_nearest(
        shapely.points(cx, cy), return_distance=False, all_matches=False
    )
    commune_codes = np.array([c.code for c in communes])[nearest]
    commune_names = np.array([c.name for c in communes])[nearest]

    numbers = np.arange(start, start + count)
    frame = gpd.GeoDataFrame(
        {
            "code": [parcel_code(n) for n in numbers],
            "name_vi": [f"Thửa đất mô phỏng {n}" for n in numbers],
            "name_en": [f"Synthetic parcel {n}" for n in numbers],
            "province_code": "14",
            "commune_code": commune_codes,
            "commune_name": commune_names,
            "status": STATUSES[rng.integers(0, len(STATUSES), count)],
            "source": "synthetic benchmark data",
            "data_quality": "synthetic_demo",
            "updated_at": np.datetime_as_string(
                np.datetime64("2025-01-01") + rng.integers(0, 700, count), unit="D"
            ),
            "land_use_purpose": PURPOSES[rng.integers(0, len(PURPOSES), count)],
            "starting_price_million_vnd": np.round(rng.uniform(100, 50_000, count), -1),
            "auction_date": None,
        },
        geometry=geometries,
        crs="EPSG:4326",
    )
    frame["area_ha"] = np.round(frame.geometry.to_crs("EPSG:9206").area / 10_000, 4)
    frame["geometry_quality"] = "surveyed"  # synthetic all the same: drawn, not placeholders
    for spec in parcel_meta().fields:  # the kind's other fields (investor facts …) stay empty
        if spec.name not in frame:
            frame[spec.name] = None
    return frame


def parts(count: int, seed: int, batch: int, timer: dict[str, float]):
    """The parcels in parts of at most `batch`, the time spent generating them in `timer`."""
    for part, start in enumerate(range(0, count, batch)):
        began = time.perf_counter()
        frame = parcels(min(batch, count - start), seed, part, start)
        timer["generating"] += time.perf_counter() - began
        yield frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--database-url", help="publish into the PostGIS store of this database")
    parser.add_argument("--batch", type=int, default=1_000_000, help="parcels per part (PostGIS)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--few-fields", action="store_true", help="only FEW_FIELDS (8 of 30)")
    args = parser.parse_args()
    meta = parcel_meta(FEW_FIELDS if args.few_fields else None)
    columns = [f.name for f in meta.fields] + ["geometry"]
    timer = {"generating": 0.0}
    started = time.perf_counter()
    if args.database_url:
        records = Records(args.database_url)
        upgrade(records)
        records.dispose()
        store = PostGISStore(args.database_url)
        frames = (part[columns] for part in parts(args.count, args.seed, args.batch, timer))
        version = store.publish_frames(meta, frames, z=False)
        store.dispose()
    else:
        frame = parcels(args.count, args.seed)[columns]
        timer["generating"] = time.perf_counter() - started
        version = GeoPackageStore(args.data_dir).publish(meta, frame)
    loading = time.perf_counter() - started - timer["generating"]
    print(
        f"{args.count:,} parcels generated in {timer['generating']:.1f} s, published in "
        f"{loading:.1f} s (generation excluded): {meta.id} version {version}"
    )


if __name__ == "__main__":
    main()
