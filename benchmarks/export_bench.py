"""Export benchmark: 100,000 synthetic parcels to CSV, GeoPackage and XLSX; time and peak memory.

    python benchmarks/export_bench.py [--data-dir benchmarks/data] [--count 100000]

Needs the parcel layer from make_parcels.py. Each format runs in a fresh process so its peak
resident memory is its own; the features are the first `count` parcels by code, selected with a
CQL2 filter, exported in the provincial VN-2000 zone (EPSG:9206).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from make_parcels import parcel_code

from geo_service.cql2 import parse_cql2_text
from geo_service.exports import export_query
from geo_service.query import Query
from geo_service.store.gpkg import GeoPackageStore

HERE = Path(__file__).resolve().parent


def run_one(data_dir: Path, count: int, format_name: str) -> dict:
    store = GeoPackageStore(data_dir)
    query = Query(filter=parse_cql2_text(f"code < '{parcel_code(count)}'"), limit=None)
    started = time.perf_counter()
    path, _ = export_query(store, "parcels", query, format_name, "EPSG:9206", "vi", 10_000_000)
    seconds = time.perf_counter() - started
    size = path.stat().st_size
    path.unlink()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "format": format_name,
        "features": count,
        "seconds": seconds,
        "peak_mb": peak_mb,
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--formats", nargs="+", default=["csv", "gpkg", "xlsx"])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.data_dir, args.count, args.one)))
        return
    with tempfile.TemporaryDirectory():
        for name in args.formats:
            output = subprocess.run(
                [sys.executable, __file__, "--data-dir", str(args.data_dir), "--count", str(args.count), "--one", name],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            result = json.loads(output.strip().splitlines()[-1])
            print(
                f"{result['format']:<5} {result['features']:,} features: {result['seconds']:6.1f} s, "
                f"peak {result['peak_mb']:6.0f} MB, file {result['bytes'] / 1e6:7.1f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
