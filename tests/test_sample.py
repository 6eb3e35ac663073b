"""The sample catalogue: every layer present, honest attributes, stable ids across rebuilds."""

from __future__ import annotations

import shapely
from pyproj import Geod

from geo_service.query import Query
from geo_service.sample import build_sample
from geo_service.store import Store

from .conftest import store_of


def everything(store: Store, layer_id: str) -> dict:
    return {f.id: f for f in store.query(layer_id, Query(limit=None)).features}


def test_every_layer_says_its_source_and_quality(sample_dir):
    store = store_of(sample_dir)
    for meta in store.layers():
        assert meta.title_vi and meta.title_en and meta.source and meta.licence
        for feature in everything(store, meta.id).values():
            props = feature.properties
            assert props["source"], (meta.id, feature.id)
            assert props["data_quality"] in {"authoritative", "indicative", "synthetic_demo"}
            assert props["province_code"], (meta.id, feature.id)
            # a site the documents place in no commune sits at its province's centre, and says so
            placed = bool(props["commune_code"] and props["commune_name"])
            assert placed or "tâm tỉnh" in props["source"], (meta.id, feature.id)


def test_communes_cover_the_three_provinces(sample_dir):
    store = store_of(sample_dir)
    communes = everything(store, "communes")
    provinces = [f.properties["province_code"] for f in communes.values()]
    assert (provinces.count("14"), provinces.count("22"), provinces.count("08")) == (75, 54, 124)
    assert communes["04123"].properties["name_vi"] == "Xã Chiềng Mung"


def test_auction_plots_are_all_marked_synthetic(sample_dir):
    store = store_of(sample_dir)
    plots = everything(store, "land_auction_plots")
    assert plots and all(p.properties["data_quality"] == "synthetic_demo" for p in plots.values())
    assert "mô phỏng" in store.layer("land_auction_plots").title_vi


def test_indicative_shapes_have_their_stated_area(sample_dir):
    store = store_of(sample_dir)
    for meta in store.layers():
        if meta.geometry_type != "polygon":
            continue
        for feature in everything(store, meta.id).values():
            area_ha = feature.properties["area_ha"]
            if area_ha:
                geometry = shapely.from_wkb(feature.geometry)
                measured = _geodesic_area_ha(geometry)
                assert abs(measured - area_ha) / area_ha < 0.01, (meta.id, feature.id)


def _geodesic_area_ha(geometry) -> float:
    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(geometry)
    return abs(area) / 10_000


def test_rebuilding_keeps_ids_and_shapes(tmp_path, sample_dir, backend):
    second = backend.store(backend.claim(tmp_path))
    build_sample(tmp_path, second)
    first = store_of(sample_dir)
    for meta in first.layers():
        a, b = everything(first, meta.id), everything(second, meta.id)
        assert a.keys() == b.keys()
        assert all(a[k].geometry == b[k].geometry and a[k].properties == b[k].properties for k in a)
    build_sample(tmp_path, second)  # again into the same store: a new version, the same ids
    assert second.layer("communes").version == 2
    assert everything(second, "communes").keys() == everything(first, "communes").keys()


def test_readme_documents_every_field_of_every_kind():
    from pathlib import Path

    from geo_service.kinds import load_kinds
    from geo_service.settings import Settings

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for kind in load_kinds(Settings().kinds_dir).kinds.values():
        if kind.id != "other":
            assert f"`{kind.id}`" in readme
        for spec in kind.all_fields:
            assert f"`{spec.name}`" in readme, spec.name
            for code in spec.codes or []:
                assert f"`{code.code}`" in readme, code.code


NAMED_PLACES = {
    # code: (layer, 2025 commune) for the places the Sơn La plans name, as DOMAIN.md places them
    "SL-KCN-MAISON-1": ("industrial_zones", "Xã Chiềng Mung"),
    "SL-KCN-MAISON-2": ("industrial_zones", "Xã Chiềng Mung"),
    "SL-KCN-VANHO": ("industrial_zones", "Xã Vân Hồ"),
    "SL-DL-MOCCHAU": ("tourism_areas", "Phường Mộc Châu"),
    "SL-DL-LONGHO": ("tourism_areas", "Xã Mường La"),
    "SL-DL-QUYNHNHAI": ("tourism_areas", "Xã Quỳnh Nhai"),
    "SL-DL-BACYEN": ("tourism_areas", "Xã Bắc Yên"),
    "SL-DL-TAXUA": ("tourism_areas", "Xã Tà Xùa"),
    "SL-DL-NGOCCHIEN": ("tourism_areas", "Xã Ngọc Chiến"),
    "SL-DL-MUONGCHANH": ("tourism_areas", "Xã Mường Chanh"),
    "SL-DL-PHADIN": ("tourism_areas", "Xã Bình Thuận"),
    "SL-DL-NHATU": ("tourism_areas", "Phường Tô Hiệu"),
    "SL-NL-THUYDIEN-SONLA": ("energy_sites", "Xã Mường La"),
    "SL-NL-GIO-MAISON": ("energy_sites", "Xã Mai Sơn"),
    "SL-NL-GIO-HONGNGAI": ("energy_sites", "Xã Bắc Yên"),
    "SL-NL-GIO-TAXUA": ("energy_sites", "Xã Tà Xùa"),
    "SL-CK-LONGSAP": ("logistics_trade", "Xã Lóng Sập"),
    "SL-LG-MAISON": ("logistics_trade", "Xã Mai Sơn"),
    "QN-KKT-MONGCAI": ("industrial_zones", "Phường Móng Cái 1"),
    "QN-KKT-VANDON": ("industrial_zones", "Đặc khu Vân Đồn"),
    "TQ-KCN-NHUKHE": ("industrial_zones", "Xã Nhữ Khê"),
}


def test_named_places_sit_at_their_2025_commune(sample_dir):
    store = store_of(sample_dir)
    for code, (layer_id, commune) in NAMED_PLACES.items():
        feature = store.feature(layer_id, code)
        assert feature.properties["commune_name"] == commune, code
        assert feature.properties["data_quality"] == "indicative"


def test_figures_the_documents_do_not_give_stay_empty(sample_dir):
    store = store_of(sample_dir)
    mai_son = store.feature("industrial_zones", "SL-KCN-MAISON-1").properties
    assert mai_son["area_ha"] is None and mai_son["approved_year"] is None
    assert mai_son["status_note"] == "«hoàn thiện, khai thác hiệu quả»"
    assert store.feature("energy_sites", "SL-NL-THUYDIEN-SONLA").properties["capacity_mw"] is None
    van_ho = store.feature("industrial_zones", "SL-KCN-VANHO").properties
    assert van_ho["area_ha"] is None and van_ho["occupancy_pct"] is None
    zones = everything(store, "industrial_zones").values()
    assert all(z.properties["occupancy_pct"] is None for z in zones)
    assert {z.properties["province_code"] for z in zones} == {"14", "22", "08"}


def test_codes_are_unique_across_layers(sample_dir):
    store = store_of(sample_dir)
    codes = [
        code
        for meta in store.layers()
        if meta.id != "communes"
        for code in everything(store, meta.id)
    ]
    assert len(codes) == len(set(codes))
