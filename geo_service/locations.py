"""Where the service finds its web assets and its data definitions (maps, procedures, …).

In this order: the folder a setting names (`GEO_SERVICE_ASSETS_DIR`, `GEO_SERVICE_MAPS_DIR`, …);
else, when the package runs from a checkout (an editable install), the checkout's own folder
(`node_modules` from `npm ci`, `maps/`, `procedures/`); else the copy that the wheel bundles in
`geo_service/bundled/`. The settings ask `default_folder` only when they name no folder.

This module imports nothing but the standard library: the build backend
(`build_backend/geo_service_build.py`) loads it by path to learn what to bundle and where.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent
"""The checkout's root when the package runs from one; in an installed wheel, site-packages."""
BUNDLED_DIR = PACKAGE_DIR / "bundled"
"""What the wheel adds to the package: `assets/` (the npm files the pages load, in
node_modules' layout) and one folder per entry of DEFINITION_FOLDERS."""

ASSETS_IN_CHECKOUT = "node_modules"
ASSETS_IN_BUNDLE = "assets"
DEFINITION_FOLDERS = ("maps", "procedures", "targets", "kinds")
"""Top-level folders of data definitions (TOML files) that the wheel bundles under the same
name; a new kind of definition folder is one more entry here and its setting."""


def running_from_checkout() -> bool:
    """True when the package is imported from a checkout rather than from an installed wheel."""
    return (CHECKOUT_DIR / "pyproject.toml").is_file() and (CHECKOUT_DIR / "package.json").is_file()


def default_folder(name: str) -> Path:
    """The folder to use for `name` (one of DEFINITION_FOLDERS, or ASSETS_IN_CHECKOUT) when no
    setting names one: the checkout's own when running from a checkout (even if it is missing,
    so that an error names the place to fix: `npm ci`), else the copy bundled in the wheel."""
    if running_from_checkout():
        return CHECKOUT_DIR / name
    return BUNDLED_DIR / (ASSETS_IN_BUNDLE if name == ASSETS_IN_CHECKOUT else name)
