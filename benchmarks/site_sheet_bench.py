"""PDF site sheets: CPU per sheet for a shortlist of the sample catalogue, drawn and cached.

    python benchmarks/site_sheet_bench.py [--sites 300] [--profile]

Builds the sample catalogue in a scratch folder, makes a shortlist of `sites` sites (every site
that is not a commune, then communes), and measures the CPU time (`time.process_time`, this
process only) of drawing its sheets, then of `GET /shortlists/{id}/export?f=pdf` twice through
the API: the first draws them, the second is served from the PDF cache. `--profile` prints the
costliest calls of the drawing.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.exports import shortlist_sites, site_sheets
from geo_service.query import Query
from geo_service.records import Records, database_url, upgrade
from geo_service.sample import build_sample
from geo_service.settings import Settings
from geo_service.shortlists import ItemRef, ShortlistStore
from geo_service.store.gpkg import GeoPackageStore


def shortlist_items(store: GeoPackageStore, count: int) -> list[ItemRef]:
    items = [
        ItemRef(meta.id, feature.id)
        for meta in store.layers()
        for batch in store.iter_features(meta.id, Query(limit=None))
        for feature in batch
    ]
    items.sort(key=lambda item: item.collection == "communes")
    if len(items) < count:
        raise SystemExit(f"the sample holds {len(items)} sites, fewer than {count}")
    return items[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        build_sample(data_dir)
        store = GeoPackageStore(data_dir)
        records = Records(database_url(None, data_dir))
        upgrade(records)
        shortlists = ShortlistStore(records, 500, 1000)
        shortlist, _ = shortlists.create("bench", "", shortlist_items(store, args.sites), "bench")
        profile = cProfile.Profile() if args.profile else None
        started = time.process_time()
        if profile:
            profile.enable()
        pdf = site_sheets(store, shortlist_sites(store, shortlist, "http://x"), "vi", "bench")
        if profile:
            profile.disable()
        cpu = time.process_time() - started
        print(f"drawn: {args.sites} sheets, {cpu:.2f} s CPU, {cpu / args.sites * 1000:.1f} ms "
              f"per sheet, {pdf.stat().st_size / 1e6:.2f} MB")  # fmt: skip
        shutil.rmtree(pdf.parent)
        client = TestClient(create_app(Settings(data_dir=data_dir)))
        for attempt in ("first request (drawn)", "second request (cached)"):
            started = time.process_time()
            response = client.get(f"/shortlists/{shortlist.id}/export", params={"f": "pdf"})
            response.raise_for_status()
            print(f"{attempt}: {time.process_time() - started:.3f} s CPU")
        if profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(20)


if __name__ == "__main__":
    main()
