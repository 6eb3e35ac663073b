"""The map page as HTML: built from a definition in maps/, only our own assets, clear errors."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.maps.assets import required_files

from .command_line import Ran, geo_service
from .conftest import env_of, settings_of

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "node_modules"


def page_config(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="map-config">(.*?)</script>', html, re.S)
    assert match, "the page carries its config"
    return json.loads(match.group(1))


@pytest.fixture()
def maps_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "maps"
    folder.mkdir()
    shutil.copy(ROOT / "maps" / "investor.toml", folder)
    return folder


def client_for(data_dir: Path, maps_dir: Path, assets_dir: Path = ASSETS) -> TestClient:
    return TestClient(create_app(settings_of(data_dir, maps_dir=maps_dir, assets_dir=assets_dir)))


def test_map_page_holds_no_features_and_loads_only_our_assets(sample_dir, maps_dir):
    client = client_for(sample_dir, maps_dir)
    response = client.get("/map")
    assert response.status_code == 200
    html = response.text
    assert len(response.content) < 1_000_000
    assert "SL-KCN-MAISON-1" not in html  # no feature is embedded: the page asks the API
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    # the only addresses outside this server are basemap tile templates and attributions
    hosts = set(re.findall(r"https?://([^/\"'\\]+)", html))
    assert hosts <= {"tile.openstreetmap.org", "server.arcgisonline.com", "www.openstreetmap.org"}
    config = page_config(html)
    ids = [layer["id"] for layer in config["layers"]]
    assert ids[:3] == ["industrial_zones", "investment_projects", "tourism_areas"]
    assert set(ids) == {m["id"] for m in client.get("/collections").json()["collections"]}
    zones = config["layers"][0]
    # the investor map shows Sơn La's sites only: its definition's provinces filter its layers
    assert config["shown_provinces"] == ["14"] and config["province_names"]["14"] == "Tỉnh Sơn La"
    sonla = client.get("/collections/industrial_zones/items", params={"province_code": "14"})
    assert zones["total"] == sonla.json()["numberMatched"] == 3
    assert zones["color"] == "#c2410c" and zones["icon"] == "industry"
    assert zones["filters"] == [
        "zone_type",
        "status",
        "area_ha",
        "leasable_area_ha",
        "occupancy_pct",
        "completeness_pct",
        "dist_hanoi_km",
    ]
    assert zones["fields"]["area_ha"]["unit"] == "ha"
    assert config["provinces"][0]["code"] == "14" and len(config["provinces"][0]["communes"]) == 75


def test_adding_a_map_is_adding_a_file(sample_dir, maps_dir):
    text = (maps_dir / "investor.toml").read_text(encoding="utf-8")
    text = text.replace("all_layers = true", "all_layers = false")
    text = text.replace('title_en = "Son La investment site map"', 'title_en = "Tourism map"')
    (maps_dir / "tourism.toml").write_text(
        text.split("[[layers]]")[0]
        + """
[[layers]]
collection = "tourism_areas"
filters = ["tourism_level"]

