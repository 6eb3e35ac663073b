"""The reviewable sample sources: every site resolves to a 2025 commune and says only known facts.

Checks the hand-written JSON files in `geo_service/sample/sources/` directly (no build), so a
bad address, an unknown status or attribute, or a made-up code fails with the site's code.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from geo_service.kinds import fields_for_kind
from geo_service.places import UnmatchedPlace, resolve_commune

SOURCES = Path(__file__).parent.parent / "geo_service" / "sample" / "sources"
LAYERS = {
    "industrial_zones": ("industrial_zone", "polygon"),
    "tourism_areas": ("tourism_area", "polygon"),
    "energy_sites": ("energy_site", "polygon"),
    "logistics_trade": ("logistics_trade", "point"),
    "transport": ("transport", "point"),
    "raw_material_areas": ("raw_material_area", "point"),
}
SAMPLE_PROVINCES = {"14", "22", "08"}  # Sơn La, Quảng Ninh, Tuyên Quang
SITE_KEYS = {
    "code",
    "name_vi",
    "name_en",
    "address",
    "province_code",
    "offset_km",
    "area_ha",
    "status",
    "status_note",
    "source",
    "data_quality",
    "updated_at",
    "attributes",
}
MAX_OFFSET_KM = 3.5
COMMON_SPECS = {f.name: f for f in fields_for_kind("other")}
STATUSES = set(COMMON_SPECS["status"].code_labels())
QUALITIES = set(COMMON_SPECS["data_quality"].code_labels())
COMMON = set(COMMON_SPECS)


def load(layer_id: str) -> dict:
    return json.loads((SOURCES / f"{layer_id}.json").read_text(encoding="utf-8"))


def sites(layer_id: str) -> list[dict]:
    return load(layer_id)["sites"]


def test_the_four_files_are_there_and_codes_are_unique_across_them():
    codes = [site["code"] for layer_id in LAYERS for site in sites(layer_id)]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    assert not duplicates, duplicates
    assert all(c == c.upper() and " " not in c for c in codes), codes


@pytest.mark.parametrize("layer_id", LAYERS)
def test_layer_block(layer_id):
    block = load(layer_id)["layer"]
    kind, geometry_type = LAYERS[layer_id]
    assert (block["id"], block["kind"], block["geometry_type"]) == (layer_id, kind, geometry_type)
    for key in ("title_vi", "title_en", "description_vi", "description_en", "source", "licence"):
        assert block[key].strip(), key
    assert "minh họa" in block["description_vi"] and "indicative" in block["description_en"]
    assert block["updated"] == "2026-11-23"


@pytest.mark.parametrize("layer_id", LAYERS)
def test_every_address_resolves_to_a_sample_province(layer_id):
    for site in sites(layer_id):
        if "address" not in site:  # the documents name no commune: the province's centre
            assert site["province_code"] in SAMPLE_PROVINCES and "tâm tỉnh" in site["source"]
            continue
        try:
            commune = resolve_commune(site["address"])
        except UnmatchedPlace as exc:
            pytest.fail(f"{site['code']}: {exc}")
        assert commune.province_code in SAMPLE_PROVINCES, (site["code"], commune)


@pytest.mark.parametrize("layer_id", LAYERS)
def test_sites_say_only_known_things(layer_id):
    kind, _ = LAYERS[layer_id]
    fields = {f.name: f for f in fields_for_kind(kind)}
    for site in sites(layer_id):
        code = site["code"]
        assert set(site) <= SITE_KEYS, (code, set(site) - SITE_KEYS)
        assert site["status"] in STATUSES or site["status"] is None, code
        assert site.get("data_quality", "indicative") in QUALITIES, code
        assert site["source"].strip(), code
        assert site["area_ha"] is None or site["area_ha"] > 0, code
        east, north = site.get("offset_km", (0.0, 0.0))
        assert (east**2 + north**2) ** 0.5 <= MAX_OFFSET_KM, code
        for text in (site["name_vi"], site["name_en"], site["source"], site.get("address", "-")):
            assert text.strip() and unicodedata.is_normalized("NFC", text), code
        for name, value in site.get("attributes", {}).items():
            assert name in fields and name not in COMMON, (code, name)
            spec = fields[name]
            if spec.codes:
                assert value in {c.code for c in spec.codes}, (code, name, value)
            if spec.type == "number":
                assert isinstance(value, int | float) and value > 0, (code, name, value)
            elif spec.type == "integer":
                assert isinstance(value, int), (code, name, value)
            else:
                assert isinstance(value, str) and value.strip(), (code, name, value)
                assert unicodedata.is_normalized("NFC", value), (code, name)


def test_sites_sharing_a_commune_in_a_layer_do_not_overlap():
    for layer_id in LAYERS:
        seen: dict[tuple[str, tuple[float, float]], str] = {}
        for site in sites(layer_id):
            if "address" not in site:
                continue
            key = (resolve_commune(site["address"]).code, tuple(site.get("offset_km", (0, 0))))
            assert key not in seen, (layer_id, site["code"], seen.get(key))
            seen[key] = site["code"]
