"""The query model's bounds: what any reader may be asked, checked once for every backend."""

from __future__ import annotations

import pytest
import shapely

from geo_service.errors import InvalidParameter
from geo_service.query import (
    MAX_DEPTH,
    MAX_INTEGER,
    MAX_NODES,
    MAX_PROPERTIES,
    MAX_SORT_KEYS,
    MAX_TEXT_LENGTH,
    MAX_TEXT_WORDS,
    MIN_INTEGER,
    And,
    Comparison,
    GeometryLiteral,
    Literal,
    Not,
    Property,
    Query,
    SortKey,
    check_filter,
    conjunction,
)

EQUAL = Comparison("=", Property("status"), Literal("planned"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (MAX_INTEGER + 1, "64-bit"),
        (MIN_INTEGER - 1, "64-bit"),
        (10**5000, "about 5001 digits"),
        (float("nan"), "not finite"),
        (float("inf"), "not finite"),
        ("x\ud800", "surrogate"),
    ],
    ids=["max+1", "min-1", "5001 digits", "nan", "inf", "surrogate"],
)
def test_literals_every_backend_can_bind_only(value, message):
    with pytest.raises(InvalidParameter, match=message):
        Literal(value)


def test_literals_at_the_bounds():
    for value in (MAX_INTEGER, MIN_INTEGER, 1e308, "Sơn La", True, None):
        assert Literal(value).value == value


def test_text_holding_nul_is_no_literal_on_any_store():
    """No store holds NUL in text (PostgreSQL cannot, and uploads and edits refuse it), so a
    value holding it is a 400 on both, not a search that matches nothing on one."""
    with pytest.raises(InvalidParameter, match="NUL"):
        Literal("Sơn La\x00")


def test_geometries_have_finite_coordinates():
    with pytest.raises(InvalidParameter, match="finite"):
        GeometryLiteral(shapely.box(0, 0, float("inf"), 1))
    assert GeometryLiteral(shapely.Point(104, 21)).geometry.x == 104


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"text": "w " * (MAX_TEXT_WORDS + 1)}, f"at most {MAX_TEXT_WORDS}"),
        ({"text": "w" * (MAX_TEXT_LENGTH + 1)}, f"at most {MAX_TEXT_LENGTH}"),
        ({"text": "\udc80"}, "surrogate"),
        ({"sortby": (SortKey("a"),) * (MAX_SORT_KEYS + 1)}, f"at most {MAX_SORT_KEYS}"),
        ({"properties": ("a",) * (MAX_PROPERTIES + 1)}, f"at most {MAX_PROPERTIES}"),
        ({"offset": MAX_INTEGER + 1}, "offset"),
        ({"limit": MAX_INTEGER + 1}, "limit"),
    ],
)
def test_queries_beyond_the_limits_are_refused_saying_the_limit(query, message):
    with pytest.raises(InvalidParameter, match=message):
        Query(**query)


def test_queries_at_the_limits():
    Query(
        text="w " * MAX_TEXT_WORDS,
        sortby=(SortKey("a"),) * MAX_SORT_KEYS,
        properties=("a",) * MAX_PROPERTIES,
        offset=MAX_INTEGER,
    )


def test_filter_size_and_depth():
    deep = EQUAL
    for _ in range(MAX_DEPTH - 1):
        deep = Not(deep)
    assert check_filter(deep) is deep
    with pytest.raises(InvalidParameter, match=f"deeper than {MAX_DEPTH}"):
        check_filter(Not(deep))
    wide = And((EQUAL,) * ((MAX_NODES - 1) // 3))
    assert check_filter(wide) is wide
    with pytest.raises(InvalidParameter, match=f"more than {MAX_NODES}"):
        check_filter(And((EQUAL,) * (MAX_NODES // 3 + 1)))


def test_conjunction_merges_rather_than_nests():
    other = Comparison(">", Property("area_ha"), Literal(1))
    assert conjunction(None, EQUAL, And((other, EQUAL))) == And((EQUAL, other, EQUAL))
    assert conjunction(None, EQUAL) is EQUAL
    assert conjunction(None, None) is None
