"""Import benchmark: a 100,000-polygon GeoPackage in EPSG:9206, validated, reprojected, published.

    python benchmarks/import_bench.py [--count 100000]

The parcels come from make_parcels.py, are written in VN-2000 (EPSG:9206) to a scratch
GeoPackage, then imported into a scratch data directory through the same path as
`geo-service import` and the upload API, in a fresh process whose time and peak resident memory
(`ru_maxrss`, imports included) are reported.
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

import pyogrio
from make_parcels import parcels

from geo_service.admin_store import AdminStore
from geo_service.ingest import UploadRequest, ingest
from geo_service.ingest.read import UploadLimits
from geo_service.records import Records, database_url, upgrade
from geo_service.store.gpkg import GeoPackageStore


def run_one(source: Path, data_dir: Path) -> dict:
    request = UploadRequest(
        "parcels",
        source,
        source.name,
        {"kind": "land_auction_plot", "data_quality": "synthetic_demo"},
    )
    records = Records(database_url(None, data_dir))
    upgrade(records)
    started = time.perf_counter()
    report = ingest(
        request,
        GeoPackageStore(data_dir),
        UploadLimits(max_bytes=2**32),
        "14",
        AdminStore(records),
        "benchmark",
    )
    return {
        "seconds": time.perf_counter() - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "features": report.features,
        "published": report.published,
        "errors": [f.code for f in report.findings if f.severity == "error"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(Path(args.one[0]), Path(args.one[1]))))
        return
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "parcels-9206.gpkg"
        frame = parcels(args.count).to_crs(9206)
        pyogrio.write_dataframe(frame, source, layer="parcels")
        del frame
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(source), str(Path(scratch) / "data")],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        result = json.loads(output.strip().splitlines()[-1])
    print(
        f"import of {result['features']:,} polygons in EPSG:9206: {result['seconds']:.1f} s, "
        f"peak {result['peak_mb']:.0f} MB, published {result['published']}, errors {result['errors']}"
    )


if __name__ == "__main__":
    main()
