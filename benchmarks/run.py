"""Side-by-side benchmark: this service and pygeoapi (OGR provider) on the same GeoPackage.

    bash benchmarks/setup_peer.sh                  # once: wrk, pygeoapi + GDAL bindings
    python benchmarks/make_parcels.py              # once: 1,000,000 synthetic parcels
    python benchmarks/run.py [--duration 10]

Both servers run on 127.0.0.1 with 2 worker processes, read the same file, get the same
request lists from wrk (a C load generator, so the client costs little CPU), with pages of 100.
Each case runs at concurrency 1 and 8. The table gives req/s, p50 and p95 in ms, and the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv"
LAYER = "parcels"
PAGE = 100
BOUNDS = (103.25, 20.65, 104.95, 21.95)
BOX_DEGREES = 0.015  # about 1.5 km

LUA = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local counter = 0
local thread_number = 0
function setup(thread)
  thread:set("start", thread_number * 997)
  thread_number = thread_number + 1
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[((start or 0) + counter) % #paths + 1])
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.3f %.3f\\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout} s")


@contextlib.contextmanager
def started(command: list[str], env: dict | None, ready_url: str, log: Path) -> Iterator[None]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(ready_url, process)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def peer_config(gpkg: Path, port: int, folder: Path) -> tuple[Path, Path]:
    config = folder / "pygeoapi.yml"
    openapi = folder / "pygeoapi-openapi.yml"
    config.write_text(
        f"""
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: {PAGE}, max_items: 10000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: OSM}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: bench, description: bench, keywords: [bench], terms_of_service: none, url: http://127.0.0.1}}
  license: {{name: CC0, url: http://127.0.0.1}}
  provider: {{name: bench, url: http://127.0.0.1}}
  contact: {{name: bench}}
resources:
  {LAYER}:
    type: collection
    title: parcels
    description: synthetic parcels
    keywords: [parcels]
    extents:
      spatial: {{bbox: [103.2, 20.6, 105.0, 22.0], crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84}}
    providers:
      - type: feature
        name: OGR
        data:
          source_type: GPKG
          source: {gpkg}
          source_srs: EPSG:4326
          target_srs: EPSG:4326
          source_capabilities: {{paging: true}}
        id_field: code
        layer: {LAYER}
""",
        encoding="utf-8",
    )
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run(
        [str(PEER_VENV / "bin" / "pygeoapi"), "openapi", "generate", str(config),
         "--output-file", str(openapi)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    return config, openapi


def request_lists(
    count: int, features: int, seed: int = 7
) -> dict[str, tuple[list[str], list[str]]]:
    """Per case: (our paths, the peer's paths) — the same requests in each server's dialect."""
    rng = random.Random(seed)
    items = f"/collections/{LAYER}/items"

    def box() -> str:
        x = rng.uniform(BOUNDS[0], BOUNDS[2] - BOX_DEGREES)
        y = rng.uniform(BOUNDS[1], BOUNDS[3] - BOX_DEGREES)
        return f"{x:.5f},{y:.5f},{x + BOX_DEGREES:.5f},{y + BOX_DEGREES:.5f}"

    same = {
        "first page": [f"{items}?limit={PAGE}"] * count,
        "small bbox": [f"{items}?bbox={box()}&limit={PAGE}" for _ in range(count)],
        "attribute filter": [f"{items}?status=calling_investment&limit={PAGE}"] * count,
        "deep offset": [
            f"{items}?limit={PAGE}&offset={rng.randrange(features // 2, features - PAGE)}"
            for _ in range(count)
        ],
        "feature by id": [f"{items}/SYN-{rng.randrange(features):07d}" for _ in range(count)],
    }
    cases = {name: (paths, paths) for name, paths in same.items()}
    boxes = [box() for _ in range(count)]
    ours = [
        f"{items}?limit={PAGE}&filter-lang=cql2-text&filter="
        + urllib.request.quote(
            f"S_INTERSECTS(geometry,BBOX({b})) AND status='calling_investment'", safe=""
        )
        for b in boxes
    ]
    # pygeoapi's OGR provider takes no CQL2: the same selection as bbox + property filter
    peer = [f"{items}?bbox={b}&status=calling_investment&limit={PAGE}" for b in boxes]
    cases["CQL2 bbox + attribute"] = (ours, peer)
    return cases


def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def same_answer(ours: str, peer: str) -> str:
    a, b = fetch(ours), fetch(peer)
    if a.get("type") == "Feature":
        return "ok" if a["id"] == b["id"] else f"ids differ: {a['id']} / {b['id']}"
    ids_a = sorted(f["id"] for f in a["features"])
    ids_b = sorted(str(f["id"]) for f in b["features"])
    if ids_a != ids_b:
        return f"feature ids differ ({len(ids_a)} vs {len(ids_b)})"
    if a.get("numberMatched") != b.get("numberMatched", a.get("numberMatched")):
        return f"numberMatched differs: {a.get('numberMatched')} / {b.get('numberMatched')}"
    return "ok"


def wrk(base: str, paths: list[str], concurrency: int, duration: int, folder: Path) -> dict:
    paths_file = folder / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = folder / "paths.lua"
    script.write_text(LUA)
    threads = min(concurrency, 2)
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration}s", "--timeout", "30s",
         "-s", str(script), base],
        env={**os.environ, "BENCH_PATHS": str(paths_file)},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", output)
    if not match:
        raise RuntimeError(f"wrk gave no result:\n{output}")
    requests, micros, errors, p50, p95 = match.groups()
    return {
        "requests": int(requests),
        "errors": int(errors),
        "rps": int(requests) / (int(micros) / 1e6),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--duration", type=int, default=10, help="seconds per case and level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    gpkg = (args.data_dir / LAYER / "current.gpkg").resolve()
    if not gpkg.exists():
        sys.exit(f"no {gpkg}: run python benchmarks/make_parcels.py first")
    if not (PEER_VENV / "bin" / "gunicorn").exists():
        sys.exit("the peer is not installed: run bash benchmarks/setup_peer.sh first")

    from geo_service.query import Query
    from geo_service.store.gpkg import GeoPackageStore

    features = GeoPackageStore(args.data_dir).query(LAYER, Query(limit=0)).number_matched
    cases = request_lists(500, features)
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    ours_port, peer_port = free_port(), free_port()
    ours_url, peer_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{peer_port}"
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        config, openapi = peer_config(gpkg, peer_port, folder)
        peer_env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
        ours_cmd = [
            sys.executable, "-m", "geo_service.cli", "serve", "--host", "127.0.0.1",
            "--port", str(ours_port), "--data-dir", str(args.data_dir),
            "--workers", str(args.workers),
        ]  # fmt: skip
        peer_cmd = [
            str(PEER_VENV / "bin" / "gunicorn"), "-w", str(args.workers),
            "-b", f"127.0.0.1:{peer_port}", "pygeoapi.flask_app:APP",
        ]  # fmt: skip
        with (
            started(ours_cmd, None, f"{ours_url}/conformance", results_dir / "ours.log"),
            started(peer_cmd, peer_env, f"{peer_url}/conformance", results_dir / "peer.log"),
        ):
            for name, (ours_paths, peer_paths) in cases.items():
                check = same_answer(ours_url + ours_paths[0], peer_url + peer_paths[0])
                for concurrency in args.concurrency:
                    row = {"case": name, "concurrency": concurrency, "same_answer": check}
                    for server, base, paths in (
                        ("ours", ours_url, ours_paths),
                        ("pygeoapi", peer_url, peer_paths),
                    ):
                        wrk(base, paths[:20], concurrency, 1, folder)  # warm-up
                        row[server] = wrk(base, paths, concurrency, args.duration, folder)
                    row["ratio"] = row["ours"]["rps"] / max(row["pygeoapi"]["rps"], 1e-9)
                    rows.append(row)
                    print_row(row, flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = results_dir / f"run-{stamp}.json"
    out.write_text(
        json.dumps({"features": features, "workers": args.workers, "rows": rows}, indent=2)
    )
    print(f"\nresults: {out}")


def print_row(row: dict, flush: bool = False) -> None:
    o, p = row["ours"], row["pygeoapi"]
    print(
        f"{row['case']:<22} c={row['concurrency']:<2} "
        f"ours {o['rps']:8.1f} req/s p50 {o['p50_ms']:7.1f} p95 {o['p95_ms']:7.1f} ms | "
        f"pygeoapi {p['rps']:7.1f} req/s p50 {p['p50_ms']:7.1f} p95 {p['p95_ms']:7.1f} ms | "
        f"x{row['ratio']:.1f} | errors {o['errors']}/{p['errors']} | answers {row['same_answer']}",
        flush=flush,
    )


if __name__ == "__main__":
    main()
