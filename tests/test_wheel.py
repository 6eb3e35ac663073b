"""The wheel runs without a checkout, npm or node_modules.

Built once from this checkout (`python -m build`, whose backend runs `npm ci`), installed into a
fresh virtualenv, then `geo-service sample` and `geo-service serve` run from a folder outside
the checkout, and the map, a project page and the API docs are opened in Debian's Chromium
with every file served from 127.0.0.1.

The virtualenv is new, but it sees this test environment's packages the way
`--system-site-packages` sees a system's: a .pth file names their folder, after the
virtualenv's own. So the wheel is installed for real (`pip install --no-deps`, then `pip check`
that every dependency it declares is there) without fetching its dependencies again. The
checkout's editable install stays out of reach: Python runs the .pth files of site folders
only, not of a folder that a .pth file adds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest

from geo_service.locations import DEFINITION_FOLDERS
from geo_service.maps.assets import bundle_files

from .server import server_process
from .test_map_browser import Watched

ROOT = Path(__file__).resolve().parent.parent


class Installed(NamedTuple):
    venv: Path
    elsewhere: Path
    """A working directory outside the checkout."""
    env: dict[str, str]
    """This environment without PYTHONPATH and GEO_SERVICE_* settings."""

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.venv / "bin" / "geo-service"), *args],
            cwd=self.elsewhere,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )


def run(command: list, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{command}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", dist, ROOT], cwd=dist)
    (built,) = dist.glob("geo_service-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory) -> Installed:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    venv = elsewhere / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=elsewhere)
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "test-environment-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONPATH" and not key.startswith("GEO_SERVICE_")
    }
    pip = venv / "bin" / "pip"
    run([pip, "install", "--no-deps", "--disable-pip-version-check", wheel], elsewhere, env)
    run([pip, "check"], elsewhere, env)
    return Installed(venv, elsewhere, env)


def test_the_wheel_holds_the_assets_and_definitions_and_nothing_more(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assets = {n.split("bundled/assets/", 1)[1] for n in names if "/bundled/assets/" in n}
    assert assets == set(bundle_files(ROOT / "node_modules"))
    assert "@fortawesome/fontawesome-free/webfonts/fa-solid-900.woff2" in assets
    assert not any(name.endswith((".map", "package.json", "README.md")) for name in assets)
    for folder in DEFINITION_FOLDERS:
        expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).glob("*.toml")}
        bundled = {n.split("bundled/", 1)[1] for n in names if f"/bundled/{folder}/" in n}
        assert bundled == expected and expected, folder
    assert "geo_service/maps/static/map.js" in names
    assert "geo_service/records/migrations/env.py" in names


def test_the_installed_package_runs_alone(installed):
    where = run(
        [installed.venv / "bin" / "python", "-c",
         "import geo_service, sys; from geo_service import locations; "
         "print(geo_service.__file__); print(locations.running_from_checkout()); print(sys.path)"],
        installed.elsewhere, installed.env,
    ).splitlines()  # fmt: skip
    assert Path(where[0]).is_relative_to(installed.venv), where
    assert where[1] == "False"
    assert str(ROOT) not in where[2].replace(str(ROOT / ".venv"), "")  # the checkout is not
    version = installed.run("--version")
    assert version.returncode == 0 and "geo-service 0.1.0" in version.stdout


def test_sample_serve_and_the_map_from_the_wheel(browser, installed):
    data_dir = installed.elsewhere / "data"
    sample = installed.run("sample", "--data-dir", str(data_dir))
    assert sample.returncode == 0, sample.stderr
    doctor = installed.run("doctor", "--data-dir", str(data_dir))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "/bundled/assets" in doctor.stdout and "/bundled/maps" in doctor.stdout
    program = [str(installed.venv / "bin" / "geo-service")]
    with server_process(
        data_dir, program=program, cwd=installed.elsewhere, base_env=installed.env
    ) as (url, _):
        ready = json.load(urllib.request.urlopen(f"{url}/ready"))
        assert ready["status"] == "ready"
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            watched = Watched(page, url)
            failed, served = [], []
            page.on("response", lambda r: (failed if r.status >= 400 else served).append(r.url))
            watched.open("/map")
            watched.clean()
            layer = "industrial_zones"
            assert watched.drawn(layer) == watched.api_matched(layer) > 0
            assert any(u.endswith("/webfonts/fa-solid-900.woff2") for u in served), served
            watched.screenshot("wheel-map.png")
            projects = watched.api("/projects", limit="1")["projects"]
            page.goto(f"{url}/projects/{projects[0]['id']}?lang=vi")
            assert page.locator("h1").inner_text() == projects[0]["name_vi"]
            page.goto(f"{url}/docs")
            page.wait_for_selector(".swagger-ui .info .title")
            watched.clean()
            assert failed == [], failed
        finally:
            page.close()
