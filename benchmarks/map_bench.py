"""The investor map with the 1,000,000-parcel layer on: page size, first data, pan/zoom redraws.

    python benchmarks/make_parcels.py        # once: 1,000,000 synthetic parcels
    python benchmarks/map_bench.py [--moves 40] [--runs 3]

Builds a data folder holding the sample Sơn La catalogue plus the parcels layer (linked, not
copied) in benchmarks/data/map/, starts `geo-service serve` on it, and drives Debian's Chromium
with Playwright like the browser tests (basemap tiles blocked). Measures:

- the HTML of /map: bytes as sent (gzip) and uncompressed, next to what a static folium export
  of the parcels would weigh (measured on a 10,000-parcel sample, scaled to the layer);
- first data on screen: from navigation start to the first parcel shape or count cell drawn,
  and to every layer drawn, on a cold server (first request after start) and warm;
- redraws: for a fixed list of views (zooming in on a district, then pans at street zooms where
  the parcels are drawn as shapes), the time from `setView` to every layer drawn and painted.

Prints a table and writes benchmarks/results/map-<time>.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import folium
import pyogrio
from make_parcels import BOUNDS, LAYER_ID
from playwright.sync_api import sync_playwright
from run import free_port, our_command, started

from geo_service.sample import build_sample

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}
TILE_HOSTS = {"tile.openstreetmap.org", "server.arcgisonline.com"}  # blocked, as offline
GOALS = {"html_bytes": 1_000_000, "first_data_ms": 2000, "redraw_ms": 1000}
STATIC_SAMPLE = 10_000

# Resolves when no request of the page is pending, after one more painted frame.
IDLE = """new Promise((resolve) => {
  const check = () => document.body.dataset.mapState === 'idle'
    ? requestAnimationFrame(() => resolve()) : requestAnimationFrame(check);
  check();
})"""
IDLE_JS = "() => " + IDLE
PARCELS = "siteMap.group(siteMap.config.layers.find((l) => l.id === layerId)).getLayers()"
MOVE_JS = (
    """async ([lat, lng, zoom, layerId]) => {
  const map = window[siteMap.config.map];
  const t0 = performance.now();
  map.setView([lat, lng], zoom, { animate: false });
  await """
    + IDLE
    + """;
  const parcels = """
    + PARCELS
    + """;
  return { ms: performance.now() - t0, shapes: parcels.filter((x) => x.feature).length,
           cells: parcels.filter((x) => x.options.cell).length };
}"""
)
FIRST_PARCELS_JS = (
    "(layerId) => document.body && document.body.dataset.mapState && "  # set once started
    + PARCELS
    + ".length > 0 ? performance.now() : false"
)


def prepare(data_dir: Path, parcels: Path) -> None:
    """The sample catalogue (built once) with the parcels layer linked in."""
    if not (data_dir / "industrial_zones").exists():
        build_sample(data_dir)
    link = data_dir / LAYER_ID
    if not link.exists():
        link.symlink_to(parcels.resolve(), target_is_directory=True)


def page_bytes(url: str) -> tuple[int, int]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request) as response:
        sent = response.read()
        gzipped = response.headers.get("Content-Encoding") == "gzip"
    return len(sent), len(gzip.decompress(sent) if gzipped else sent)


def static_export_bytes(parcels: Path, total: int) -> int:
    """What folium's own GeoJson export of the layer would weigh, from a sample, scaled."""
    sample = pyogrio.read_dataframe(
        parcels / "current.gpkg", layer=LAYER_ID, max_features=STATIC_SAMPLE
    )
    fmap = folium.Map(location=[21.2, 104.0], zoom_start=8, tiles=None)
    folium.GeoJson(sample.to_json()).add_to(fmap)
    return round(len(fmap.get_root().render().encode()) * total / len(sample))


def views(moves: int, seed: int) -> list[tuple[float, float, int]]:
    """Zoom in on Mai Sơn step by step, then pans at zooms 14–16 across the province."""
    rng = random.Random(seed)
    lon0, lat0, lon1, lat1 = BOUNDS
    path = [(21.17, 104.05, z) for z in range(9, 17)]
    while len(path) < moves:
        path.append((rng.uniform(lat0, lat1), rng.uniform(lon0, lon1), rng.choice([14, 15, 16])))
    return path[:moves]


