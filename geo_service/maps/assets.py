"""Every script and style the pages load, served by this service from the npm packages that
`npm ci` installs (package.json + package-lock.json), never from a CDN: provincial intranets
and offline machines cannot reach CDNs, and the map is blank without them.

A checkout serves them from its `node_modules`; a wheel bundles `bundle_files` (see
`geo_service/locations.py`). This module imports only the standard library: the build backend
loads it by path.
"""

from __future__ import annotations

import re
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
    "leaflet.vectorgrid",
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
VECTOR_GRID_JS = "leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js"
"""Leaflet.VectorGrid with its protobuf decoders: the map draws big layers from vector tiles."""
SWAGGER_JS = "swagger-ui-dist/swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui-dist/swagger-ui.css"
CHART_JS = "chart.js/dist/chart.umd.min.js"
"""Chart.js (the dashboard's charts), its self-contained UMD build."""


def vendor_url(path: str) -> str:
    return f"{VENDOR_ROUTE}/{path}"


def served(assets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(name, node_modules path) pairs as folium's `default_js`/`default_css` on our route."""
    return [(name, vendor_url(path)) for name, path in assets]


def required_styles() -> list[str]:
    """The style sheets the pages link (node_modules paths)."""
    plugin_styles = [path for _, styles in PLUGINS.values() for _, path in styles]
    return [*(path for _, path in LEAFLET_CSS), *plugin_styles, SWAGGER_CSS]


def required_files() -> list[str]:
    """The scripts and style sheets the pages link (node_modules paths)."""
    plugin_scripts = [path for scripts, _ in PLUGINS.values() for _, path in scripts]
    return [
        *(path for _, path in LEAFLET_JS),
        *plugin_scripts,
        VECTOR_GRID_JS,
        SWAGGER_JS,
        CHART_JS,
        *required_styles(),
    ]


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+?)['"]?\s*\)""")
LICENCE_FILE = re.compile(r"^(LICEN[CS]E|MIT-LICEN[CS]E|NOTICE)", re.IGNORECASE)


def loaded_by_styles(assets_dir: Path) -> list[str]:
    """The files the required style sheets load themselves (fonts, images), as paths under
    `assets_dir`; inline `data:` URLs, fragments and other sites' URLs are not files."""
    found = []
    for css in required_styles():
        text = (assets_dir / css).read_text(encoding="utf-8", errors="replace")
        for url in CSS_URL.findall(text):
            if url.startswith(("data:", "#", "http:", "https:", "//")):
                continue
            relative = (Path(css).parent / url.split("?")[0].split("#")[0]).as_posix()
            found.append(_normalise(relative))
    return sorted(set(found))


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def bundle_files(assets_dir: Path) -> list[str]:
    """What a wheel carries from node_modules: the files the pages load, and each package's
    licence and notice files (their terms ask for them to go along)."""
    assets_dir = Path(assets_dir)
    licences = [
        f"{package}/{entry.name}"
        for package in VENDOR_PACKAGES
        for entry in sorted((assets_dir / package).iterdir())
        if entry.is_file() and LICENCE_FILE.match(entry.name)
    ]
    return sorted({*required_files(), *loaded_by_styles(assets_dir), *licences})


def missing_assets(assets_dir: Path) -> list[str]:
    """The required files missing from `assets_dir` (node_modules, or the wheel's bundle)."""
    return [path for path in required_files() if not (Path(assets_dir) / path).is_file()]


def assets_fix() -> str:
    """How to bring the pages' files back, for a checkout or an installed wheel."""
    from ..locations import running_from_checkout  # here: the build loads this file alone

    if running_from_checkout():
        return "run `npm ci` in the project folder (or `bash scripts/run.sh`, which does it)"
    return (
        "reinstall the package from its wheel (which bundles them), or point "
        "GEO_SERVICE_ASSETS_DIR at a node_modules folder made by `npm ci`"
    )


def missing_summary(assets_dir: Path) -> str | None:
    """None when the pages' files are all there, else which are missing."""
    missing = missing_assets(assets_dir)
    if not missing:
        return None
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return f"missing in {assets_dir} ({missing[0]}{more})"


def missing_assets_message(assets_dir: Path) -> str | None:
    """None when the pages' files are all there, else what is missing and how to fix it."""
    missing = missing_summary(assets_dir)
    return f"web assets {missing}: {assets_fix()}" if missing else None
