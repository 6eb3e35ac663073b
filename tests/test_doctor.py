"""`geo-service --version` and `geo-service doctor`: each failed check names its fix."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from geo_service.doctor import check_vn2000
from geo_service.maps.assets import bundle_files
from geo_service.records import Records, database_url, upgrade
from geo_service.sample import build_sample

from .command_line import Ran, geo_service
from .server import free_port

ROOT = Path(__file__).resolve().parent.parent


def doctor(*args: str, env: dict[str, str] | None = None, cwd: Path) -> Ran:
    return geo_service(*args, env=env, cwd=cwd)


def lines_of(output: str) -> dict[str, tuple[str, str]]:
    """check name → (its line, the fix line after it, or '')."""
    found, lines = {}, output.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(ok  |FAIL)  (.+?): ", line)
        if match:
            following = lines[i + 1] if i + 1 < len(lines) else ""
            fix = following.strip() if following.startswith("      fix: ") else ""
            found[match.group(2)] = (line, fix)
    return found


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A sample catalogue with its records database migrated: everything a service needs."""
    folder = tmp_path_factory.mktemp("doctor-data")
    build_sample(folder)
    records = Records(database_url(None, folder))
    upgrade(records)
    records.dispose()
    return folder


def test_version_names_the_libraries(tmp_path):
    result = doctor("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("geo-service 0.1.0", "GDAL 3.", "PROJ ", "GEOS ", "SQLite 3."):
        assert name in result.stdout, result.stdout


def test_a_sound_installation_passes_every_check(data_dir, tmp_path):
    result = doctor("doctor", "--data-dir", str(data_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = lines_of(result.stdout)
    assert all(line.startswith("ok") for line, _ in checks.values()), result.stdout
    for name in (
        "libraries",
        "GDAL vector drivers",
        "GDAL raster drivers",
        "VN-2000 EPSG:9206 (Sơn La)",
        "VN-2000 EPSG:5899 (Quảng Ninh)",
        "web assets",
        "catalogues",
        "map definitions",
        "procedures",
        "layer kinds",
        "data directory",
        "records database",
    ):
        assert name in checks, result.stdout
    for driver in ("GPKG", "ESRI Shapefile", "FlatGeobuf", "KML", "GeoJSON", "CSV", "OAPIF"):
        assert driver in checks["GDAL vector drivers"][0]


def test_a_missing_asset_fails_with_its_fix(data_dir, tmp_path):
    assets = tmp_path / "assets"
    for relative in bundle_files(ROOT / "node_modules"):
        (assets / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "node_modules" / relative, assets / relative)
    (assets / "leaflet/dist/leaflet.js").unlink()
    result = doctor(
        "doctor",
        "--data-dir",
        str(data_dir),
        env={"GEO_SERVICE_ASSETS_DIR": str(assets)},
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout
    checks = lines_of(result.stdout)
    line, fix = checks["web assets"]
    assert line.startswith("FAIL") and "leaflet/dist/leaflet.js" in line, result.stdout
    assert "npm ci" in fix
    assert [name for name, (line, _) in checks.items() if line.startswith("FAIL")] == ["web assets"]


def test_an_unreachable_database_fails_with_its_fix(data_dir, tmp_path):
    url = f"postgresql://geo:s3cret-word@127.0.0.1:{free_port()}/records"  # nothing listens
    result = doctor(
        "doctor",
        "--data-dir",
        str(data_dir),
        env={"GEO_SERVICE_DATABASE_URL": url},
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout
    line, fix = lines_of(result.stdout)["records database"]
    assert line.startswith("FAIL") and "cannot reach" in line and "127.0.0.1" in line
    assert "GEO_SERVICE_DATABASE_URL" in fix and "geo-service db upgrade" in fix
    assert "s3cret-word" not in result.stdout + result.stderr
    assert "1 of" in result.stderr


def test_missing_folders_and_a_database_behind_name_their_fixes(tmp_path):
    data_dir = tmp_path / "data"
    result = doctor(
        "doctor",
        "--data-dir",
        str(data_dir),
        env={
            "GEO_SERVICE_PROCEDURES_DIR": str(tmp_path / "none"),
            "GEO_SERVICE_KINDS_DIR": str(tmp_path / "none"),
        },
        cwd=tmp_path,
    )
    assert result.returncode == 1
    checks = lines_of(result.stdout)
    assert "geo-service sample --data-dir" in checks["data directory"][1]
    assert "geo-service procedures" in checks["procedures"][1]
    assert "geo-service kinds" in checks["layer kinds"][1]
    assert "geo-service db upgrade" in checks["records database"][1]
    data_dir.mkdir()
    Records(database_url(None, data_dir)).engine.connect().close()  # an empty database
    line, fix = lines_of(doctor("doctor", "--data-dir", str(data_dir), cwd=tmp_path).stdout)[
        "records database"
    ]
    assert "none (empty)" in line and "geo-service db upgrade" in fix


def test_vn2000_round_trips_within_a_centimetre_with_the_datum_shift():
    checks = check_vn2000()
    assert [c.ok for c in checks] == [True, True], checks
    for check in checks:
        shift = float(re.search(r"datum shift (\d+) m", check.found).group(1))
        assert shift > 100  # VN-2000 is some 220 m from WGS 84 in the north-west


def test_an_uncompiled_catalogue_fails_with_its_fix(tmp_path):
    """Without its compiled catalogue a language would read in English: doctor says so."""
    from geo_service.doctor import check_catalogues
    from geo_service.i18n.catalogues import LOCALE_DIR

    locale = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, locale)
    assert check_catalogues(locale).ok
    (locale / "ko" / "LC_MESSAGES" / "messages.mo").unlink()
    check = check_catalogues(locale)
    assert not check.ok and "ko/LC_MESSAGES/messages.mo" in check.found
    assert "scripts/catalogues.sh compile" in check.fix
