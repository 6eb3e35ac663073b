"""GIS staff uploads: validation report, VN-2000 reprojection, drafts, and hostile input."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo_service.app import create_app

from .command_line import Ran, geo_service
from .conftest import stored_files, unpublished
from .staff import admin_store, staff_token

ZONES = [
    ("Z-1", "Khu Mộc Châu", 104.60, 20.85),
    ("Z-2", "Khu Mai Sơn", 104.05, 21.25),
    ("Z-3", "Khu Vân Hồ", 104.70, 20.75),
]


def zones_frame(crs: int = 4326) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"code": [z[0] for z in ZONES], "name_vi": [z[1] for z in ZONES], "status": ["planned"] * 3,
         "commune_name": ["Phường Mộc Châu", "Xã Mường Bằng, Huyện Mai Sơn, Tỉnh Sơn La", "Xã Nowhere"]},
        geometry=[shapely.box(x, y, x + 0.01, y + 0.01) for _, _, x, y in ZONES],
        crs=4326,
    )  # fmt: skip
    return frame.to_crs(crs)


def as_file(frame: gpd.GeoDataFrame, tmp_path: Path, name: str, driver: str, **kwargs) -> Path:
    path = tmp_path / name
    pyogrio.write_dataframe(frame, path, driver=driver, **kwargs)
    return path


@pytest.fixture()
def setup(tmp_path, backend):
    data = tmp_path / "data"
    data.mkdir()
    editor = staff_token(backend.claim(data), "editor")
    client = TestClient(create_app(backend.settings(data, upload_max_bytes=5_000_000)))
    return client, {"Authorization": f"Bearer {editor}"}, data


NEW_LAYER_METADATA = json.dumps({"data_quality": "indicative"})
"""What a new layer must at least state."""


def upload(client, headers, path: Path, layer="zones", method="post", params=None, **form):
    files = {"file": (path.name, path.read_bytes())}
    data = {k: v for k, v in form.items() if v is not None}
    if method == "post":
        data["id"] = layer
        data.setdefault("metadata", NEW_LAYER_METADATA)
        return client.post("/admin/layers", files=files, data=data, headers=headers, params=params)
    return client.put(
        f"/admin/layers/{layer}", files=files, data=data, headers=headers, params=params
    )


def test_a_vn2000_geopackage_is_reprojected_and_published(setup, tmp_path):
    client, headers, _ = setup
    path = as_file(zones_frame(9206), tmp_path, "zones.gpkg", "GPKG")
    meta = json.dumps({"title_vi": "Khu thử", "title_en": "Test zones", "kind": "industrial_zone",
                       "data_quality": "authoritative"})  # fmt: skip
    response = upload(client, headers, path, metadata=meta)
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["published"] and report["version"] == 1 and report["source_crs"] == "EPSG:9206"
    assert "area_ha from the geometry" in report["defaulted"]
    unmatched = next(f for f in report["findings"] if f["code"] == "commune_unmatched")
    assert unmatched["examples"] == ["Z-3"]
    served = client.get("/collections/zones/items/Z-2").json()
    assert served["properties"]["commune_name"] == "Xã Chiềng Mung"
    to_vn2000 = Transformer.from_crs(4326, 9206, always_xy=True)
    (x0, y0), original = (
        shapely.geometry.shape(served["geometry"]).exterior.coords[0],
        zones_frame(9206).geometry[1],
    )
    x, y = to_vn2000.transform(x0, y0)
    assert (
        min(shapely.Point(x, y).distance(shapely.Point(c)) for c in original.exterior.coords) < 1.0
    )
    assert client.get("/collections/zones").json()["title_en"] == "Test zones"


def test_dry_run_and_draft(setup, tmp_path):
    client, headers, data = setup
    path = as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON")
    dry = upload(client, headers, path, params={"dry_run": "true"})
    assert dry.status_code == 200 and not dry.json()["published"]
    assert unpublished(client, data, "zones")
    draft = upload(client, headers, path, params={"draft": "true"})
    assert draft.status_code == 201 and draft.json()["draft"]
    assert client.get("/collections/zones").status_code == 404  # drafts are not public
    assert client.post("/admin/layers/zones/publish", headers=headers).status_code == 200
    assert client.get("/collections/zones/items").json()["numberMatched"] == 3
    again = upload(client, headers, path, method="put")
    assert again.status_code == 200 and again.json()["version"] == 2
    assert upload(client, headers, path).status_code == 409  # POST on an existing layer


def test_a_new_version_over_a_layer_with_only_a_draft_keeps_the_drafts_metadata(setup, tmp_path):
    client, headers, _ = setup
    path = as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON")
    titled = json.dumps({"data_quality": "indicative", "title_en": "Drafted zones"})
    draft = upload(client, headers, path, params={"draft": "true"}, metadata=titled)
    assert draft.status_code == 201, draft.text
    again = upload(client, headers, path, method="put")
    assert again.status_code == 200 and again.json()["version"] == 2, again.text
    assert any("kept from version 1" in line for line in again.json()["defaulted"])
    assert client.get("/collections/zones").json()["title_en"] == "Drafted zones"


def test_csv_needs_a_crs_and_says_so(setup, tmp_path):
    client, headers, _ = setup
    path = tmp_path / "sites.csv"
    path.write_text("code,name_vi,lon,lat\nC-1,Điểm Mộc Châu,104.6,20.85\n", encoding="utf-8")
    refused = upload(client, headers, path, layer="sites", x_field="lon", y_field="lat")
    assert refused.status_code == 400 and refused.json()["code"] == "ValidationFailed"
    assert refused.json()["report"]["findings"][0]["code"] == "crs_missing"
    accepted = upload(
        client, headers, path, layer="sites", x_field="lon", y_field="lat", crs="EPSG:4326"
    )
    assert accepted.status_code == 201, accepted.text
    assert (
        upload(client, headers, path, layer="sites2").status_code == 400
    )  # no geometry columns named


def test_errors_are_reported_with_counts_and_examples(setup, tmp_path):
    client, headers, data = setup
    frame = zones_frame()
    frame.loc[2, "code"] = "Z-1"
    frame.loc[1, "geometry"] = shapely.box(
        21.25, 104.05, 21.26, 104.06
    )  # latitude and longitude swapped
    path = as_file(frame, tmp_path, "bad.gpkg", "GPKG")
    response = upload(client, headers, path, layer="bad")
    assert response.status_code == 400
    findings = {f["code"]: f for f in response.json()["report"]["findings"]}
    assert findings["id_duplicate"]["count"] == 2 and findings["id_duplicate"]["examples"] == [
        "Z-1",
        "Z-1",
    ]
    assert "swapped" in findings["outside_province"]["message"] and findings["outside_province"][
        "examples"
    ] == ["Z-2"]
    assert unpublished(client, data, "bad")


def test_writes_need_an_editor_token(setup, tmp_path):
    client, _, _ = setup
    path = as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON")
    assert upload(client, {}, path).status_code == 401
    assert upload(client, {"Authorization": "Bearer wrong"}, path).status_code == 401


def _zip(
    tmp_path: Path, name: str, members: list[tuple[str, bytes]], symlink: str | None = None
) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members:
            archive.writestr(member, content)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def _shapefile_members(tmp_path: Path) -> list[tuple[str, bytes]]:
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(zones_frame(), folder / "zones.shp")
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]


def hostile_files(tmp_path: Path) -> dict[str, tuple[Path, int]]:
    good = _shapefile_members(tmp_path)
    kml = b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY lol "lol">]><kml><Document>&lol;</Document></kml>'
    geojson = tmp_path / "really.gpkg"
    geojson.write_text('{"type": "FeatureCollection", "features": []}')
    corrupt = tmp_path / "corrupt.gpkg"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\x13" * 5000)
    big = tmp_path / "big.geojson"
    big.write_bytes(b"{" + b" " * 6_000_000 + b"}")
    return {
        "zip slip": (_zip(tmp_path, "slip.zip", [("../evil.shp", good[0][1]), *good[1:]]), 400),
        "absolute path": (
            _zip(tmp_path, "abs.zip", [("/tmp/evil.shp", good[0][1]), *good[1:]]),
            400,
        ),
        "symlink": (_zip(tmp_path, "link.zip", good, symlink="zones.prj.lnk"), 400),
        "zip bomb": (_zip(tmp_path, "bomb.zip", [*good, ("padding.txt", b"\0" * 20_000_000)]), 400),
        "too many members": (
            _zip(tmp_path, "many.zip", [*good, *((f"f{i}.txt", b"x") for i in range(60))]),
            413,
        ),
        "xml entities": (_write(tmp_path / "lol.kml", kml), 400),
        "claims another format": (geojson, 400),
        "corrupt geopackage": (corrupt, 400),
        "too many bytes": (big, 413),
    }


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_hostile_uploads_are_refused_and_change_nothing(setup, tmp_path):
    client, headers, data = setup
    upload(client, headers, as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON"))
    before = stored_files(data)
    for label, (path, status) in hostile_files(tmp_path).items():
        for method in ("post", "put"):
            layer = "hostile" if method == "post" else "zones"
            response = upload(client, headers, path, layer=layer, method=method)
            assert response.status_code == status, (label, method, response.text)
            assert response.json()["description"], label
        assert stored_files(data) == before, label
    assert client.get("/collections/zones/items").json()["numberMatched"] == 3


def test_too_many_members_and_bytes_name_the_limit(setup, tmp_path):
    client, headers, _ = setup
    files = hostile_files(tmp_path)
    assert (
        "50"
        in upload(client, headers, files["too many members"][0], layer="x").json()["description"]
    )
    assert (
        "5,000,000"
        in upload(client, headers, files["too many bytes"][0], layer="x").json()["description"]
    )


def test_invalid_geometries_are_repaired_and_counted(setup, tmp_path):
    client, headers, _ = setup
    frame = zones_frame()
    frame.loc[0, "geometry"] = shapely.Polygon(
        [(104.6, 20.85), (104.61, 20.86), (104.61, 20.85), (104.6, 20.86)]
    )
    response = upload(client, headers, as_file(frame, tmp_path, "bow.gpkg", "GPKG"), layer="bow")
    assert response.status_code == 201
    repaired = next(f for f in response.json()["findings"] if f["code"] == "geometry_repaired")
    assert repaired["count"] == 1 and repaired["examples"] == ["Z-1"]
    geometry = shapely.geometry.shape(client.get("/collections/bow/items/Z-1").json()["geometry"])
    assert geometry.is_valid


def test_a_kmz_reads(setup, tmp_path):
    client, headers, _ = setup
    kml = as_file(zones_frame(), tmp_path, "doc.kml", "KML")
    path = _zip(tmp_path, "zones.kmz", [("doc.kml", kml.read_bytes())])
    response = upload(client, headers, path, layer="kmz_zones")
    assert response.status_code == 201, response.text
    served = client.get("/collections/kmz_zones/items/Z-1").json()["properties"]
    assert served["name_vi"] == "Khu Mộc Châu" and served["commune_name"] == "Phường Mộc Châu"


def test_upload_unknown_metadata_key_is_400(setup, tmp_path):
    client, headers, _ = setup
    path = as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON")
    assert upload(client, headers, path, metadata=json.dumps({"colour": "red"})).status_code == 400
    assert upload(client, headers, path, metadata="{not json").status_code == 400
    assert upload(client, headers, path, metadata=json.dumps({"kind": "castle"})).status_code == 400


def test_cli_import_goes_through_the_same_validation_and_audit(tmp_path, backend):

    data = tmp_path / "data"
    good = as_file(zones_frame(9206), tmp_path, "zones.gpkg", "GPKG")
    metadata = tmp_path / "meta.json"
    metadata.write_text(
        json.dumps(
            {
                "title_vi": "Khu",
                "title_en": "Zones",
                "kind": "industrial_zone",
                "data_quality": "indicative",
            }
        ),  # fmt: skip
        encoding="utf-8",
    )

    def run(*args: str) -> Ran:
        return geo_service("import", *args, "--data-dir", data, env=backend.env(data))

    dry = run(str(good), "--layer", "zones", "--metadata", str(metadata), "--dry-run")
    assert dry.returncode == 0 and "not published" in dry.stdout
    assert not backend.store(data).version_numbers("zones") and not (data / "zones").exists()
    done = run(str(good), "--layer", "zones", "--metadata", str(metadata))
    assert done.returncode == 0 and "published as version 1" in done.stdout, done.stderr
    frame = zones_frame()
    frame.loc[2, "code"] = "Z-1"
    bad = run(str(as_file(frame, tmp_path, "dup.gpkg", "GPKG")), "--layer", "zones")
    assert bad.returncode == 1 and "id_duplicate" in bad.stdout
    hostile = run(str(hostile_files(tmp_path)["zip slip"][0]), "--layer", "zones")
    assert hostile.returncode == 2 and "outside the archive" in hostile.stderr
    with admin_store(data) as admin:
        actions = [(e["action"], e["actor"].startswith("cli:")) for e in admin.audit("zones")]
    assert actions == [("layer.publish", True)]


def test_a_shapefile_without_its_encoding_is_not_mojibake(setup, tmp_path):
    client, headers, _ = setup
    members = [(n, b) for n, b in _shapefile_members(tmp_path) if not n.endswith(".cpg")]
    response = upload(client, headers, _zip(tmp_path, "nocpg.zip", members), layer="nocpg")
    assert response.status_code == 201, response.text
    served = client.get("/collections/nocpg/items/Z-1").json()["properties"]
    assert served["name_vi"] == "Khu Mộc Châu"
    assert any(f["code"] == "encoding_converted" for f in response.json()["findings"])


def test_flatgeobuf_and_wkt_csv_upload(setup, tmp_path):
    client, headers, _ = setup
    fgb = as_file(zones_frame(), tmp_path, "zones.fgb", "FlatGeobuf")
    assert upload(client, headers, fgb, layer="fgb_zones").status_code == 201
    assert client.get("/collections/fgb_zones/items").json()["numberMatched"] == 3
    csv_path = tmp_path / "wkt.csv"
    csv_path.write_text(
        'code,name_vi,wkt\nW-1,Điểm Sơn La,"POINT (103.92 21.33)"\n', encoding="utf-8"
    )
    response = upload(
        client, headers, csv_path, layer="wkt_sites", wkt_field="wkt", crs="EPSG:4326"
    )
    assert response.status_code == 201, response.text
    served = client.get("/collections/wkt_sites/items/W-1").json()
    assert (
        served["geometry"]["coordinates"] == [103.92, 21.33]
        and served["properties"]["name_vi"] == "Điểm Sơn La"
    )


def test_put_on_a_layer_that_does_not_exist_is_404(setup, tmp_path):
    client, headers, _ = setup
    path = as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON")
    assert upload(client, headers, path, layer="nothing_here", method="put").status_code == 404


def test_a_new_version_keeps_the_metadata_it_does_not_give(setup, tmp_path):
    client, headers, _ = setup
    path = as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON")
    stated = {"title_vi": "Khu công nghiệp", "title_en": "Industrial zones",
              "description_en": "Zones of the plan", "kind": "industrial_zone",
              "source": "Sở KH&ĐT", "licence": "CC-BY-4.0", "data_quality": "indicative"}  # fmt: skip
    assert upload(client, headers, path, metadata=json.dumps(stated)).status_code == 201
    first = client.get("/collections/zones").json()
    again = upload(client, headers, path, method="put")
    assert again.status_code == 200, again.text
    assert "metadata data_quality = 'indicative' (kept from version 1)" in again.json()["defaulted"]
    second = client.get("/collections/zones").json()
    kept = ("title_vi", "title_en", "description_en", "kind", "source", "licence", "data_quality")
    assert second["version"] == 2 and {k: second[k] for k in kept} == stated
    assert second["fields"] == first["fields"]  # the kind's fields and code lists
    renamed = upload(client, headers, path, method="put", metadata='{"title_en": "Zones"}')
    assert renamed.status_code == 200
    third = client.get("/collections/zones").json()
    assert third["title_en"] == "Zones" and third["title_vi"] == stated["title_vi"]
    assert third["data_quality"] == "indicative" and third["licence"] == "CC-BY-4.0"


def test_a_new_layer_must_state_its_data_quality(setup, tmp_path):
    client, headers, data = setup
    path = as_file(zones_frame(), tmp_path, "zones.geojson", "GeoJSON")
    refused = upload(client, headers, path, metadata='{"title_en": "Zones"}')
    assert refused.status_code == 400 and "data_quality" in refused.json()["description"]
    twice = upload(client, headers, path, data_quality="authoritative")  # metadata: indicative
    assert twice.status_code == 400 and "twice" in twice.json()["description"]
    assert unpublished(client, data, "zones")
    as_field = upload(client, headers, path, metadata="{}", data_quality="synthetic_demo")
    assert as_field.status_code == 201, as_field.text
    assert client.get("/collections/zones").json()["data_quality"] == "synthetic_demo"


def test_a_doctype_split_across_the_read_chunks_is_refused(tmp_path):
    from geo_service.errors import InvalidParameter
    from geo_service.ingest.read import XML_CHUNK, refuse_xml_doctype

    for split in range(1, len("<!DOCTYPE")):
        head = b'<?xml version="1.0"?><!--'
        start = XML_CHUNK - split
        content = head + b" " * (start - len(head) - 3) + b'--><!DOCTYPE kml SYSTEM "x.dtd">'
        assert content[start:].startswith(b"<!DOCTYPE")
        path = tmp_path / "split.kml"
        path.write_bytes(content + b"<kml/>")
        with pytest.raises(InvalidParameter, match="DOCTYPE"):
            refuse_xml_doctype(path)
    path.write_bytes(b'<?xml version="1.0"?><!--' + b" " * XML_CHUNK + b"--><kml/>")
    refuse_xml_doctype(path)  # a long comment alone is fine


def test_cli_import_reports_values_outside_a_code_list_and_asks_for_data_quality(tmp_path):

    frame = zones_frame()
    frame["status"] = ["planned", "open", "Planned"]
    source = as_file(frame, tmp_path, "codes.gpkg", "GPKG")
    metadata = tmp_path / "meta.json"
    metadata.write_text('{"kind": "industrial_zone", "data_quality": "indicative"}')

    def run(*args: str) -> Ran:
        return geo_service(
            "import", source, "--layer", "zones", "--data-dir", tmp_path / "data", *args
        )

    bad = run("--metadata", str(metadata))
    assert bad.returncode == 1, bad.stderr
    assert "status: values outside its code list: 'open', 'Planned'" in bad.stdout
    assert "(e.g. Z-2, Z-3)" in bad.stdout and "Traceback" not in bad.stderr
    unstated = run()
    assert unstated.returncode == 2 and "data_quality" in unstated.stderr
