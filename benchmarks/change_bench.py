"""One changed feature of the 1,000,000-parcel layer published as a new version (PostGIS store).

    python benchmarks/change_bench.py [--database-url URL] [--changes 20]

On the parcels `make_parcels.py --database-url` published: each round applies a change set of
one feature (an update of its price, a move of its geometry, or a deletion), published at once,
through `PostGISStore.apply_changes`; the time from the call to its return (the transaction
committed), then the time of the first page and first count a reader gets of the new version.
It adds `--changes` versions to the layer: run it on a database of its own (a copy of the
benchmark's: `createdb -T bench bench_changes`), so that the other benchmarks read a layer as
published.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

import shapely
import shapely.affinity
from make_parcels import LAYER_ID, parcel_code

from geo_service.query import Comparison, Literal, Property, Query
from geo_service.store.changes import FeatureChange
from geo_service.store.postgis import PostGISStore

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    url = (
        args.database_url
        or subprocess.run(
            ["bash", str(HERE / "postgres.sh"), "url"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    store = PostGISStore(url)
    features = store.query(LAYER_ID, Query(limit=0)).number_matched
    applied, first_reads = [], []
    for n in range(args.changes):
        code = parcel_code((n * 7919) % features)
        kind = ("update", "move", "delete")[n % 3]
        base = store.versions(LAYER_ID)[-1].number
        if kind == "update":
            change = FeatureChange("update", code, {"starting_price_million_vnd": 1234.0 + n})
        elif kind == "move":
            shape = shapely.from_wkb(store.feature(LAYER_ID, code).geometry)
            moved = shapely.affinity.translate(shape, xoff=0.0005)
            change = FeatureChange("update", code, geometry=shapely.to_wkb(moved))
        else:
            change = FeatureChange("delete", code)
        started = time.perf_counter()
        store.apply_changes(LAYER_ID, [change], base_version=base, actor="benchmark")
        applied.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.query(LAYER_ID, Query(limit=100))
        status = Comparison("=", Property("status"), Literal("calling_investment"))
        store.query(LAYER_ID, Query(filter=status, limit=100))
        first_reads.append(time.perf_counter() - started)
        print(f"{kind:<6} {code}: applied in {applied[-1] * 1000:.0f} ms", flush=True)
    store.dispose()
    print(
        f"{features:,} features; {len(applied)} change sets of one feature: median "
        f"{statistics.median(applied) * 1000:.0f} ms, max {max(applied) * 1000:.0f} ms; first "
        f"reads of each new version (a page and a filtered page with its count): median "
        f"{statistics.median(first_reads) * 1000:.0f} ms, max {max(first_reads) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