def open_map(browser, url: str) -> dict:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    outside: list[str] = []

    def route(route):
        host = urllib.parse.urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            route.continue_()
            return
        if host not in TILE_HOSTS:
            outside.append(route.request.url)
        route.abort("internetdisconnected")

    page.route("**/*", route)
    page.goto(url, wait_until="commit")
    first = page.wait_for_function(
        FIRST_PARCELS_JS, arg=LAYER_ID, polling=16, timeout=60000
    ).json_value()
    page.evaluate(IDLE_JS)
    done = page.evaluate("performance.now()")
    return {"page": page, "context": context, "first_ms": first, "all_ms": done, "outside": outside}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=Path, default=HERE / "data" / LAYER_ID)
    parser.add_argument("--data-dir", type=Path, default=HERE / "data" / "map")
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3, help="warm page loads")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if not (args.parcels / "current.gpkg").exists():
        sys.exit(f"no {args.parcels / 'current.gpkg'}: run python benchmarks/make_parcels.py")
    if not Path(CHROMIUM).exists():
        sys.exit("Debian's chromium is missing: apt-get install -y chromium")
    if not 1 <= args.moves <= 1000 or not 1 <= args.runs <= 20:
        sys.exit("--moves must be in 1..1000 and --runs in 1..20")
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    prepare(data_dir, args.parcels)
    total = pyogrio.read_info(args.parcels / "current.gpkg", layer=LAYER_ID)["features"]

    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = our_command(port, data_dir, workers=2)
    log = results_dir / "map-server.log"
    env = {
        **os.environ,
        "GEO_SERVICE_ASSETS_DIR": str(HERE.parent / "node_modules"),
        "GEO_SERVICE_MAPS_DIR": str(HERE.parent / "maps"),
    }
    with started(command, env, f"{base}/conformance", log), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        loads = []
        for run in range(args.runs + 1):  # the first load meets a cold server
            opened = open_map(browser, f"{base}/map")
            loads.append(
                {"cold": run == 0, "first_ms": opened["first_ms"], "all_ms": opened["all_ms"]}
            )
            if opened["outside"]:
                sys.exit(f"requests left 127.0.0.1: {opened['outside'][:5]}")
            if run < args.runs:
                opened["context"].close()
        page = opened["page"]
        moves = [
            {"view": view, **page.evaluate(MOVE_JS, [*view, LAYER_ID])}
            for view in views(args.moves, args.seed)
        ]
        opened["context"].close()
        browser.close()
        sent, html = page_bytes(f"{base}/map")

    static = static_export_bytes(args.parcels, total)
    warm = [load for load in loads if not load["cold"]]
    redraws = [m["ms"] for m in moves]
    shapes = [m for m in moves if m["shapes"]]
    summary = {
        "parcels": total,
        "html_bytes_sent": sent,
        "html_bytes": html,
        "static_export_bytes_estimated": static,
        "first_data_ms_cold": loads[0]["first_ms"],
        "all_layers_ms_cold": loads[0]["all_ms"],
        "first_data_ms_warm_median": statistics.median(load["first_ms"] for load in warm),
        "all_layers_ms_warm_median": statistics.median(load["all_ms"] for load in warm),
        "redraw_ms_p50": percentile(redraws, 0.5),
        "redraw_ms_p95": percentile(redraws, 0.95),
        "redraw_ms_max": max(redraws),
        "redraws_with_shapes": len(shapes),
        "shapes_drawn_max": max((m["shapes"] for m in moves), default=0),
    }
    print(f"\nInvestor map, {total:,} parcels on, 1280×800, Chromium headless\n")
    print(f"HTML of /map          {html / 1000:8.1f} kB ({sent / 1000:.1f} kB sent gzip)")
    print(
        f"  static folium export {static / 1e6:8.1f} MB (estimated from {STATIC_SAMPLE:,} parcels)"
    )
    print(f"  ratio                {static / html:8.0f}x smaller")
    print(
        f"first data, cold      {loads[0]['first_ms']:8.0f} ms (every layer {loads[0]['all_ms']:.0f} ms)"
    )
    print(
        f"first data, warm      {summary['first_data_ms_warm_median']:8.0f} ms median of {len(warm)}"
        f" (every layer {summary['all_layers_ms_warm_median']:.0f} ms)"
    )
    print(
        f"pan/zoom redraw       p50 {summary['redraw_ms_p50']:.0f} ms, p95 {summary['redraw_ms_p95']:.0f}"
        f" ms, max {summary['redraw_ms_max']:.0f} ms over {len(moves)} moves"
        f" ({len(shapes)} drew parcel shapes, up to {summary['shapes_drawn_max']})"
    )
    print("\nzoom      ms  shapes  cells")
    for m in moves:
        print(f"{m['view'][2]:>4}  {m['ms']:6.0f}  {m['shapes']:6}  {m['cells']:5}")
    checks = {
        "HTML under 1 MB": html < GOALS["html_bytes"],
        "first data under 2 s (cold)": loads[0]["first_ms"] < GOALS["first_data_ms"],
        "every redraw under 1 s": max(redraws) < GOALS["redraw_ms"],
    }
    for name, met in checks.items():
        print(f"goal {name}: {'met' if met else 'NOT met'}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = results_dir / f"map-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "summary": summary,
                "loads": loads,
                "moves": moves,
                "goals": checks,
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            },
            indent=2,
        )
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
