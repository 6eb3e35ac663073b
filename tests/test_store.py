"""The GeoPackage store on a generated grid: bbox, every operator, paging, sorting, text."""

from __future__ import annotations

import datetime as dt
import random

import pytest
import shapely

from geo_service.errors import InvalidParameter, NotFound
from geo_service.i18n import render
from geo_service.query import (
    And,
    Between,
    Comparison,
    Function,
    GeometryLiteral,
    In,
    IsNull,
    Like,
    Literal,
    Not,
    Or,
    Property,
    Query,
    SortKey,
    SpatialPredicate,
)

from .conftest import grid_layer

ALL = 101  # 100 squares and the L-shape


def codes(store, query: Query) -> list[str]:
    return [f.id for f in store.query("grid", query).features]


def matched(store, **kwargs) -> int:
    return store.query("grid", Query(limit=0, **kwargs)).number_matched


def test_layers_and_metadata(grid_store):
    (meta,) = grid_store.layers()
    assert meta.id == "grid" and meta.kind == "industrial_zone"
    assert meta.field("status").codes and meta.field("area_ha").unit == "ha"
    minx, miny, maxx, maxy = grid_store.extent("grid")
    assert minx == pytest.approx(104.001) and maxy == pytest.approx(21.24)


def test_unknown_layer_and_feature(grid_store):
    with pytest.raises(NotFound):
        grid_store.layer("nope")
    with pytest.raises(NotFound):
        grid_store.feature("grid", "G-99-99")
    with pytest.raises(NotFound):
        grid_store.layer("../../etc")


def test_feature_by_id_has_all_properties(grid_store):
    feature = grid_store.feature("grid", "G-3-4")
    assert feature.properties["name_vi"] == "Khu Vân Hồ 34"
    assert feature.properties["area_ha"] == 34.0
    assert shapely.from_wkb(feature.geometry).equals(shapely.box(104.031, 21.041, 104.039, 21.049))


def test_bbox_uses_exact_intersection(grid_store):
    # one grid cell's interior only
    assert codes(grid_store, Query(bbox=(104.032, 21.042, 104.033, 21.043))) == ["G-3-4"]
    # the gap between cells touches nothing
    assert matched(grid_store, bbox=(104.0091, 21.0, 104.0099, 21.2)) == 0
    # inside the L's bounding box but in its notch: the box test alone would say yes
    assert matched(grid_store, bbox=(104.23, 21.23, 104.235, 21.235)) == 0
    assert codes(grid_store, Query(bbox=(104.21, 21.23, 104.215, 21.235))) == ["L-SHAPE"]
    # a 3 × 2 block of cells
    assert matched(grid_store, bbox=(104.005, 21.005, 104.025, 21.015)) == 6


def test_boxes_hugging_the_edges_match_exactly_what_shapely_says(grid_store):
    """A box's matches are exactly the features it intersects, also where its edges lie closer
    to a feature's than the R-tree's 32-bit boxes can tell apart (features whose R-tree box the
    box holds are decided in SQL, the others by the exact test)."""
    _, records, geometries = grid_layer()
    shapes = dict(zip((r["code"] for r in records), geometries, strict=True))
    rng = random.Random(16)
    # the cells' own edges (x + 0.001, x + 0.009), the gaps between them, and the L-shape's
    edges = [k / 1000 for k in range(0, 101) if k % 10 in (0, 1, 9)] + [0.2, 0.22, 0.24]
    for _ in range(80):
        x0, x1 = sorted(rng.sample(edges, 2))
        y0, y1 = sorted(rng.sample(edges, 2))
        inward, outward = rng.choice([(0.0, 0.0), (1e-9, 0.0), (0.0, 1e-9), (1e-6, -1e-6)])
        bbox = (104 + x0 + inward - outward, 21 + y0 + inward - outward,
                104 + x1 - inward + outward, 21 + y1 - inward + outward)  # fmt: skip
        expected = sorted(c for c, g in shapes.items() if g.intersects(shapely.box(*bbox)))
        assert sorted(codes(grid_store, Query(bbox=bbox, limit=None))) == expected, bbox


@pytest.mark.parametrize("limit", [None, 5])
def test_a_page_in_a_box_and_the_same_page_without_one_each_read_their_own(grid_store, limit):
    """Pages of one shape but for their box: neither is answered with the other's statement,
    in either order, also once the box's count is known."""
    everything = codes(grid_store, Query(limit=limit))
    box = (104.032, 21.042, 104.033, 21.043)
    for _ in range(2):
        assert codes(grid_store, Query(bbox=box, limit=limit)) == ["G-3-4"]
        assert codes(grid_store, Query(limit=limit)) == everything


