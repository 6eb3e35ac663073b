"""Query text becomes a Query in one place, whoever sends it: the API's query string, the
command line and the ranking give the same parameters the same meaning."""

from __future__ import annotations

import pytest

from geo_service.errors import InvalidParameter
from geo_service.query import And, Between, Comparison, Literal, Property, SortKey
from geo_service.query_text import EVERY_FEATURE, Paging, build_query

from .conftest import grid_layer

PAGES = Paging(default_limit=100, max_limit=500)


def test_every_parameter_is_read_into_the_query():
    meta = grid_layer()[0]
    query = build_query(
        meta,
        PAGES,
        bbox="104,21,104.1,21.1",
        bbox_crs="EPSG:4326",
        filter="area_ha > 5",
        equals=[("status", "operating"), ("area_ha", "12")],
        q="Mộc Châu",
        datetime="2025-01-01/..",
        sortby="-area_ha,name_vi",
        properties="name_vi, status",
        limit=10_000,
        offset=20,
    )
    assert query.bbox == (104.0, 21.0, 104.1, 21.1)
    assert query.text == "Mộc Châu" and query.properties == ("name_vi", "status")
    assert query.sortby == (SortKey("area_ha", True), SortKey("name_vi", False))
    assert (query.limit, query.offset) == (500, 20)  # clamped to the maximum
    assert isinstance(query.filter, And)
    equal_status, equal_area, since, cql = query.filter.items
    assert equal_status == Comparison("=", Property("status"), Literal("operating"))
    assert equal_area == Comparison("=", Property("area_ha"), Literal(12.0))  # the field's type
    assert since == Comparison(">=", Property("updated_at"), Literal("2025-01-01"))
    assert cql == Comparison(">", Property("area_ha"), Literal(5))


def test_paging_defaults_and_every_feature():
    meta = grid_layer()[0]
    assert build_query(meta, PAGES).limit == 100
    assert build_query(meta, EVERY_FEATURE).limit is None
    assert build_query(meta, EVERY_FEATURE, limit=7).limit == 7


def test_a_json_filter_is_cql2_json_unless_said_otherwise():
    meta = grid_layer()[0]
    expr = {"op": "between", "args": [{"property": "area_ha"}, 1, 2]}
    query = build_query(meta, EVERY_FEATURE, filter=expr)
    assert query.filter == Between(Property("area_ha"), Literal(1), Literal(2))


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"equals": [("colour", "red")]}, "colour"),
        ({"equals": [("area_ha", "big")]}, "area_ha"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox_crs": "EPSG:3857"}, "bbox-crs"),
        ({"filter_crs": "EPSG:3857"}, "filter-crs"),
        ({"filter": "area_ha >"}, "filter"),
        ({"filter": "x = 1", "filter_lang": "sql"}, "filter"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"sortby": "-"}, "sortby"),
        ({"limit": 2**64}, "limit"),
    ],
)
def test_what_cannot_be_understood_is_a_400_that_names_it(parameters, named):
    with pytest.raises(InvalidParameter, match=named):
        build_query(grid_layer()[0], PAGES, **parameters)
