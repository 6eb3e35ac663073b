"""Investor facts: distances against an independent pyproj calculation, completeness in the API
and in /admin/completeness, the new maps and the sample's honesty rules."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from geo_service.app import create_app
from geo_service.facts import fact_names, hanoi_centre, round_km
from geo_service.kinds import fields_for_kind
from geo_service.places import province_centre
from geo_service.sample import source_files
from geo_service.sample.citations import documents

from .conftest import settings_of, store_of
from .staff import bearer, staff_token

GEOD = Geod(ellps="WGS84")


MAPS = Path(__file__).parent.parent / "maps"


@pytest.fixture(scope="module")
def client(sample_dir):
    with TestClient(create_app(settings_of(sample_dir, maps_dir=MAPS))) as client:
        yield client


def features(client: TestClient, layer: str, **params) -> list[dict]:
    body = client.get(f"/collections/{layer}/items", params={"limit": 1000, **params}).json()
    return body["features"]


def test_distances_equal_an_independent_geodesic_calculation(client):
    """The zone's placeholder is a circle around a point; a target point outside it is at the
    geodesic distance from the circle's centre less the circle's radius, which pyproj gives
    without going through our code."""
    gate = features(client, "logistics_trade", facility_type="border_gate")
    (gate,) = [g for g in gate if g["properties"]["province_code"] == "14"]
    gx, gy = gate["geometry"]["coordinates"]
    checked = 0
    for zone in features(client, "industrial_zones", province_code="14"):
        shape = shapely.geometry.shape(zone["geometry"])
        ring = shapely.get_coordinates(shape.exterior)
        centre = ring[:-1].mean(axis=0)
        radius = max(GEOD.inv(*centre, *ring[0])[2], 1)
        expected_gate = GEOD.inv(*centre, gx, gy)[2]
        props = zone["properties"]
        # within the radius: the nearest point lies on a 12-gon's edge, not the circle
        assert abs(props["dist_border_gate_km"] * 1000 - expected_gate) <= radius + 500
        assert props["dist_border_gate_km"] == round_km(props["dist_border_gate_km"] * 1000)
        hanoi = hanoi_centre()
        expected_hanoi = GEOD.inv(*centre, hanoi.x, hanoi.y)[2]
        assert abs(props["dist_hanoi_km"] * 1000 - expected_hanoi) <= radius + 500
        assert "Cửa khẩu Lóng Sập" in props["distances_source"]
        checked += 1
    assert checked == 3


def test_distances_look_for_targets_in_the_sites_province_and_stay_empty_without_one(client):
    # Sơn La has no airport in the catalogue: no distance, though Vân Đồn's is in Quảng Ninh
    for zone in features(client, "industrial_zones", province_code="14"):
        assert zone["properties"]["dist_airport_km"] is None
        assert zone["properties"]["dist_national_road_km"] is None  # no road layer at all
    for zone in features(client, "industrial_zones", province_code="22"):
        props = zone["properties"]
        assert props["dist_airport_km"] is not None and "Vân Đồn" in props["distances_source"]
        assert props["dist_border_gate_km"] is None  # no border gate in Quảng Ninh's layers
        # the airport's status is not stated: its distance says so
        assert "hiện trạng chưa rõ" in props["distances_source"]


def test_completeness_is_the_share_of_known_facts_and_facets_like_any_field(client):
    zones = features(client, "industrial_zones")
    names = fact_names(fields_for_kind("industrial_zone"))
    for zone in zones:
        props = zone["properties"]
        known = sum(props[n] is not None for n in names)
        assert props["completeness_pct"] == round(100 * known / len(names))
    facets = client.get(
        "/collections/industrial_zones/facets", params={"fields": "completeness_pct"}
    ).json()["facets"]["completeness_pct"]
    values = [z["properties"]["completeness_pct"] for z in zones]
    assert (facets["minimum"], facets["maximum"]) == (min(values), max(values))
    low = client.get(
        "/collections/industrial_zones/items",
        params={"filter": f"completeness_pct <= {min(values)}", "filter-lang": "cql2-text"},
    ).json()
    assert low["numberMatched"] == values.count(min(values))
    plot = features(client, "land_auction_plots", limit=1)[0]["properties"]
    assert plot["completeness_pct"] is not None and "lease_price_vnd_m2_year" not in plot


def test_admin_completeness_lists_the_missing_facts_where_they_are_missing(client, sample_dir):
    assert client.get("/admin/completeness").status_code == 401
    token = staff_token(sample_dir, "editor")
    body = client.get("/admin/completeness", headers=bearer(token)).json()
    layers = {entry["layer"]: entry for entry in body["layers"]}
    assert set(layers) == {"industrial_zones", "land_auction_plots"}
    zones = layers["industrial_zones"]
    by_fact = {f["fact"]: f for f in zones["facts"]}
    assert set(by_fact) == set(fact_names(fields_for_kind("industrial_zone")))
    everything = features(client, "industrial_zones")
    assert zones["sites"] == len(everything)
    for name, entry in by_fact.items():
        missing = {z["id"] for z in everything if z["properties"][name] is None}
        assert entry["missing"] == len(missing), name
        assert {s["id"] for s in entry["sites"]} == missing, name
    limited = client.get(
        "/admin/completeness",
        params={"layer": "industrial_zones", "limit": 2},
        headers=bearer(token),
    ).json()["layers"]
    assert [e["layer"] for e in limited] == ["industrial_zones"]
    assert all(len(f["sites"]) <= 2 for f in limited[0]["facts"])
    bad = client.get("/admin/completeness", params={"limit": -1}, headers=bearer(token))
    assert bad.status_code == 400 and bad.json()["code"]


def test_the_sample_cites_documents_never_files_and_dates_records_by_them(client):
    dated = {d.vi: d.date for d in documents().values()}
    for meta in client.get("/collections").json()["collections"]:
        layer = meta["id"]
        if layer == "investment_projects":
            continue
        for feature in features(client, layer):
            props = feature["properties"]
            source = props["source"]
            assert not re.search(r"\.(txt|json|pdf|docx?)\b|seed \d|\[\[", source), source
            assert props["updated_at"] != dt.date.today().isoformat()
            cited = [d for text, d in dated.items() if text in source]
            if cited and layer != "land_auction_plots":
                assert props["updated_at"] == max((d for d in cited if d), default=None)
    for path in source_files():
        text = path.read_text(encoding="utf-8")
        assert ".txt" not in text and "updated_at" not in text, path.name


def test_a_placeholder_gives_no_area(client):
    placeholders = 0
    for layer in ("industrial_zones", "tourism_areas", "energy_sites"):
        for feature in features(client, layer):
            props = feature["properties"]
            assert props["geometry_quality"] in {"surveyed", "indicative", "placeholder"}
            if props["geometry_quality"] == "placeholder":
                assert props["area_ha"] is None, feature["id"]
                placeholders += 1
    assert placeholders > 20
    for feature in features(client, "communes", limit=50):
        assert feature["properties"]["geometry_quality"] == "centroid"


def test_places_the_documents_name_are_in_the_sample(client):
    zones = {f["id"]: f["properties"] for f in features(client, "industrial_zones")}
    for name in ("HAIHA", "DAMHA", "TIENYEN"):
        assert zones[f"QN-KCN-DEXUAT-{name}"]["province_code"] == "22"
    energy = {f["id"] for f in features(client, "energy_sites")}
    assert {"TQ-NL-THUYDIEN-SONGLO8B", "TQ-NL-THUYDIEN-SONGLO9"} <= energy
    crops = {f["properties"]["crop"]: f for f in features(client, "raw_material_areas")}
    assert {"fruit", "coffee", "tea", "orange", "sugar_cane"} <= set(crops)
    # no commune is named for them: each sits at its province's centre, and says so
    lon, lat, _ = province_centre("08")
    assert crops["tea"]["geometry"]["coordinates"] == pytest.approx([lon, lat])
    assert crops["tea"]["properties"]["geometry_quality"] == "centroid"


def test_the_distance_raster_says_which_targets_are_planned(client):
    raster = client.get("/rasters/logistics_distance").json()
    assert "SL-LG-MOCCHAU (quy hoạch, chưa xây dựng" in raster["derived_from"]
    assert "SL-CK-LONGSAP (" not in raster["derived_from"]  # the border gate is in service


@pytest.mark.parametrize(
    ("path", "province", "title"),
    [
        ("/map", "14", "Sơn La"),
        ("/map/quang-ninh", "22", "Quảng Ninh"),
        ("/map/tuyen-quang", "08", "Tuyên Quang"),
    ],
)
def test_each_map_shows_its_own_province(client, sample_dir, path, province, title):
    html = client.get(path).text
    config = json.loads(re.search(r'id="map-config">(.*?)</script>', html, re.S).group(1))
    assert title in config["title_vi"] and config["shown_provinces"] == [province]
    store = store_of(sample_dir)
    zones = next(layer for layer in config["layers"] if layer["id"] == "industrial_zones")
    expected = sum(
        1
        for f in features(client, "industrial_zones")
        if f["properties"]["province_code"] == province
    )
    assert zones["total"] == expected > 0
    assert store.layer("industrial_zones").provinces == ["08", "14", "22"]


def test_an_edited_fact_counts_at_once(sample_dir, tmp_path, backend):
    """A fact an editor adds through a per-feature edit raises the site's completeness in the
    version the edit makes."""
    data_dir = backend.copy(sample_dir, tmp_path / "data")
    editor = bearer(staff_token(data_dir, "editor"))
    with TestClient(create_app(settings_of(data_dir))) as client:
        path = "/collections/industrial_zones/items/SL-KCN-VANHO"
        before = client.get(path)
        names = fact_names(fields_for_kind("industrial_zone"))
        props = before.json()["properties"]
        assert props["free_land_ha"] is None
        known = sum(props[n] is not None for n in names)
        patched = client.patch(
            path,
            content=json.dumps({"properties": {"free_land_ha": 12.5, "facts_source": "test"}}),
            headers=editor | {"If-Match": before.headers["ETag"],
                              "Content-Type": "application/merge-patch+json"},
        )  # fmt: skip
        assert patched.status_code == 200, patched.text
        after = client.get(path).json()["properties"]
        assert after["free_land_ha"] == 12.5
        assert after["completeness_pct"] == round(100 * (known + 1) / len(names))
        assert after["completeness_pct"] > props["completeness_pct"]
