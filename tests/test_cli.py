"""The `geo-service` command: sample from any directory, layers table, serve builds the sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from . import command_line
from .command_line import Ran
from .conftest import env_of
from .server import running_server

SAMPLE_LAYERS = {
    "industrial_zones",
    "tourism_areas",
    "energy_sites",
    "logistics_trade",
    "investment_projects",
    "land_auction_plots",
    "communes",
    "transport",
    "raw_material_areas",
}


def geo_service(*args: str, cwd: Path, data_dir: Path) -> Ran:
    """`geo-service` on `data_dir` (and the database a PostGIS backend made for it)."""
    return command_line.geo_service(*args, "--data-dir", data_dir, cwd=cwd, env=env_of(data_dir))


def test_sample_then_layers_from_any_directory(tmp_path, backend):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data_dir = backend.claim(tmp_path / "data")
    built = geo_service("sample", cwd=elsewhere, data_dir=data_dir)
    assert built.returncode == 0, built.stderr
    listed = geo_service("layers", cwd=elsewhere, data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert set(rows) == SAMPLE_LAYERS
    assert rows["communes"][3] == str(75 + 54 + 124)


def test_layers_on_an_empty_directory_says_what_to_do(tmp_path, backend):
    listed = geo_service("layers", cwd=tmp_path, data_dir=backend.claim(tmp_path))
    assert listed.returncode == 1 and "geo-service sample" in listed.stdout


def test_serve_builds_the_sample_when_the_data_directory_is_empty(tmp_path, backend):
    with (
        running_server(backend.claim(tmp_path / "fresh")) as url,
        urllib.request.urlopen(f"{url}/collections") as r,
    ):
        ids = {c["id"] for c in json.load(r)["collections"]}
    assert ids == SAMPLE_LAYERS


@pytest.mark.geopackage
@pytest.mark.parametrize(("flags", "logged"), [((), True), (("--no-access-log",), False)])
def test_serve_writes_an_access_log_unless_told_not_to(sample_dir, monkeypatch, flags, logged):
    import uvicorn

    from geo_service import cli

    started: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(options))
    monkeypatch.setattr(os, "environ", os.environ.copy())  # serve sets folders for its workers
    assert cli.main(["serve", "--data-dir", str(sample_dir), *flags]) == 0
    assert started["access_log"] is logged and started["log_level"] == "info"


def test_export_writes_a_file_and_refuses_bad_input(sample_dir, tmp_path):
    import pyogrio

    out = tmp_path / "zones.gpkg"
    done = geo_service(
        "export", "--layer", "industrial_zones", "--format", "gpkg", "--crs", "EPSG:9206",
        "--filter", "province_code = '14'", "-o", str(out), cwd=tmp_path, data_dir=sample_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = pyogrio.read_dataframe(out)
    assert len(frame) == 3 and frame.crs.to_epsg() == 9206 and set(frame["province_code"]) == {"14"}
    bad = geo_service(
        "export", "--layer", "industrial_zones", "--format", "csv", "--filter", "area_ha >",
        "-o", str(tmp_path / "x.csv"), cwd=tmp_path, data_dir=sample_dir,
    )  # fmt: skip
    assert bad.returncode == 2 and "CQL2" in bad.stderr and not (tmp_path / "x.csv").exists()
    limited = geo_service(
        "export", "--layer", "communes", "--format", "csv", "--max-features", "10",
        "-o", str(tmp_path / "c.csv"), cwd=tmp_path, data_dir=sample_dir,
    )  # fmt: skip
    assert limited.returncode == 2 and "10" in limited.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("export", "--layer", "industrial_zones", "--format", "csv"),
        ("projects", "export"),
        ("report", "--year", "2026"),
    ],
)
def test_a_file_that_cannot_be_written_is_refused_before_the_work(sample_dir, tmp_path, command):
    for output, said in (
        (tmp_path / "missing" / "out.xlsx", f"no folder {tmp_path / 'missing'}"),
        (tmp_path, f"{tmp_path} is a folder; give a file name"),
    ):
        refused = geo_service(*command, "-o", str(output), cwd=tmp_path, data_dir=sample_dir)
        assert refused.returncode == 2, refused.stderr
        assert said in refused.stderr and "Traceback" not in refused.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_format_is_told_by_the_file_name_unless_given(sample_dir, tmp_path):
    import pyogrio

    layer = ("export", "--layer", "industrial_zones")
    for name, driver in (
        ("zones.gpkg", "GPKG"),
        ("zones.fgb", "FlatGeobuf"),
        ("zones.geojson", "GeoJSON"),
    ):
        done = geo_service(*layer, "-o", str(tmp_path / name), cwd=tmp_path, data_dir=sample_dir)
        assert done.returncode == 0, done.stderr
        assert pyogrio.read_info(tmp_path / name)["driver"] == driver
    shapefile = geo_service(
        *layer, "-o", str(tmp_path / "zones.zip"), cwd=tmp_path, data_dir=sample_dir
    )
    assert shapefile.returncode == 0 and zipfile.is_zipfile(tmp_path / "zones.zip")
    given = geo_service(
        *layer, "--format", "csv", "-o", str(tmp_path / "z.txt"), cwd=tmp_path, data_dir=sample_dir
    )
    assert given.returncode == 0 and (tmp_path / "z.txt").read_text(
        encoding="utf-8-sig"
    ).startswith("Mã,")
    for command in (layer, ("projects", "export"), ("report", "--year", "2026")):
        unknown = geo_service(
            *command, "-o", str(tmp_path / "out.dat"), cwd=tmp_path, data_dir=sample_dir
        )
        assert unknown.returncode == 2 and "cannot tell the format of out.dat" in unknown.stderr
        assert not (tmp_path / "out.dat").exists()


def test_a_file_built_but_not_delivered_is_said_and_cleaned_up(tmp_path, capsys):
    from geo_service.cli import _deliver

    built = tmp_path / "build" / "out.csv"
    built.parent.mkdir()
    built.write_text("a,b\n")
    assert _deliver("export", built, tmp_path / "gone" / "out.csv") == 1
    assert "geo-service export: cannot write" in capsys.readouterr().err
    assert not built.parent.exists()


def test_the_commands_see_pipeline_projects_as_a_collection(sample_dir, sample_client, tmp_path):
    import pyogrio

    out = tmp_path / "late.gpkg"
    done = geo_service(
        "export", "--layer", "investment_projects", "--format", "gpkg",
        "--filter", "days_behind > 0", "-o", str(out), cwd=tmp_path, data_dir=sample_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    late = sample_client.get("/projects", params={"behind": "true", "limit": 100}).json()
    assert late["numberMatched"] > 0
    frame = pyogrio.read_dataframe(out)
    assert sorted(frame["code"]) == sorted(p["id"] for p in late["projects"])
    listed = geo_service("layers", cwd=tmp_path, data_dir=sample_dir)
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows["investment_projects"][3] == str(
        sample_client.get("/projects").json()["numberMatched"]
    )
    source = tmp_path / "p.geojson"
    source.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    refused = geo_service(
        "import", str(source), "--layer", "investment_projects", cwd=tmp_path, data_dir=sample_dir,
    )  # fmt: skip
    assert refused.returncode == 2 and "/projects" in refused.stderr


def test_choices_are_named_in_help_and_errors_without_loading_their_tables(tmp_path):
    """The export formats, report formats and roles are offered by name in each command's help
    and checked on use, while a command that needs none of them starts without GDAL, pandas or
    the records database (their tables are read only when the argument is used)."""
    from geo_service.admin_store import ROLES
    from geo_service.dashboard.report import FORMATS as REPORT_FORMATS
    from geo_service.exports.formats import FORMATS

    def run(*args: str) -> Ran:
        return command_line.geo_service(*args, cwd=tmp_path)

    for args, names in (
        (("export",), FORMATS),
        (("report",), REPORT_FORMATS),
        (("token", "create"), ROLES),
    ):
        shown = run(*args, "--help")
        assert shown.returncode == 0 and ", ".join(names) in " ".join(shown.stdout.split())
    refused = run("token", "create", "--role", "boss", "--data-dir", str(tmp_path / "d"))
    assert refused.returncode == 2 and "'editor', 'reviewer', 'admin'" in refused.stderr
    assert not (tmp_path / "d").exists()
    wrong = run("export", "--layer", "a", "--format", "dxf", "-o", str(tmp_path / "a.dxf"))
    assert wrong.returncode == 2 and "'geojson'" in wrong.stderr
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, geo_service.cli; print(' '.join(sys.modules))"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.split()  # fmt: skip
    assert not {"pyogrio", "pandas", "openpyxl", "geo_service.records"} & set(loaded)


STARTED_APP = """
import sys
from fastapi.testclient import TestClient
from geo_service.app import create_app
with TestClient(create_app()) as client:
    assert client.get("/collections").status_code == 200
print(" ".join(sys.modules))
"""


def test_a_worker_starts_without_what_only_pdfs_map_pages_and_addresses_need(tmp_path):
    """fpdf, matplotlib, folium and vietnamadminunits' address parsers are imported when a PDF,
    a map page or an address asks for them, not by every worker at its start."""
    loaded = subprocess.run(
        [sys.executable, "-c", STARTED_APP],
        capture_output=True, text=True, timeout=120, check=True,
        env=os.environ | {"GEO_SERVICE_DATA_DIR": str(tmp_path)},
    ).stdout.split()  # fmt: skip
    assert "geo_service.app" in loaded
    assert not {"fpdf", "matplotlib", "folium", "vietnamadminunits"} & set(loaded)
