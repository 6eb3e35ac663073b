"""Side-by-side benchmark: this service's PostGIS store and TiPG on the same PostGIS table.

    bash benchmarks/postgres.sh start                        # once: the benchmark's cluster
    bash benchmarks/setup_tipg.sh                            # once: TiPG in its own venv
    python benchmarks/make_parcels.py --database-url "$(bash benchmarks/postgres.sh url)"
    python benchmarks/make_parcels.py                        # optional: the GeoPackage store's tile figures
    python benchmarks/run_postgis.py [--duration 10] [--max-requests 2000] [--concurrency 8]

Both read the parcels' table in the `layer_data` schema of the same database: ours through
`geo-service serve --workers 2` with `GEO_SERVICE_DATABASE_URL`, TiPG under `uvicorn --workers 2`
(as TiPG's documentation recommends) with the table's id column (`code`), geometry column and
the layer's fields as its properties, so both answer the same features with the same properties.
Both count `numberMatched` exactly on every page. The answers to the first requests of each case
are compared (run.py's checks), then each case is timed at each concurrency with the same
requests in the same order (loadgen.py). Prints a table and writes benchmarks/results/.

Vector tiles at zoom 8, 12 and 14 (tile_cases.py) are asked of TiPG's and our
`/collections/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}`, never seen before (our servers without
the tile cache) and as repeat views (with it); where `--gpkg-dir` holds the GeoPackage parcels,
the GeoPackage store's figures for the same tiles are measured beside.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run
import tile_cases
from make_parcels import LAYER_ID, parcel_meta
from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
TIPG_VENV = HERE / ".tipg-venv"
CASES = ["first page", "small bbox", "attribute filter", "deep offset", "feature by id"]
ALL_CASES = CASES + tile_cases.CASES
GOAL = 2.0
TILE_GOAL = 1.0


def parcels_table(url: str) -> tuple[str, int]:
    """The served version's table of the parcels and its feature count."""
    engine = create_engine(url)
    with engine.connect() as connection:
        name, features = connection.execute(
            text(
                "SELECT g.table_name, v.features FROM layer_catalogue c JOIN layer_versions v "
                "ON v.layer_uid = c.uid AND v.version = c.current_version JOIN layer_generations g "
                "ON g.uid = v.generation WHERE c.id = :id AND c.archived_as IS NULL"
            ),
            {"id": LAYER_ID},
        ).one()
    engine.dispose()
    return name, features


def tipg_env(url: str, table: str) -> dict[str, str]:
    key = f"TIPG_TABLE_CONFIG__layer_data_{table}"
    return {
        **os.environ,
        "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"),
        "TIPG_DB_SCHEMAS": '["layer_data"]',
        "TIPG_DB_TABLES": f'["layer_data.{table}"]',
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
        f"{key}__PK": "code",
        f"{key}__GEOMCOL": "gs_geom",
        f"{key}__PROPERTIES": json.dumps(parcel_meta().field_names),
    }


