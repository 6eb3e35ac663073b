"""Every script and style the pages load, served by this service from the npm packages that
`npm ci` installs (package.json + package-lock.json), never from a CDN: provincial intranets
and offline machines cannot reach CDNs, and the map is blank without them.
"""

from __future__ import annotations

from pathlib import Path

VENDOR_ROUTE = "/static/vendor"
OWN_ROUTE = "/static/map"
OWN_DIR = Path(__file__).parent / "static"

VENDOR_PACKAGES = (
    "leaflet",
    "leaflet.markercluster",
    "leaflet.fullscreen",
    "leaflet.locatecontrol",
    "leaflet-groupedlayercontrol",
    "@fortawesome/fontawesome-free",
    "swagger-ui-dist",
    "chart.js",
)
"""The npm packages whose folders are served under VENDOR_ROUTE."""

LEAFLET_JS = [("leaflet", "leaflet/dist/leaflet.js")]
LEAFLET_CSS = [
    ("leaflet_css", "leaflet/dist/leaflet.css"),
    ("fontawesome_css", "@fortawesome/fontawesome-free/css/all.min.css"),
]
PLUGINS: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "MarkerCluster": (
        [("markerclusterjs", "leaflet.markercluster/dist/leaflet.markercluster.js")],
        [
            ("markerclustercss", "leaflet.markercluster/dist/MarkerCluster.css"),
            ("markerclusterdefaultcss", "leaflet.markercluster/dist/MarkerCluster.Default.css"),
        ],
    ),
    "Fullscreen": (
        [("Control.Fullscreen.js", "leaflet.fullscreen/Control.FullScreen.js")],
        [("Control.FullScreen.css", "leaflet.fullscreen/Control.FullScreen.css")],
    ),
    "LocateControl": (
        [("Control_locate_min_js", "leaflet.locatecontrol/dist/L.Control.Locate.min.js")],
        [("Control_locate_min_css", "leaflet.locatecontrol/dist/L.Control.Locate.min.css")],
    ),
    "GroupedLayerControl": (
        [
            (
                "leaflet.groupedlayercontrol.min.js",
                "leaflet-groupedlayercontrol/dist/leaflet.groupedlayercontrol.min.js",
            )
        ],
        [
            (
                "leaflet.groupedlayercontrol.min.css",
                "leaflet-groupedlayercontrol/dist/leaflet.groupedlayercontrol.min.css",
            )
        ],
    ),
}
SWAGGER_JS = "swagger-ui-dist/swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui-dist/swagger-ui.css"
CHART_JS = "chart.js/dist/chart.umd.min.js"
"""Chart.js (the dashboard's charts), its self-contained UMD build."""


def vendor_url(path: str) -> str:
    return f"{VENDOR_ROUTE}/{path}"


def served(assets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(name, node_modules path) pairs as folium's `default_js`/`default_css` on our route."""
    return [(name, vendor_url(path)) for name, path in assets]


def required_files() -> list[str]:
    files = [path for _, path in LEAFLET_JS + LEAFLET_CSS]
    for scripts, styles in PLUGINS.values():
        files += [path for _, path in scripts + styles]
    return [*files, SWAGGER_JS, SWAGGER_CSS, CHART_JS]


def missing_assets(assets_dir: Path) -> list[str]:
    """The required files that `npm ci` has not put in `assets_dir` (node_modules)."""
    return [path for path in required_files() if not (Path(assets_dir) / path).is_file()]


def missing_assets_message(assets_dir: Path) -> str | None:
    missing = missing_assets(assets_dir)
    if not missing:
        return None
    return (
        f"web assets missing in {assets_dir} ({missing[0]}"
        + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
        + "): run `npm ci` in the project folder (or `bash scripts/run.sh`, which does it)"
    )
