"""Kinds as data (`kinds/*.toml`, `/kinds`, `PUT /admin/kinds`) and the column and value mapping
of uploads: a provincial file, with its own column names and labels, of a kind no file defines,
goes from upload to published with the mapping the first report proposes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.kinds import read_kinds
from geo_service.settings import Settings

from .command_line import Ran, geo_service
from .conftest import error_document
from .staff import bearer, staff_token

ROOT = Path(__file__).resolve().parents[1]

CROP_AREA = {
    "label_vi": "Vùng nguyên liệu",
    "label_en": "Raw-material area",
    "geometry": ["polygon"],
    "fields": [
        {
            "name": "crop",
            "type": "string",
            "label_vi": "Cây trồng",
            "label_en": "Crop",
            "required": True,
            "aliases": ["CAY_TRONG", "LOAI_CAY"],
            "codes": [
                {"code": "coffee", "label_vi": "Cà phê", "label_en": "Coffee"},
                {"code": "tea", "label_vi": "Chè", "label_en": "Tea"},
                {"code": "fruit", "label_vi": "Cây ăn quả", "label_en": "Fruit trees"},
            ],
        },
        {
            "name": "yield_t_ha",
            "type": "number",
            "label_vi": "Năng suất",
            "label_en": "Yield",
            "unit": "t/ha",
        },
        {
            "name": "grower_group",
            "type": "string",
            "label_vi": "Tổ hợp tác",
            "label_en": "Grower group",
            "queryable": False,
        },
    ],
}
"""A kind no file defines, as an admin puts it."""

PROVINCIAL = [
    # MA_KCN, TEN_KCN, DienTich, MaXa, TRANGTHAI, CAY_TRONG, NangSuat, GhiChu, x, y
    ("VNL-01", "Vùng cà phê Chiềng Ban", 120.5, "04051", "Đang hoạt động", "Cà phê", 2.4, "HTX", 104.0, 21.2),
    ("VNL-02", "Vùng chè Mộc Châu", 310.0, "04024", "Quy hoạch", "Chè", 8.1, None, 104.6, 20.85),
    ("VNL-03", "Vùng cây ăn quả Yên Châu", 95.25, "04036", "Dang hoat dong", "CAY AN QUA", None, None, 104.3, 21.05),
]  # fmt: skip


def provincial_file(tmp_path: Path) -> Path:
    """A layer as a province's GIS office keeps it: its own column names, labels for codes."""
    columns = ["MA_KCN", "TEN_KCN", "DienTich", "MaXa", "TRANGTHAI", "CAY_TRONG", "NangSuat", "GhiChu"]  # fmt: skip
    frame = gpd.GeoDataFrame(
        [dict(zip(columns, row[:8], strict=True)) for row in PROVINCIAL],
        geometry=[shapely.box(x, y, x + 0.01, y + 0.01) for *_, x, y in PROVINCIAL],
        crs=4326,
    )
    path = tmp_path / "vung_nguyen_lieu.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    return path


