"""Side-by-side benchmark: this service's PostGIS store and TiPG on the same PostGIS table.

    bash benchmarks/postgres.sh start                        # once: the benchmark's cluster
    bash benchmarks/setup_tipg.sh                            # once: TiPG in its own venv
    python benchmarks/make_parcels.py --database-url "$(bash benchmarks/postgres.sh url)"
    python benchmarks/run_postgis.py [--duration 10] [--max-requests 2000] [--concurrency 8]

Both read the parcels' table in the `layer_data` schema of the same database: ours through
`geo-service serve --workers 2` with `GEO_SERVICE_DATABASE_URL`, TiPG under `uvicorn --workers 2`
(as TiPG's documentation recommends) with the table's id column (`code`), geometry column and
the layer's fields as its properties, so both answer the same features with the same properties.
Both count `numberMatched` exactly on every page. The answers to the first requests of each case
are compared (run.py's checks), then each case is timed at each concurrency with the same
requests in the same order (loadgen.py). Prints a table and writes benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run
from make_parcels import LAYER_ID, parcel_meta
from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
TIPG_VENV = HERE / ".tipg-venv"
CASES = ["first page", "small bbox", "attribute filter", "deep offset", "feature by id"]
GOAL = 2.0


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
    parser.add_argument("--cases", nargs="+", default=CASES)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--settle",
        type=float,
        default=0,
        help="seconds to wait once the servers answer: ours reads the box centres of large "
        "layers at start-up, in the background (about 3 s a million features per worker)",
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
    table, features = parcels_table(url)
    peer_collection = f"layer_data.{table}"
    cases = {k: v for k, v in run.request_lists(features, args.seed).items() if k in args.cases}
    ours_prefix, peer_prefix = f"/collections/{LAYER_ID}", f"/collections/{peer_collection}"

    def for_peer(paths: list[str]) -> list[str]:
        return [p.replace(ours_prefix, peer_prefix, 1) for p in paths]

    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    ours_port, peer_port = run.free_port(), run.free_port()
    ours_url, peer_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{peer_port}"
    ours_env = {**os.environ, "GEO_SERVICE_DATABASE_URL": url}
    meta = {
        "started": stamp, "features": features, "table": f"layer_data.{table}",
        "workers": args.workers, "page": run.PAGE, "duration_s": args.duration,
        "max_requests": args.max_requests, "cores": os.cpu_count(), "tipg": tipg_version(),
    }  # fmt: skip
    print(f"{features:,} parcels in layer_data.{table}; {args.workers} workers each", flush=True)
    rows, checks = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        data_dir = folder / "data"  # rasters and caches only: the layers are in the database
        data_dir.mkdir()
        with (
            run.started(run.our_command(ours_port, data_dir, args.workers), ours_env,
                        f"{ours_url}{ours_prefix}", results_dir / f"ours-postgis-{stamp}.log") as ours_pid,
            run.started(tipg_command(peer_port, args.workers), tipg_env(url, table),
                        f"{peer_url}{peer_prefix}", results_dir / f"tipg-{stamp}.log") as peer_pid,
        ):  # fmt: skip
            groups = {"ours": ours_pid, "pygeoapi": peer_pid}  # run.py's name for the peer
            time.sleep(args.settle)
            for name, lists in cases.items():
                ours_paths, peer_paths = lists["timed"], for_peer(lists["timed"])
                check = run.check_case(ours_url, peer_url, ours_paths, peer_paths)
                checks[name] = check
                verdict = "same answers" if check["same"] else f"DIFFERENT: {check['difference']}"
                print(f"check {name}: {verdict}; {'; '.join(check['notes'])}", flush=True)
                for concurrency in args.concurrency:
                    row = {"case": name, "concurrency": concurrency, "same_answer": check["same"]}
                    for server, base, paths, warm in (
                        ("ours", ours_url, ours_paths, lists["warmup"]),
                        ("pygeoapi", peer_url, peer_paths, for_peer(lists["warmup"])),
                    ):
                        row[server] = run.measure(
                            args, server, base, paths, warm, concurrency, groups, folder
                        )
                    row["ratio"] = row["ours"]["rps"] / max(row["pygeoapi"]["rps"], 1e-9)
                    rows.append(row)
                    print_row(row)
    out = results_dir / f"postgis-{stamp}.json"
    out.write_text(json.dumps({"meta": meta, "checks": checks, "rows": rows}, indent=2))
    print()
    print(table_of(rows))
    lowest = min(rows, key=lambda r: r["ratio"])
    met = "met" if lowest["ratio"] >= GOAL else "NOT met"
    print(f"\nlowest ratio {lowest['ratio']:.1f}× ({lowest['case']}): goal ≥ {GOAL:.0f}× {met}")
    print(f"results: {out}")


def print_row(row: dict) -> None:
    o, p = row["ours"], row["pygeoapi"]
    print(
        f"{row['case']:<18} c={row['concurrency']:<2} ours {o['rps']:8.1f} req/s p95 "
        f"{o['p95_ms']:7.1f} ms | TiPG {p['rps']:8.1f} req/s p95 {p['p95_ms']:7.1f} ms | "
        f"x{row['ratio']:.1f} | errors {o['errors']}/{p['errors']} | other CPU "
        f"{o['other_cpu_share']:.0%}/{p['other_cpu_share']:.0%}",
        flush=True,
    )


def table_of(rows: list[dict]) -> str:
    lines = [
        "| case | c | ours req/s | p50 ms | p95 ms | app CPU ms/req | TiPG req/s | p50 ms "
        "| p95 ms | app CPU ms/req | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        o, p = row["ours"], row["pygeoapi"]
        lines.append(
            f"| {row['case']} | {row['concurrency']} | {o['rps']:,.0f} | {o['p50_ms']:.1f} | "
            f"{o['p95_ms']:.1f} | {o['server_cpu_ms_per_request']:.1f} | {p['rps']:,.0f} | "
            f"{p['p50_ms']:.1f} | {p['p95_ms']:.1f} | {p['server_cpu_ms_per_request']:.1f} | "
            f"{row['ratio']:.1f}× |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