def test_s_intersects_polygon_and_point(grid_store):
    triangle = shapely.Polygon([(104.0, 21.0), (104.1, 21.0), (104.0, 21.1)])
    spatial = SpatialPredicate("s_intersects", Property("geometry"), GeometryLiteral(triangle))
    # cell (i, j) touches the triangle when its lower-left corner is below the hypotenuse
    expected = sum(1 for i in range(10) for j in range(10) if (i + j) * 0.01 + 0.002 < 0.1)
    assert matched(grid_store, filter=spatial) == expected
    point = GeometryLiteral(shapely.Point(104.055, 21.065))
    assert codes(
        grid_store, Query(filter=SpatialPredicate("s_intersects", Property("geom"), point))
    ) == ["G-5-6"]
    with pytest.raises(InvalidParameter):
        matched(grid_store, filter=SpatialPredicate("s_intersects", Property("status"), point))


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (Comparison("=", Property("status"), Literal("operating")), 33),
        (Comparison("<>", Property("status"), Literal("operating")), 68),
        (Comparison("<", Property("area_ha"), Literal(10)), 10),
        (Comparison("<=", Property("area_ha"), Literal(10)), 11),
        (Comparison(">", Property("area_ha"), Literal(90)), 9),
        (Comparison(">=", Property("area_ha"), Literal(90.0)), 10),
        (Comparison("=", Property("approved_year"), Literal(2005)), 5),
        (Between(Property("area_ha"), Literal(10), Literal(19)), 10),
        (Between(Property("area_ha"), Literal(10), Literal(19), negated=True), 90),
        (In(Property("status"), (Literal("planned"), Literal("operating"))), 68),
        (In(Property("status"), (Literal("planned"),), negated=True), 66),
        (IsNull(Property("developer")), 16),
        (IsNull(Property("developer"), negated=True), 85),
        (Like(Property("name_vi"), Literal("Khu Mộc Châu%")), 20),
        (Like(Property("name_vi"), Literal("khu mộc châu%")), 0),
        (Like(Property("name_vi"), Literal("Khu Đà Bắc 1_")), 10),
        (Like(Property("name_vi"), Literal("%Sơn%"), negated=True), 81),
        (Comparison("=", Property("updated_at"), Literal(dt.date(2025, 3, 1))), 9),
        (
            Comparison(
                "=", Function("casei", Property("name_en")), Function("casei", Literal("ZONE 7"))
            ),
            1,
        ),
        (
            Like(
                Function("casei", Property("name_vi")), Function("casei", Literal("KHU MỘC CHÂU%"))
            ),
            20,
        ),
        (
            Comparison(
                "=",
                Function("accenti", Property("commune_name")),
                Function("accenti", Literal("Xa Da Bac")),
            ),
            20,
        ),
        (Comparison(">", Property("area_ha"), Property("approved_year")), 0),
        (
            And(
                (
                    Comparison("=", Property("status"), Literal("planned")),
                    Comparison(">", Property("area_ha"), Literal(50)),
                )
            ),
            17,
        ),
        (
            Or(
                (
                    Comparison("=", Property("code"), Literal("G-0-0")),
                    Comparison("=", Property("code"), Literal("G-9-9")),
                )
            ),
            2,
        ),
        (Not(Comparison("=", Property("status"), Literal("planned"))), 66),
    ],
)
def test_filter_operators(grid_store, expr, expected):
    assert matched(grid_store, filter=expr) == expected
    page = grid_store.query("grid", Query(filter=expr, limit=200))
    assert len(page.features) == expected


def test_like_escapes_and_glob_characters_are_literal(grid_store):
    assert matched(grid_store, filter=Like(Property("name_en"), Literal("Zone 1\\_"))) == 0
    assert matched(grid_store, filter=Like(Property("name_en"), Literal("Zone *"))) == 0
    assert matched(grid_store, filter=Like(Property("name_en"), Literal("Zone [1]"))) == 0