@pytest.fixture()
def setup(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    client = TestClient(create_app(Settings(data_dir=data)))
    admin = bearer(staff_token(data, "admin"))
    editor = bearer(staff_token(data, "editor"))
    return client, admin, editor, data


def upload(client, headers, path: Path, layer: str, **form):
    data = {"id": layer, **{k: v for k, v in form.items() if v is not None}}
    files = {"file": (path.name, path.read_bytes())}
    return client.post("/admin/layers", files=files, data=data, headers=headers)


METADATA = json.dumps(
    {"kind": "crop_area", "data_quality": "indicative", "title_vi": "Vùng nguyên liệu"}
)


def test_a_provincial_file_of_a_new_kind_is_published_with_the_proposed_mapping(setup, tmp_path):
    client, admin, editor, data = setup
    assert client.put("/admin/kinds/crop_area", json=CROP_AREA, headers=admin).status_code == 200
    source = provincial_file(tmp_path)

    first = upload(client, editor, source, "crops", metadata=METADATA)
    body = error_document(first)
    assert first.status_code == 400 and body["code"] == "ValidationFailed"
    report = body["report"]
    codes = {f["code"] for f in report["findings"]}
    assert {"id_missing", "field_missing", "mapping_proposed"} <= codes
    proposal = report["mapping"]["fields"]
    assert proposal["fields"] == {
        "code": "MA_KCN",
        "name_vi": "TEN_KCN",
        "area_ha": "DienTich",
        "commune_code": "MaXa",
        "status": "TRANGTHAI",
        "crop": "CAY_TRONG",
        "yield_t_ha": "NangSuat",  # by its label, Năng suất
    }
    assert proposal["values"] == {
        "status": {
            "Đang hoạt động": "operating",
            "Quy hoạch": "planned",
            "Dang hoat dong": "operating",
        },
        "crop": {"Cà phê": "coffee", "Chè": "tea", "CAY AN QUA": "fruit"},
    }
    assert report["mapping"]["unmatched"]["columns"] == ["GhiChu"]
    assert not (data / "crops").exists()  # nothing stored

    second = upload(client, editor, source, "crops", metadata=METADATA, fields=json.dumps(proposal))
    assert second.status_code == 201, second.text
    assert second.json()["published"] is True

    items = client.get("/collections/crops/items", params={"limit": 10}).json()["features"]
    by_code = {f["properties"]["code"]: f["properties"] for f in items}
    assert by_code["VNL-01"]["status"] == "operating" and by_code["VNL-01"]["crop"] == "coffee"
    assert by_code["VNL-02"]["area_ha"] == 310.0 and by_code["VNL-02"]["commune_code"] == "04024"
    assert by_code["VNL-03"]["crop"] == "fruit" and by_code["VNL-03"]["name_vi"].startswith("Vùng")
    assert by_code["VNL-01"]["yield_t_ha"] == 2.4 and by_code["VNL-03"]["yield_t_ha"] is None
    assert by_code["VNL-01"]["GhiChu"] == "HTX"  # an unmatched column is kept as it came

    queryables = client.get("/collections/crops/queryables", params={"lang": "en"}).json()
    crop = queryables["properties"]["crop"]
    assert crop["title"] == "Crop" and crop["enum"] == ["coffee", "tea", "fruit"]
    assert queryables["properties"]["yield_t_ha"]["x-ogc-unit"] == "t/ha"
    assert "grower_group" not in queryables["properties"]  # queryable = false
    facets = client.get(
        "/collections/crops/facets", params={"fields": "crop", "lang": "vi"}
    ).json()["facets"]["crop"]
    assert facets["label"] == "Cây trồng"
    assert {v["value"]: v["label_vi"] for v in facets["values"]} == {
        "coffee": "Cà phê",
        "tea": "Chè",
        "fruit": "Cây ăn quả",
    }
    filtered = client.get("/collections/crops/items", params={"crop": "tea"}).json()
    assert [f["properties"]["code"] for f in filtered["features"]] == ["VNL-02"]

    page = client.get("/map").text
    config = json.loads(
        re.search(r'<script type="application/json" id="map-config">(.*?)</script>', page, re.S)[1]
    )
    layer = next(layer for layer in config["layers"] if layer["id"] == "crops")
    assert {"crop", "status", "area_ha", "yield_t_ha"} <= set(layer["filters"])
    assert "grower_group" not in layer["filters"]
    assert layer["fields"]["crop"]["codes"]["tea"] == {"label_vi": "Chè", "label_en": "Tea"}


def test_a_mapping_that_does_not_fit_is_refused_and_stores_nothing(setup, tmp_path):
    client, admin, editor, data = setup
    client.put("/admin/kinds/crop_area", json=CROP_AREA, headers=admin)
    source = provincial_file(tmp_path)
    good = {"code": "MA_KCN", "name_vi": "TEN_KCN", "crop": "CAY_TRONG"}
    wrong = {
        "not JSON": "{fields:",
        "not a mapping": json.dumps(["code", "MA_KCN"]),
        "unknown field": json.dumps({"fields": {**good, "harvest": "GhiChu"}}),
        "column not in file": json.dumps({"fields": {**good, "area_ha": "DT_HA"}}),
        "duplicate target": json.dumps({"fields": {**good, "name_en": "TEN_KCN"}}),
        "code not in list": json.dumps({"fields": good, "values": {"crop": {"Cà phê": "robusta"}}}),
        "values of an uncoded field": json.dumps(
            {"fields": good, "values": {"name_vi": {"a": "b"}}}
        ),
    }
    for case, fields in wrong.items():
        response = upload(client, editor, source, "crops", metadata=METADATA, fields=fields)
        body = error_document(response)
        assert response.status_code == 400, case
        assert body["code"] == "InvalidFieldMapping", (case, body)
        assert "fields:" in body["description"] and " / " in body["description"], case
    assert not (data / "crops").exists()


def test_kinds_are_served_bilingual(setup):
    client, *_ = setup
    listed = client.get("/kinds").json()["kinds"]
    ids = [k["id"] for k in listed]
    assert {"industrial_zone", "commune", "other"} <= set(ids) and ids == sorted(ids)
    zone = client.get("/kinds/industrial_zone").json()
    assert zone["label_vi"] and zone["label_en"] and zone["origin"] == "file industrial_zone.toml"
    fields = {f["name"]: f for f in zone["fields"]}
    assert fields["code"]["common"] and fields["code"]["required"]
    assert not fields["zone_type"]["common"]
    assert fields["zone_type"]["codes"][0] == {
        "code": "industrial_zone",
        "label_vi": "Khu công nghiệp (KCN)",
        "label_en": "Industrial zone",
    }
    assert fields["status"]["codes"][3]["label_vi"] == "Đang hoạt động"
    missing = error_document(client.get("/kinds/volcano"))
    assert missing["code"] == "NotFound" and "industrial_zone" in missing["description"]


def test_put_kind_is_admin_only_checked_versioned_and_audited(setup):
    client, admin, editor, data = setup
    assert client.put("/admin/kinds/crop_area", json=CROP_AREA).status_code == 401
    assert client.put("/admin/kinds/crop_area", json=CROP_AREA, headers=editor).status_code == 403
    bad = {
        "codes on a number": {
            **CROP_AREA,
            "fields": [{**CROP_AREA["fields"][1], "codes": CROP_AREA["fields"][0]["codes"]}],
        },
        "code twice": {
            **CROP_AREA,
            "fields": [
                {
                    **CROP_AREA["fields"][0],
                    "codes": [CROP_AREA["fields"][0]["codes"][0]] * 2,
                }
            ],
        },
        "common field again": {
            **CROP_AREA,
            "fields": [{**CROP_AREA["fields"][1], "name": "status"}],
        },
        "unknown key": {**CROP_AREA, "colour": "green"},
        "no geometry": {k: v for k, v in CROP_AREA.items() if k != "geometry"},
        "wrong type": {**CROP_AREA, "fields": [{**CROP_AREA["fields"][1], "type": "money"}]},
        "another id": {**CROP_AREA, "id": "tea_area"},
    }
    for case, definition in bad.items():
        response = client.put("/admin/kinds/crop_area", json=definition, headers=admin)
        body = error_document(response)
        assert response.status_code == 400, (case, body)
        assert "crop_area" in body["description"], case
    missing_label = {**CROP_AREA, "fields": [{k: v for k, v in CROP_AREA["fields"][0].items() if k != "label_en"}]}  # fmt: skip
    described = error_document(
        client.put("/admin/kinds/crop_area", json=missing_label, headers=admin)
    )
    assert "fields[0] (crop).label_en" in described["description"]
    assert client.get("/kinds/crop_area").status_code == 404  # nothing was stored

    first = client.put("/admin/kinds/crop_area", json=CROP_AREA, headers=admin).json()
    assert first["version"] == 1 and first["origin"] == "version 1"
    renamed = {**CROP_AREA, "label_en": "Raw-material growing area"}
    assert client.put("/admin/kinds/crop_area", json=renamed, headers=admin).json()["version"] == 2
    assert client.get("/kinds/crop_area").json()["label_en"] == "Raw-material growing area"
    versions = client.get("/admin/kinds/crop_area/versions", headers=editor).json()["versions"]
    assert [(v["version"], v["current"]) for v in versions] == [(1, False), (2, True)]
    assert versions[0]["definition"]["label_en"] == "Raw-material area"
    # a file's kind overridden: its file's definition is listed first
    zone = client.get("/kinds/industrial_zone").json()
    changed = {
        "label_vi": zone["label_vi"],
        "label_en": "Industrial parks",
        "geometry": zone["geometry"],
        "fields": [f for f in zone["fields"] if not f.pop("common")],
    }
    assert (
        client.put("/admin/kinds/industrial_zone", json=changed, headers=admin).status_code == 200
    )
    history = client.get("/admin/kinds/industrial_zone/versions", headers=editor).json()
    assert [v["origin"] for v in history["versions"]] == ["file industrial_zone.toml", "version 1"]
    audit = client.get("/admin/audit", headers=admin).json()["entries"]
    assert [e["details"] for e in audit if e["action"] == "kind.put"] == [
        {"kind": "industrial_zone", "version": 1},
        {"kind": "crop_area", "version": 2},
        {"kind": "crop_area", "version": 1},
    ]


def test_a_kind_change_that_would_break_published_layers_is_refused(setup, tmp_path):
    client, admin, editor, _ = setup
    client.put("/admin/kinds/crop_area", json=CROP_AREA, headers=admin)
    source = provincial_file(tmp_path)
    proposal = upload(client, editor, source, "crops", metadata=METADATA).json()["report"]
    fields = json.dumps(proposal["mapping"]["fields"])
    assert (
        upload(client, editor, source, "crops", metadata=METADATA, fields=fields).status_code == 201
    )

    no_tea = json.loads(json.dumps(CROP_AREA))
    no_tea["fields"][0]["codes"] = [c for c in no_tea["fields"][0]["codes"] if c["code"] != "tea"]
    no_tea["fields"][1]["type"] = "integer"  # yields of 2.4 and 8.1
    no_tea["fields"][2]["required"] = True  # the file had no grower group
    no_tea["geometry"] = ["point"]
    response = client.put("/admin/kinds/crop_area", json=no_tea, headers=admin)
    body = error_document(response)
    assert response.status_code == 409 and body["code"] == "KindChangeBreaksLayers"
    assert "crops" in body["description"]
    assert sorted((b["field"], b["problem"], b["features"], b["values"]) for b in body["breaks"]) == [
        ("crop", "values outside the code list", 1, ["tea"]),
        ("geometry", "its polygon geometries", 3, []),
        ("grower_group", "required, and features have no value", 3, []),
        ("yield_t_ha", "type number → integer", 2, []),
    ]  # fmt: skip
    assert client.get("/kinds/crop_area").json()["version"] == 1  # unchanged
    no_yield = json.loads(json.dumps(CROP_AREA))
    no_yield["fields"][1]["required"] = True
    refused = client.put("/admin/kinds/crop_area", json=no_yield, headers=admin).json()
    assert [(b["field"], b["problem"], b["features"]) for b in refused["breaks"]] == [
        ("yield_t_ha", "required, and features have no value", 1)
    ]
    # adding a code and a field breaks nothing
    more = json.loads(json.dumps(CROP_AREA))
    more["fields"][0]["codes"].append({"code": "orange", "label_vi": "Cam", "label_en": "Orange"})
    more["fields"].append({"name": "irrigated", "type": "boolean", "label_vi": "Có tưới", "label_en": "Irrigated"})  # fmt: skip
    assert client.put("/admin/kinds/crop_area", json=more, headers=admin).status_code == 200


def test_a_bad_kinds_file_is_named_with_its_field(tmp_path):
    folder = tmp_path / "kinds"
    shutil.copytree(ROOT / "kinds", folder)
    assert read_kinds(folder)[1] == []
    text = (folder / "tourism_area.toml").read_text(encoding="utf-8")
    (folder / "tourism_area.toml").write_text(
        text.replace('type = "string"', 'type = "text"', 1), encoding="utf-8"
    )
    (folder / "energy_site.toml").write_text('label_vi = "x"\nlabel_en = = 1\n', encoding="utf-8")
    kinds, problems = read_kinds(folder)
    assert kinds is None
    assert any(p.startswith("tourism_area.toml: fields[0] (tourism_level).type") for p in problems)
    assert any(p.startswith("energy_site.toml: not valid TOML") and "line 2" in p for p in problems)


def test_cli_checks_kinds_and_imports_with_fields(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    done = geo_service("kinds")
    assert done.returncode == 0 and "industrial_zone: ok" in done.stdout
    kinds_dir = tmp_path / "kinds"
    shutil.copytree(ROOT / "kinds", kinds_dir)
    (kinds_dir / "crop_area.toml").write_text(
        'label_vi = "Vùng nguyên liệu"\nlabel_en = "Raw-material area"\ngeometry = ["polygon"]\n'
        "[[fields]]\n"
        'name = "crop"\ntype = "string"\nlabel_vi = "Cây trồng"\nlabel_en = "Crop"\n'
        'aliases = ["CAY_TRONG"]\n'
        'codes = [{ code = "coffee", label_vi = "Cà phê", label_en = "Coffee" },'
        ' { code = "tea", label_vi = "Chè", label_en = "Tea" },'
        ' { code = "fruit", label_vi = "Cây ăn quả", label_en = "Fruit trees" }]\n',
        encoding="utf-8",
    )
    source = provincial_file(tmp_path)
    metadata = tmp_path / "metadata.json"
    metadata.write_text(METADATA, encoding="utf-8")
    env = {"GEO_SERVICE_KINDS_DIR": str(kinds_dir)}

    def run(*extra: str) -> Ran:
        return geo_service(
            "import", source, "--layer", "crops", "--metadata", metadata, "--data-dir", data,
            *extra, env=env,
        )  # fmt: skip

    refused = run()
    assert refused.returncode == 1, refused.stderr
    assert "proposed mapping" in refused.stdout and "name_vi ← column 'TEN_KCN'" in refused.stdout
    mapping = tmp_path / "fields.json"
    mapping.write_text(
        json.dumps({"fields": {"code": "MA_KCN", "name_vi": "TEN_KCN", "cropp": "X"}})
    )
    wrong = run("--fields", str(mapping))
    assert wrong.returncode == 2 and "'cropp' is not a field of kind 'crop_area'" in wrong.stderr
    assert not (data / "crops").exists()
    mapping.write_text(
        json.dumps(
            {
                "fields": {"code": "MA_KCN", "name_vi": "TEN_KCN", "status": "TRANGTHAI", "crop": "CAY_TRONG"},
                "values": {
                    "status": {"Đang hoạt động": "operating", "Dang hoat dong": "operating", "Quy hoạch": "planned"},
                    "crop": {"Cà phê": "coffee", "Chè": "tea", "CAY AN QUA": "fruit"},
                },
            }
        ),
        encoding="utf-8",
    )  # fmt: skip
    done = run("--fields", str(mapping))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "published as version 1" in done.stdout
