"""The build backend: setuptools' own, with the web assets and data definitions bundled.

A wheel must run without a checkout: the map's scripts, styles and fonts come from npm, and the
map definitions and procedures are top-level folders of the checkout. So, around setuptools:

- `build_sdist` copies the definition folders into `geo_service/bundled/` first, so the source
  archive carries them (as package data) along with package.json and package-lock.json;
- `build_wheel` does the same (from the checkout's folders, or finds them already there in an
  unpacked source archive), runs `npm ci` in a temporary folder from package-lock.json and
  copies only the files the pages load (`geo_service.maps.assets.bundle_files`) into
  `geo_service/bundled/assets/`;
- `build_wheel` also compiles the gettext catalogues (`geo_service/i18n/catalogues.py`, with
  Babel, a build requirement);
- whatever it copied into the source tree is removed again afterwards (it is not committed);
- an editable install (`pip install -e .`) is setuptools' own: a checkout uses its
  `node_modules` and folders in place.

`geo_service/locations.py` (where the service looks) and `geo_service/maps/assets.py` (what the
pages load) are read by path: the build environment has none of the package's dependencies.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403  (every hook this module does not wrap)

ROOT = Path.cwd()
"""The source tree being built: the build frontend runs the backend from its root."""
NPM_FILES = ("package.json", "package-lock.json")


def _module(relative: str) -> ModuleType:
    name = f"geo_service_build_{Path(relative).stem}"
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    assert spec and spec.loader, relative
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and annotations look their module up
    spec.loader.exec_module(module)
    return module


def _copy_tree(source: Path, target: Path, copied: list[Path]) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    copied.append(target)


def _stage_definitions(copied: list[Path]) -> None:
    """Each definition folder of the checkout into the package; from an unpacked source
    archive they are there already."""
    locations = _module("geo_service/locations.py")
    for name in locations.DEFINITION_FOLDERS:
        source, target = ROOT / name, locations.BUNDLED_DIR / name
        if source.is_dir():
            _copy_tree(source, target, copied)
        elif not target.is_dir():
            raise SystemExit(f"cannot build: the definition folder {name}/ is missing")


def _npm_install(folder: Path) -> Path:
    """`npm ci` from the lock file, in `folder`; returns its node_modules."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "cannot build the wheel: npm is needed to fetch the map's scripts and styles "
            "(Debian: apt-get install nodejs npm)"
        )
    for name in NPM_FILES:
        shutil.copy2(ROOT / name, folder / name)
    subprocess.run(
        [npm, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund",
         "--loglevel=error"],
        cwd=folder, check=True, stdout=sys.stderr,
    )  # fmt: skip
    return folder / "node_modules"


def _stage_assets(copied: list[Path]) -> None:
    locations = _module("geo_service/locations.py")
    assets = _module("geo_service/maps/assets.py")
    target = locations.BUNDLED_DIR / locations.ASSETS_IN_BUNDLE
    with tempfile.TemporaryDirectory(prefix="geo-service-npm-") as folder:
        node_modules = _npm_install(Path(folder))
        if target.exists():
            shutil.rmtree(target)
        copied.append(target)
        for relative in assets.bundle_files(node_modules):
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(node_modules / relative, destination)
    # a checkout's earlier `build/` may hold another bundle: setuptools would add its files
    for stale in ROOT.glob("build/lib*/geo_service/bundled"):
        shutil.rmtree(stale)


@contextlib.contextmanager
def _staged(*stages) -> Iterator[None]:
    copied: list[Path] = []
    try:
        for stage in stages:
            stage(copied)
        yield
    finally:
        for path in copied:
            shutil.rmtree(path, ignore_errors=True)
        bundled = ROOT / "geo_service" / "bundled"
        if bundled.is_dir() and not any(bundled.iterdir()):
            bundled.rmdir()


def build_sdist(sdist_directory, config_settings=None):
    with _staged(_stage_definitions):
        return build_meta.build_sdist(sdist_directory, config_settings)


def _compile_catalogues(copied: list[Path]) -> None:
    """The gettext catalogues' `.mo` and the pages' `messages.json` from the `.po` files (build
    outputs, ignored by git, so left in place for a checkout that runs from its tree)."""
    _module("geo_service/i18n/catalogues.py").compile_all(ROOT / "geo_service" / "locale")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with _staged(_stage_definitions, _stage_assets, _compile_catalogues):
        return build_meta.build_wheel(wheel_directory, config_settings, metadata_directory)
