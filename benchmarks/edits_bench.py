"""Per-feature edits on the 1,000,000-parcel layer: one edit published, the diff of two versions
with 1 % changed, and readers of an unedited layer with this checkout against another.

    python benchmarks/make_parcels.py --data-dir benchmarks/data/edits     # once
    python benchmarks/edits_bench.py readers --other /path/to/checkout     # before/after
    python benchmarks/edits_bench.py edit                                  # adds versions
    python benchmarks/edits_bench.py diff                                  # adds two versions

`readers` first: it wants the served version unedited (it says so otherwise). `edit` and `diff`
add versions to the layer; `make_parcels.py` into a fresh folder starts again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import loadgen
import numpy as np
import shapely
from make_parcels import LAYER_ID, parcel_code, parcel_meta, parcels
from run import BOX_DEGREES, PAGE, cpu_snapshot, cpu_used, free_port, request_lists, started

from geo_service.admin_store import AdminStore
from geo_service.records import Records, database_url, upgrade
from geo_service.store.changes import FeatureChange
from geo_service.store.gpkg import GeoPackageStore

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
READER_CASES = ("first page", "small bbox")
ONE_PERCENT = 0.01


def server_command(port: int, data_dir: Path, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "geo_service.cli", "serve", "--host", "127.0.0.1",
        "--port", str(port), "--data-dir", str(data_dir), "--workers", str(workers),
    ]  # fmt: skip


@contextlib.contextmanager
def serving(data_dir: Path, code: Path, workers: int, log: Path):
    """A server of the checkout at `code` on a free port: its URL and process group."""
    port = free_port()
    env = os.environ | {"PYTHONPATH": str(code)}
    url = f"http://127.0.0.1:{port}"
    with started(server_command(port, data_dir, workers), env, f"{url}/health", log) as pid:
        yield url, pid


# -- readers ---------------------------------------------------------------------------------
def store_reads(data_dir: Path, code: Path) -> dict[str, list[float]]:
    """`read_bench.py` in a process of its own, with the checkout at `code` imported."""
    output = subprocess.run(
        [sys.executable, str(HERE / "read_bench.py"), str(data_dir)],
        env=os.environ | {"PYTHONPATH": f"{code}{os.pathsep}{HERE}"},
        capture_output=True, text=True, check=True, timeout=1200,
    ).stdout  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def readers(args: argparse.Namespace) -> dict:
    """The store's CPU per query (steady on a shared machine), then HTTP throughput, for this
    checkout and `--other`, interleaved."""
    store = GeoPackageStore(args.data_dir)
    summary = store.versions(LAYER_ID)[-1]
    if summary.kind != "upload" or not summary.current:
        print("warning: the served version is not an unedited upload", file=sys.stderr)
    cases = request_lists(summary.features or 1_000_000, args.seed)
    checkouts = {"this": REPO} | ({"other": args.other.resolve()} if args.other else {})
    store_cpu: dict[str, dict[str, list[float]]] = {name: {} for name in checkouts}
    for _ in range(2):
        for name, code in checkouts.items():
            for case, rounds in store_reads(args.data_dir, code).items():
                store_cpu[name].setdefault(case, []).extend(rounds)
    for name, cases_cpu in store_cpu.items():
        for case, rounds in cases_cpu.items():
            print(f"store {name:5} {case:12} CPU ms/query: median {statistics.median(rounds):.3f}")
    results: dict[str, dict] = {}
    for run in range(args.runs):  # interleaved: load on a shared machine hits both alike
        for name, code in checkouts.items():
            log = HERE / "results" / f"edits-readers-{name}.log"
            log.parent.mkdir(exist_ok=True)
            with serving(args.data_dir, code, args.workers, log) as (url, pid):
                for case in READER_CASES:
                    paths, warm = cases[case]["timed"], cases[case]["warmup"]
                    for concurrency in args.concurrency:
                        loadgen.run(url, warm, concurrency, 2, len(warm))
                        before = cpu_snapshot({"server": pid})
                        result = loadgen.run(url, paths, concurrency, args.duration, 100_000)
                        result |= cpu_used(
                            before, cpu_snapshot({"server": pid}), "server", result["seconds"]
                        )
                        ms = 1000 * result["server_cpu_s"] / max(result["ok"], 1)
                        key = f"{case} c{concurrency}"
                        results.setdefault(key, {}).setdefault(name, []).append(
                            {"rps": result["rps"], "p50_ms": result["p50_ms"], "cpu_ms": ms}
                        )
                        print(f"run {run + 1} {name:5} {key:15} {result['rps']:7.0f} req/s "
                              f"p50 {result['p50_ms']:.2f} ms, server CPU {ms:.2f} ms/req")  # fmt: skip
    table = {}
    for key, by_checkout in results.items():
        table[key] = {
            name: {m: statistics.median(r[m] for r in runs) for m in ("rps", "p50_ms", "cpu_ms")}
            for name, runs in by_checkout.items()
        }
    store_table = {
        name: {case: statistics.median(rounds) for case, rounds in cases_cpu.items()}
        for name, cases_cpu in store_cpu.items()
    }
    return {"store_cpu_ms": store_table, "http": table, "box_degrees": BOX_DEGREES, "page": PAGE}


# -- one edit --------------------------------------------------------------------------------
def edit(args: argparse.Namespace) -> dict:
    """One feature's update through the API (PATCH with If-Match, published when it answers),
    and through the store alone; each checked by reading the feature back."""
    rng = random.Random(args.seed)
    records = Records(database_url(None, args.data_dir))
    upgrade(records)
    _, secret = AdminStore(records).create_token("editor", "edits benchmark")
    records.dispose()
    headers = {"Authorization": f"Bearer {secret}"}
    http_times, store_times = [], []
    log = HERE / "results" / "edits-edit.log"
    log.parent.mkdir(exist_ok=True)
    with serving(args.data_dir, REPO, args.workers, log) as (url, _):
        for n in range(args.edits):
            code = parcel_code(rng.randrange(1_000_000))
            item = f"{url}/collections/{LAYER_ID}/items/{code}"
            with urllib.request.urlopen(item) as response:
                tag = response.headers["ETag"]
            body = json.dumps({"properties": {"name_vi": f"Thửa đã sửa {n}"}}).encode()
            request = urllib.request.Request(item, body, method="PATCH", headers=headers | {
                "If-Match": tag, "Content-Type": "application/merge-patch+json"})  # fmt: skip
            began = time.perf_counter()
            with urllib.request.urlopen(request) as response:
                assert response.status == 200
            http_times.append(time.perf_counter() - began)
            with urllib.request.urlopen(item) as response:
                assert json.load(response)["properties"]["name_vi"] == f"Thửa đã sửa {n}"
    store = GeoPackageStore(args.data_dir)
    for _ in range(args.edits):
        code = parcel_code(rng.randrange(1_000_000))
        began = time.perf_counter()
        change = FeatureChange("update", code, {"status": "operating"},
                               if_match=store.feature_etag(LAYER_ID, code))  # fmt: skip
        store.apply_changes(LAYER_ID, [change], base_version=store.version_numbers(LAYER_ID)[-1],
                            actor="benchmark")  # fmt: skip
        store_times.append(time.perf_counter() - began)
        assert store.feature(LAYER_ID, code).properties["status"] == "operating"
    return {"edit": {"http_s": _spread(http_times), "store_s": _spread(store_times)}}


# -- diffs -----------------------------------------------------------------------------------
def diff(args: argparse.Namespace) -> dict:
    """A change set of 1 % of the parcels (half renamed, half moved by about 10 m), and an
    upload of the whole layer with another 1 % changed; each diffed against the version before."""
    store = GeoPackageStore(args.data_dir)
    rng = np.random.default_rng(args.seed)
    count = store.versions(LAYER_ID)[-1].features
    chosen = rng.choice(1_000_000, int(count * ONE_PERCENT), replace=False)
    changes = []
    for i, number in enumerate(chosen):
        code = parcel_code(int(number))
        feature = store.feature(LAYER_ID, code)
        if i % 2:
            moved = shapely.transform(shapely.from_wkb(feature.geometry), lambda c: c + [0.0001, 0])
            changes.append(FeatureChange("update", code, {}, shapely.to_wkb(moved)))
        else:
            changes.append(FeatureChange("update", code, {"name_vi": f"Đổi tên {number}"}))
    base = store.version_numbers(LAYER_ID)[-1]
    began = time.perf_counter()
    edited = store.apply_changes(LAYER_ID, changes, base_version=base, actor="benchmark")
    written = time.perf_counter() - began
    in_file = _timed_diff(store, base, edited)

    frame = parcels(1_000_000)
    picked = rng.choice(len(frame), int(len(frame) * ONE_PERCENT), replace=False)
    frame.loc[picked[::2], "land_use_purpose"] = "commercial_service"
    frame.loc[picked[1::2], "geometry"] = shapely.transform(
        frame.geometry.values[picked[1::2]], lambda c: c + [0.0001, 0]
    )
    began = time.perf_counter()
    uploaded = store.publish(parcel_meta(), frame, actor="benchmark")
    published = time.perf_counter() - began
    across = _timed_diff(store, edited, uploaded)
    return {
        "diff": {
            "change_set": {"changes": len(changes), "written_s": written, **in_file},
            "upload": {"published_s": published, **across},
        }
    }


def _timed_diff(store: GeoPackageStore, before: int, after: int) -> dict:
    began = time.perf_counter()
    counts: dict[str, int] = {}
    moved = []
    for difference in store.diff(LAYER_ID, before, after):
        counts[difference.change] = counts.get(difference.change, 0) + 1
        if difference.geometry_moved_m is not None:
            moved.append(difference.geometry_moved_m)
    seconds = time.perf_counter() - began
    print(f"diff {before} → {after}: {seconds:.2f} s, {counts}", file=sys.stderr)
    return {"from": before, "to": after, "seconds": seconds, "counts": counts,
            "median_moved_m": statistics.median(moved) if moved else None}  # fmt: skip


def _spread(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"n": len(times), "median": statistics.median(ordered), "max": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["readers", "edit", "diff"])
    parser.add_argument("--data-dir", type=Path, default=HERE / "data" / "edits")
    parser.add_argument("--other", type=Path, help="readers: a checkout to compare with")
    parser.add_argument("--runs", type=int, default=3, help="readers: interleaved runs")
    parser.add_argument("--duration", type=float, default=8.0, help="readers: seconds per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--edits", type=int, default=20, help="edit: how many")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not (args.data_dir / LAYER_ID / "current.gpkg").exists():
        sys.exit(f"no parcels in {args.data_dir}: run make_parcels.py --data-dir {args.data_dir}")
    result = {"readers": readers, "edit": edit, "diff": diff}[args.what](args)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = HERE / "results" / f"edits-{args.what}-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