def tipg_command(port: int, workers: int) -> list[str]:
    return [
        str(TIPG_VENV / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "error",
    ]  # fmt: skip


def tipg_version() -> str:
    return subprocess.run(
        [str(TIPG_VENV / "bin" / "python"), "-c", "import tipg; print(tipg.__version__)"],
        capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: postgres.sh's url")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--max-requests", type=int, default=2000)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases", nargs="+", choices=ALL_CASES, default=ALL_CASES)
    parser.add_argument(
        "--gpkg-dir",
        type=Path,
        default=HERE / "data",
        help="data directory of make_parcels.py's GeoPackage parcels: the GeoPackage store's "
        "tile figures are measured beside (none if it holds no parcels)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--settle",
        type=float,
        default=0,
        help="seconds to wait once the servers answer: ours reads the box centres of large "
        "layers at start-up, in the background (about 2 s a million features, mostly "
        "PostgreSQL's)",
    )
    parser.add_argument(
        "--retries", type=int, default=0, help="PostgreSQL's work counts as others' CPU here"
    )
    parser.add_argument("--max-other-cpu", type=float, default=0.15)
    args = parser.parse_args()
    args.client = "python"
    url = (
        args.database_url
        or subprocess.run(
            ["bash", str(HERE / "postgres.sh"), "url"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    if not (TIPG_VENV / "bin" / "uvicorn").exists():
        sys.exit("TiPG is not installed: run bash benchmarks/setup_tipg.sh first")
    if not (args.gpkg_dir / LAYER_ID).is_dir():
        args.gpkg_dir = None
    table, features = parcels_table(url)
    peer_collection = f"layer_data.{table}"
    cases = {k: v for k, v in run.request_lists(features, args.seed).items() if k in args.cases}
    ours_prefix, peer_prefix = f"/collections/{LAYER_ID}", f"/collections/{peer_collection}"
    cases.update({k: v for k, v in tile_cases.request_lists(args.seed).items() if k in args.cases})

    def for_peer(paths: list[str]) -> list[str]:
        if "/tiles/" in paths[0]:
            return [tile_cases.for_tipg(p, peer_collection) for p in paths]
        return [p.replace(ours_prefix, peer_prefix, 1) for p in paths]

    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    meta = {
        "started": stamp, "features": features, "table": f"layer_data.{table}",
        "workers": args.workers, "page": run.PAGE, "duration_s": args.duration,
        "max_requests": args.max_requests, "cores": os.cpu_count(), "tipg": tipg_version(),
        "geopackage": str(args.gpkg_dir) if args.gpkg_dir else None,
    }  # fmt: skip
    print(f"{features:,} parcels in layer_data.{table}; {args.workers} workers each", flush=True)
    rows, checks = [], {}
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as servers:
        folder = Path(scratch)
        running: dict[str, tuple[str, int]] = {}

        def server(name: str) -> tuple[str, int]:
            """A server by name, started on first use and kept for the rest of the run:
            `ours` (PostGIS) and `gpkg` (GeoPackage) without the tile cache, `… cached` with
            it, and `tipg`."""
            if name not in running:
                port = run.free_port()
                base = f"http://127.0.0.1:{port}"
                log = results_dir / f"{name.replace(' ', '-')}-{stamp}.log"
                if name == "tipg":
                    command, env, ready = (
                        tipg_command(port, args.workers),
                        tipg_env(url, table),
                        f"{base}{peer_prefix}",
                    )
                else:
                    data_dir = folder / name.replace(" ", "-")
                    data_dir.mkdir()  # caches only: the layers are in the database
                    env = {**os.environ, "GEO_SERVICE_DATABASE_URL": url}
                    if name.startswith("gpkg"):
                        data_dir, env = args.gpkg_dir, dict(os.environ)
                    if not name.endswith("cached"):
                        env["GEO_SERVICE_TILE_CACHE_BYTES"] = "0"
                    command, ready = (
                        run.our_command(port, data_dir, args.workers),
                        f"{base}{ours_prefix}",
                    )
                pid = servers.enter_context(run.started(command, env, ready, log))
                running[name] = (base, pid)
                time.sleep(args.settle)
            return running[name]

        for name, lists in cases.items():
            tiled = name.startswith("tiles")
            ours_name = "ours cached" if name.endswith("repeat") else "ours"
            (ours_url, _), (peer_url, _) = server(ours_name), server("tipg")
            ours_paths, peer_paths = lists["timed"], for_peer(lists["timed"])
            compare = tile_cases.check_tiles if tiled else run.check_case
            check = compare(ours_url, peer_url, ours_paths, peer_paths)
            checks[name] = check
            verdict = "same answers" if check["same"] else f"DIFFERENT: {check.get('difference')}"
            print(f"check {name}: {verdict}; {'; '.join(check['notes'])}", flush=True)
            measured = [(ours_name, "ours", ours_paths, lists["warmup"]),
                        ("tipg", "pygeoapi", peer_paths, for_peer(lists["warmup"]))]  # fmt: skip
            if tiled and args.gpkg_dir:
                gpkg_name = "gpkg cached" if name.endswith("repeat") else "gpkg"
                measured.append((gpkg_name, "geopackage", ours_paths, lists["warmup"]))
            for concurrency in args.concurrency:
                row = {"case": name, "concurrency": concurrency, "same_answer": check["same"]}
                for server_name, column, paths, warm in measured:
                    base, pid = server(server_name)
                    groups = {column: pid}  # run.py's names: ours, pygeoapi (the peer)
                    row[column] = run.measure(
                        args, column, base, paths, warm, concurrency, groups, folder
                    )
                row["ratio"] = row["ours"]["rps"] / max(row["pygeoapi"]["rps"], 1e-9)
                rows.append(row)
                print_row(row)
    out = results_dir / f"postgis-{stamp}.json"
    out.write_text(json.dumps({"meta": meta, "checks": checks, "rows": rows}, indent=2))
    print()
    print(table_of(rows))
    print()
    for row in rows:
        goal = goal_of(row["case"])
        if row["ratio"] < goal:
            print(f"{row['case']} c={row['concurrency']}: {row['ratio']:.1f}× < goal {goal:.0f}×")
    met = all(row["ratio"] >= goal_of(row["case"]) for row in rows)
    print(
        f"goals (items ≥ {GOAL:.0f}×, tiles ≥ {TILE_GOAL:.0f}× TiPG): {'met' if met else 'NOT met'}"
    )
    print(f"results: {out}")


def goal_of(case: str) -> float:
    return TILE_GOAL if case.startswith("tiles") else GOAL


def print_row(row: dict) -> None:
    o, p = row["ours"], row["pygeoapi"]
    gpkg = row.get("geopackage")
    print(
        f"{row['case']:<18} c={row['concurrency']:<2} ours {o['rps']:8.1f} req/s p95 "
        f"{o['p95_ms']:7.1f} ms | TiPG {p['rps']:8.1f} req/s p95 {p['p95_ms']:7.1f} ms | "
        f"x{row['ratio']:.1f} | errors {o['errors']}/{p['errors']} | other CPU "
        f"{o['other_cpu_share']:.0%}/{p['other_cpu_share']:.0%}"
        + (f" | GeoPackage {gpkg['rps']:8.1f} req/s p95 {gpkg['p95_ms']:7.1f} ms, errors "
           f"{gpkg['errors']}" if gpkg else ""),
        flush=True,
    )  # fmt: skip


def table_of(rows: list[dict]) -> str:
    lines = [
        "| case | c | ours req/s | p50 ms | p95 ms | app CPU ms/req | TiPG req/s | p50 ms "
        "| p95 ms | app CPU ms/req | ratio | GeoPackage store req/s | p95 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        o, p, g = row["ours"], row["pygeoapi"], row.get("geopackage")
        gpkg = f"{g['rps']:,.0f} | {g['p95_ms']:.1f}" if g else "– | –"
        lines.append(
            f"| {row['case']} | {row['concurrency']} | {o['rps']:,.0f} | {o['p50_ms']:.1f} | "
            f"{o['p95_ms']:.1f} | {o['server_cpu_ms_per_request']:.1f} | {p['rps']:,.0f} | "
            f"{p['p50_ms']:.1f} | {p['p95_ms']:.1f} | {p['server_cpu_ms_per_request']:.1f} | "
            f"{row['ratio']:.1f}× | {gpkg} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