def test_type_mismatch_is_a_client_error(grid_store):
    with pytest.raises(InvalidParameter) as refused:
        matched(grid_store, filter=Comparison(">", Property("area_ha"), Literal("big")))
    said = "a number cannot be compared with text (property 'area_ha' is of type number)"
    assert render(refused.value.description, "en") == said  # in these words on both stores
    with pytest.raises(InvalidParameter) as refused:
        matched(grid_store, filter=Comparison("=", Property("code"), Literal(True)))
    said = "không thể so sánh văn bản với một giá trị đúng/sai (thuộc tính 'code' kiểu string)"
    assert render(refused.value.description, "vi") == said
    with pytest.raises(InvalidParameter, match="unknown property"):
        matched(grid_store, filter=Comparison("=", Property("nope"), Literal(1)))


def test_paging_is_stable_and_complete(grid_store):
    seen = []
    for offset in range(0, ALL, 7):
        page = grid_store.query("grid", Query(limit=7, offset=offset))
        assert page.number_matched == ALL
        seen.extend(f.id for f in page.features)
    assert len(seen) == ALL == len(set(seen))
    beyond = grid_store.query("grid", Query(limit=10, offset=500))
    assert beyond.features == [] and beyond.number_matched == ALL
    assert grid_store.query("grid", Query(limit=0)).number_matched == ALL
    assert grid_store.query("grid", Query(limit=None)).number_matched == ALL


def test_sorting(grid_store):
    ids = codes(grid_store, Query(sortby=(SortKey("area_ha", descending=True),), limit=3))
    assert ids == ["G-9-9", "G-9-8", "G-9-7"]
    ids = codes(grid_store, Query(sortby=(SortKey("status"), SortKey("area_ha")), limit=2))
    assert ids == ["G-0-1", "G-0-4"]  # calling_investment first, smallest area first
    with pytest.raises(InvalidParameter):
        codes(grid_store, Query(sortby=(SortKey("nope"),)))


def test_property_selection(grid_store):
    (feature,) = grid_store.query(
        "grid", Query(properties=("name_vi", "area_ha"), limit=1)
    ).features
    assert set(feature.properties) == {"name_vi", "area_ha"}
    with pytest.raises(InvalidParameter):
        grid_store.query("grid", Query(properties=("nope",)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("moc chau", 36),
        ("Mộc Châu", 36),
        ("MỘC CHÂU", 36),
        ("da bac", 36),
        ("Đà", 36),
        ("xa mai son 22", 1),
        ("nothing here", 0),
    ],
)
def test_free_text_ignores_diacritics(grid_store, text, expected):
    assert matched(grid_store, text=text) == expected


def test_combined_query(grid_store):
    page = grid_store.query(
        "grid",
        Query(
            bbox=(104.0, 21.0, 104.05, 21.1),
            filter=Comparison("=", Property("status"), Literal("operating")),
            text="moc",
            sortby=(SortKey("area_ha"),),
            limit=2,
        ),
    )
    assert page.number_matched == 5
    assert [f.id for f in page.features] == ["G-0-2", "G-0-5"]


def test_iter_features_streams_every_selected_feature_in_batches(grid_store):
    batches = list(grid_store.iter_features("grid", Query(limit=None), batch_size=30))
    assert [len(b) for b in batches] == [30, 30, 30, 11]
    assert [f.id for b in batches for f in b] == codes(grid_store, Query(limit=None))
    operating = Comparison("=", Property("status"), Literal("operating"))
    selected = [
        f for b in grid_store.iter_features("grid", Query(filter=operating, limit=None)) for f in b
    ]
    assert len(selected) == 33 and all(f.properties["status"] == "operating" for f in selected)


def test_long_conjunctions_and_disjunctions_compile_within_sqlites_depth(grid_store):
    """SQLite parses a flat `a AND b AND …` one level per term and refuses past 1000 levels;
    the compiler groups terms in a balanced tree, so internal queries (a shortlist's ids) of
    any length run."""
    every_code = [Comparison("<>", Property("code"), Literal(f"X-{n}")) for n in range(3000)]
    assert matched(grid_store, filter=And(tuple(every_code))) == ALL
    some_codes = [Comparison("=", Property("code"), Literal(f"G-{n % 10}-0")) for n in range(3000)]
    assert matched(grid_store, filter=Or(tuple(some_codes))) == 10


def test_like_on_numbers_and_numeric_columns_is_not_an_error(grid_store):
    assert matched(grid_store, filter=Like(Literal(0), Literal(0))) == ALL
    assert matched(grid_store, filter=Like(Property("name_en"), Property("approved_year"))) == 0
