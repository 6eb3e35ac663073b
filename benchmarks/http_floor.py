"""How far this service is from the floor of an HTTP answer on this machine, where its goals
against TiPG and against the raw SQLite loop are not met: features by id and new zoom-12 tiles
from PostGIS, the first page of 100 from the GeoPackage store.

    bash benchmarks/postgres.sh start && bash benchmarks/setup_tipg.sh    # as run_postgis.py
    python benchmarks/http_floor.py [--duration 10] [--concurrency 8]

In one run, with the same requests in the same order (loadgen.py, run.py's CPU accounting):
this service (`geo-service serve`, PostGIS store without the tile cache, and GeoPackage store),
TiPG (uvicorn, as run_postgis.py starts it) and floor_app.py (a bare ASGI app under uvicorn:
the one statement, nothing else), each with the same number of workers; then sqlite_limit.py's
raw loop. The floor's rate is what no service on uvicorn over those statements can pass here,
so floor ÷ TiPG bounds any ratio to TiPG, and floor ÷ raw any share of the raw loop.
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
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import run
import run_postgis
import sqlite_limit
import tile_cases
from make_parcels import LAYER_ID

HERE = Path(__file__).resolve().parent
SERVERS = ("ours", "tipg", "floor")


def floor_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", str(HERE),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "error", "--no-access-log",
    ]  # fmt: skip


def body_bytes(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as response:
        return len(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: postgres.sh's url")
    parser.add_argument("--gpkg-dir", type=Path, default=HERE / "data")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--max-requests", type=int, default=4000)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--settle", type=float, default=15, help="as run_postgis.py's")
    args = parser.parse_args()
    args.client, args.retries, args.max_other_cpu = "python", 0, 1.0
    url = (
        args.database_url
        or subprocess.run(
            ["bash", str(HERE / "postgres.sh"), "url"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    if not (run_postgis.TIPG_VENV / "bin" / "uvicorn").exists():
        sys.exit("TiPG is not installed: run bash benchmarks/setup_tipg.sh first")
    if not (args.gpkg_dir / LAYER_ID).is_dir():
        sys.exit(f"no parcels in {args.gpkg_dir}: run python benchmarks/make_parcels.py first")
    table, features = run_postgis.parcels_table(url)
    peer = f"layer_data.{table}"
    items = run.request_lists(features, args.seed)
    tiles = tile_cases.request_lists(args.seed)["tiles z12 new"]
    ours_prefix, peer_prefix = f"/collections/{LAYER_ID}", f"/collections/{peer}"
    cases = {
        "feature by id (PostGIS)": (
            "postgis",
            items["feature by id"],
            lambda p: p.replace(ours_prefix, peer_prefix, 1),
        ),
        "tiles z12 new (PostGIS)": ("postgis", tiles, lambda p: tile_cases.for_tipg(p, peer)),
        "first page (GeoPackage)": ("gpkg", items["first page"], None),
    }
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows = []
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as servers:
        folder = Path(scratch)

        def start(name: str, command: list[str], env: dict, port: int, ready: str):
            """The server's base URL and process group, once `ready` (a path) answers."""
            base, log = f"http://127.0.0.1:{port}", results_dir / f"floor-{name}-{stamp}.log"
            return base, servers.enter_context(run.started(command, env, base + ready, log))

        def ours(store: str) -> tuple[str, int]:
            port = run.free_port()
            data_dir, env = args.gpkg_dir, dict(os.environ)
            if store == "postgis":
                data_dir = folder / "ours-postgis"
                data_dir.mkdir()  # caches only: the layers are in the database
                env.update(GEO_SERVICE_DATABASE_URL=url, GEO_SERVICE_TILE_CACHE_BYTES="0")
            command = run.our_command(port, data_dir, args.workers)
            return start(f"ours-{store}", command, env, port, ours_prefix)

        def floor(env: dict) -> tuple[str, int]:
            port = run.free_port()
            command = floor_command(port, args.workers)
            return start("floor", command, {**os.environ, **env}, port, "/")

        def tipg() -> tuple[str, int]:
            port = run.free_port()
            command, env = (
                run_postgis.tipg_command(port, args.workers),
                run_postgis.tipg_env(url, table),
            )
            return start("tipg", command, env, port, peer_prefix)

        gpkg = ours("gpkg")
        page_bytes = body_bytes(gpkg[0] + items["first page"]["timed"][0])
        floor_server = floor(
            {
                "FLOOR_DATABASE_URL": url,
                "FLOOR_TABLE": peer,
                "FLOOR_GPKG_DIR": str(args.gpkg_dir),
                "FLOOR_PAGE_BYTES": str(page_bytes),
            }
        )
        bases = {
            "postgis": {"ours": ours("postgis"), "tipg": tipg(), "floor": floor_server},
            "gpkg": {"ours": gpkg, "floor": floor_server},
        }
        time.sleep(args.settle)
        for case, (store, lists, for_tipg) in cases.items():
            row: dict = {"case": case, "concurrency": args.concurrency}
            for name, (base, pid) in bases[store].items():
                timed, warm = lists["timed"], lists["warmup"]
                if name == "tipg":
                    timed, warm = [for_tipg(p) for p in timed], [for_tipg(p) for p in warm]
                row[name] = run.measure(
                    args, name, base, timed, warm, args.concurrency, {name: pid}, folder
                )
                answered = row[name]["requests"] - row[name]["errors"]
                print(f"{case}: {name} {row[name]['rps']:,.0f} req/s "
                      f"({answered} answered, {row[name]['errors']} errors)", flush=True)  # fmt: skip
            rows.append(row)
    with ProcessPoolExecutor(args.workers) as pool:
        seconds = 10.0
        counts = pool.map(
            sqlite_limit.pages, [args.gpkg_dir] * args.workers, [seconds] * args.workers
        )
        raw = sum(counts) / seconds
    print(f"raw SQLite loop, {args.workers} processes: {raw:,.0f} pages per second", flush=True)
    meta = {"started": stamp, "features": features, "table": peer, "workers": args.workers,
            "concurrency": args.concurrency, "page_bytes": page_bytes, "raw_pages_s": raw}  # fmt: skip
    out = results_dir / f"floor-{stamp}.json"
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print()
    print(table_of(rows, raw))
    print(f"results: {out}")


def table_of(rows: list[dict], raw: float) -> str:
    lines = [
        "| case | ours req/s | app CPU ms | TiPG req/s | app CPU ms | floor req/s | app CPU ms "
        "| ours ÷ TiPG | floor ÷ TiPG | ours ÷ raw | floor ÷ raw |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        cells = []
        for name in SERVERS:
            measured = row.get(name)
            cells += (
                [f"{measured['rps']:,.0f}", f"{measured['server_cpu_ms_per_request']:.2f}"]
                if measured
                else ["–", "–"]
            )
        o, f, t = row["ours"]["rps"], row["floor"]["rps"], row.get("tipg", {}).get("rps")
        by_tipg = [f"{o / t:.2f}×", f"{f / t:.2f}×"] if t else ["–", "–"]
        by_raw = ["–", "–"] if t else [f"{o / raw:.1%}", f"{f / raw:.1%}"]
        lines.append(f"| {row['case']} | " + " | ".join(cells + by_tipg + by_raw) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
