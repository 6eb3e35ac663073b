"""CPU time of the store's reads, in this process: a first page and a small-bbox page of 100
parcels, as `edits_bench.py readers` compares them between two checkouts (each run with its own
checkout first on PYTHONPATH; only `GeoPackageStore` and `Query` are used, which both have).

    python benchmarks/read_bench.py benchmarks/data/edits [--queries 3000] [--rounds 5]

Prints one JSON line: CPU ms per query, per round.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from make_parcels import BOUNDS, LAYER_ID

from geo_service.query import Query
from geo_service.store.gpkg import GeoPackageStore

BOX_DEGREES = 0.015


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    store = GeoPackageStore(args.data_dir)
    rng = random.Random(7)
    minx, miny, maxx, maxy = BOUNDS
    boxes = []
    for _ in range(500):
        x, y = rng.uniform(minx, maxx - BOX_DEGREES), rng.uniform(miny, maxy - BOX_DEGREES)
        boxes.append((x, y, x + BOX_DEGREES, y + BOX_DEGREES))
    cases = {
        "first page": lambda i: Query(limit=100),
        "small bbox": lambda i: Query(limit=100, bbox=boxes[i % len(boxes)]),
    }
    result: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, make in cases.items():
            for i in range(100):  # warm the page cache and the connection pool
                store.query(LAYER_ID, make(i))
            began = time.process_time()
            for i in range(args.queries):
                store.query(LAYER_ID, make(i))
            result[name].append(1000 * (time.process_time() - began) / args.queries)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