[[layers]]
collection = "no_such_layer"
""",
        encoding="utf-8",
    )
    client = client_for(sample_dir, maps_dir)
    config = page_config(client.get("/map/tourism").text)
    assert config["title_en"] == "Tourism map"
    assert [layer["id"] for layer in config["layers"]] == ["tourism_areas"]
    listed = client.get("/maps").json()["maps"]
    assert [m["id"] for m in listed] == ["investor", "tourism"]
    (english,) = client.get("/maps?lang=en").json()["maps"][1]["links"]
    (vietnamese,) = client.get("/maps?lang=vi").json()["maps"][1]["links"]
    assert (english["title"], english["href"].split("/")[-1]) == ("Tourism map", "tourism?lang=en")
    assert vietnamese["title"] != english["title"] and vietnamese["href"].endswith("?lang=vi")


def test_a_map_extends_another_and_gives_only_what_differs(sample_dir, maps_dir):
    (maps_dir / "peer.toml").write_text(
        'extends = "investor"\ntitle_vi = "Bản đồ Quảng Ninh"\ntitle_en = "Quang Ninh map"\n'
        'provinces = ["22"]\nview = {}\n',
        encoding="utf-8",
    )
    client = client_for(sample_dir, maps_dir)
    investor = page_config(client.get("/map").text)
    peer = page_config(client.get("/map/peer").text)
    assert (peer["title_en"], peer["shown_provinces"]) == ("Quang Ninh map", ["22"])
    assert investor["shown_provinces"] == ["14"]
    # the investor map's layers, styles and filters, each layer counted within Quảng Ninh
    assert [(x["id"], x["color"], x["filters"]) for x in peer["layers"]] == [
        (x["id"], x["color"], x["filters"]) for x in investor["layers"]
    ]
    zones = next(x for x in peer["layers"] if x["id"] == "industrial_zones")
    within = client.get(
        "/collections/industrial_zones/items", params={"province_code": "22", "limit": 1}
    ).json()["numberMatched"]
    assert zones["total"] == within
    for name, text in {
        "loop.toml": 'extends = "loop"\ntitle_vi = "x"\ntitle_en = "x"\n',
        "orphan.toml": 'extends = "nowhere"\ntitle_vi = "x"\ntitle_en = "x"\n',
    }.items():
        (maps_dir / name).write_text(text, encoding="utf-8")
        response = client.get(f"/map/{name.removesuffix('.toml')}")
        assert response.status_code == 500 and response.json()["code"] == "InvalidMapDefinition"
        assert name in response.json()["description"]
        told = client.get(f"/map/{name.removesuffix('.toml')}?lang=vi").json()["description"]
        assert "extends" in told and " / " not in told and "which is not" not in told, told
    broken = client.get("/map/broken-fields?lang=vi")
    assert broken.status_code == 404  # (no such file) and then a definition pydantic refuses:
    (maps_dir / "broken-fields.toml").write_text('title_vi = "x"\ncolour = "red"\n', "utf-8")
    told = client.get("/map/broken-fields?lang=vi").json()["description"]
    assert "colour: không được nhận ở đây" in told and "Extra inputs" not in told, told


def test_map_errors_are_clear(sample_dir, maps_dir, tmp_path):
    client = client_for(sample_dir, maps_dir)
    missing = client.get("/map/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    (maps_dir / "broken.toml").write_text('title_vi = "x"\ncolour = "red"\n', encoding="utf-8")
    broken = client.get("/map/broken")
    assert broken.status_code == 500
    assert broken.json()["code"] == "InvalidMapDefinition"
    assert "broken.toml" in broken.json()["description"]
    investor = (maps_dir / "investor.toml").read_text(encoding="utf-8")
    (maps_dir / "paid.toml").write_text(
        investor.replace('"Esri.WorldImagery"', '"Thunderforest.OpenCycleMap"'), encoding="utf-8"
    )
    paid = client.get("/map/paid")
    assert paid.status_code == 500 and "needs an API key" in paid.json()["description"]
    no_assets = client_for(sample_dir, maps_dir, assets_dir=tmp_path / "empty").get("/map")
    assert no_assets.status_code == 503
    assert "npm ci" in no_assets.json()["description"]


def test_serve_refuses_to_start_without_assets(sample_dir, tmp_path):
    env = {**os.environ, "GEO_SERVICE_ASSETS_DIR": str(tmp_path / "none")}
    result = subprocess.run(
        [sys.executable, "-m", "geo_service.cli", "serve", "--data-dir", str(sample_dir)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "npm ci" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_every_required_asset_is_installed():
    missing = [path for path in required_files() if not (ASSETS / path).is_file()]
    assert not missing, "run `npm ci` (the README's commands do)"


def test_api_docs_use_our_swagger_copy(sample_client):
    html = sample_client.get("/docs").text
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr.net" not in html and "tiangolo" not in html


def test_maps_command_checks_definitions_against_the_layers(sample_dir, maps_dir):
    def check() -> Ran:
        env = {**env_of(sample_dir), "GEO_SERVICE_MAPS_DIR": str(maps_dir)}
        return geo_service("maps", "--data-dir", sample_dir, env=env)

    good = check()
    assert good.returncode == 0 and "investor: ok" in good.stdout, good.stdout + good.stderr
    investor = (maps_dir / "investor.toml").read_text(encoding="utf-8")
    (maps_dir / "typo.toml").write_text(
        investor.replace('"occupancy_pct"]\nfilters', '"occupancy"]\nfilters')
        + '\n[[layers]]\ncollection = "border_gates"\n',
        encoding="utf-8",
    )
    (maps_dir / "nobase.toml").write_text(
        investor.replace('"Esri.WorldImagery"', '"Nowhere.Tiles"'), encoding="utf-8"
    )
    bad = check()
    assert bad.returncode == 1
    assert "industrial_zones: no field 'occupancy' (tooltip)" in bad.stdout
    assert "note: layer 'border_gates' is not published" in bad.stdout
    assert "nobase: ERROR" in bad.stdout and "unknown basemap 'Nowhere.Tiles'" in bad.stdout
    # the page itself still opens, leaving out what it cannot show
    page = client_for(sample_dir, maps_dir).get("/map/typo")
    assert page.status_code == 200
    zones = next(x for x in page_config(page.text)["layers"] if x["id"] == "industrial_zones")
    assert zones["tooltip"] == ["zone_type", "area_ha"]


def test_every_answer_is_nosniff_unframeable_and_html_names_its_inline_code(sample_dir, maps_dir):
    client = client_for(sample_dir, maps_dir)
    for path in ("/collections", "/collections/communes/items?limit=1", "/nope",
                 "/static/map/map.js", "/map", "/docs", "/?f=html"):  # fmt: skip
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
    page = client.get("/map")
    policy = page.headers["content-security-policy"]
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.S)
    assert inline, "folium writes inline scripts"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "unsafe" not in policy and "frame-ancestors 'none'" in policy
    assert (
        "https://tile.openstreetmap.org" in policy and "https://server.arcgisonline.com" in policy
    )
    assert "content-security-policy" not in client.get("/collections").headers
