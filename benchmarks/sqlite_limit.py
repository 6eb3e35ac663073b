"""The raw in-process SQLite limit for a page of 100 parcels: what the GeoPackage store's HTTP
answers are measured against.

    python benchmarks/sqlite_limit.py [--data-dir benchmarks/data] [--processes 2] [--seconds 10]

Each process opens the layer's served GeoPackage as the store does (read-only, immutable,
memory-mapped) and runs, as fast as it can, the statement the store runs for the first page
(`SELECT` of the id, geometry and every field, `ORDER BY fid LIMIT 100`), fetching every row:
no HTTP, no JSON, no Python objects per feature beyond the row tuples. The sum over the
processes is the ceiling of pages per second on this machine.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from make_parcels import LAYER_ID

from geo_service.query import Query
from geo_service.store.gpkg import GeoPackageStore, open_readonly


def first_page(data_dir: Path) -> tuple[sqlite3.Connection, str, tuple]:
    """A connection to the parcels' served GeoPackage, opened as the store opens it, and the
    store's statement for their first page of 100 with its parameters."""
    store = GeoPackageStore(data_dir)
    layer = store._layer_file(LAYER_ID)
    sql, params, _ = store._select(layer, Query(limit=100), layer.compiler.where(Query()))
    return open_readonly(layer.path), sql, tuple(params)


def pages(data_dir: Path, seconds: float) -> int:
    connection, sql, params = first_page(data_dir)
    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        connection.execute(sql, params).fetchall()
        done += 1
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with ProcessPoolExecutor(args.processes) as pool:
        counts = list(
            pool.map(pages, [args.data_dir] * args.processes, [args.seconds] * args.processes)
        )
    total = sum(counts) / args.seconds
    print(f"{args.processes} processes: {total:,.0f} pages of 100 per second in all "
          f"({', '.join(f'{c / args.seconds:,.0f}' for c in counts)} each)")  # fmt: skip


if __name__ == "__main__":
    main()
