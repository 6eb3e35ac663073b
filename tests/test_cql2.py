"""CQL2 text and JSON parsing into the query model's expression tree."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import re

import pytest
import shapely

from geo_service.cql2 import (
    MAX_NUMBER_LENGTH,
    CQL2Error,
    parse_cql2_json,
    parse_cql2_text,
    parse_filter,
)
from geo_service.query import (
    MAX_DEPTH,
    MAX_IN_TERMS,
    MAX_NODES,
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
    SpatialPredicate,
)

P, L = Property, Literal


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("status = 'operating'", Comparison("=", P("status"), L("operating"))),
        ("area_ha <> 5", Comparison("<>", P("area_ha"), L(5))),
        ("area_ha < 5.5", Comparison("<", P("area_ha"), L(5.5))),
        ("area_ha <= -2", Comparison("<=", P("area_ha"), L(-2))),
        ("area_ha > 1e3", Comparison(">", P("area_ha"), L(1000.0))),
        ("area_ha >= .5", Comparison(">=", P("area_ha"), L(0.5))),
        ("5 < area_ha", Comparison("<", L(5), P("area_ha"))),
        ("area_ha > capacity_mw", Comparison(">", P("area_ha"), P("capacity_mw"))),
        ("\"name vi\" = 'x'", Comparison("=", P("name vi"), L("x"))),
        ("name_vi = 'Mộc Châu'", Comparison("=", P("name_vi"), L("Mộc Châu"))),
        ("name_vi = 'it''s'", Comparison("=", P("name_vi"), L("it's"))),
        ("active = TRUE", Comparison("=", P("active"), L(True))),
        ("active = false", Comparison("=", P("active"), L(False))),
        (
            "updated_at = DATE('2025-01-31')",
            Comparison("=", P("updated_at"), L(dt.date(2025, 1, 31))),
        ),
        (
            "updated_at > TIMESTAMP('2025-01-31T10:00:00Z')",
            Comparison(">", P("updated_at"), L(dt.datetime(2025, 1, 31, 10, tzinfo=dt.UTC))),
        ),
        ("name_vi LIKE 'Khu%'", Like(P("name_vi"), L("Khu%"))),
        ("name_vi NOT LIKE 'Khu_'", Like(P("name_vi"), L("Khu_"), negated=True)),
        ("area_ha BETWEEN 1 AND 10", Between(P("area_ha"), L(1), L(10))),
        ("area_ha not between 1 and 10", Between(P("area_ha"), L(1), L(10), negated=True)),
        ("status IN ('a', 'b')", In(P("status"), (L("a"), L("b")))),
        ("status NOT IN ('a')", In(P("status"), (L("a"),), negated=True)),
        ("developer IS NULL", IsNull(P("developer"))),
        ("developer IS NOT NULL", IsNull(P("developer"), negated=True)),
        (
            "CASEI(name_en) = CASEI('ZONE')",
            Comparison("=", Function("casei", P("name_en")), Function("casei", L("ZONE"))),
        ),
        (
            "ACCENTI(name_vi) LIKE ACCENTI('Mộc%')",
            Like(Function("accenti", P("name_vi")), Function("accenti", L("Mộc%"))),
        ),
        (
            "casei(accenti(x)) IN (casei('a'))",
            In(Function("casei", Function("accenti", P("x"))), (Function("casei", L("a")),)),
        ),
    ],
)
def test_predicates(text, tree):
    assert parse_cql2_text(text) == tree


def test_precedence_not_and_or():
    a, b, c = (Comparison("=", P(n), L(1)) for n in "abc")
    assert parse_cql2_text("a = 1 OR b = 1 AND c = 1") == Or((a, And((b, c))))
    assert parse_cql2_text("(a = 1 OR b = 1) AND c = 1") == And((Or((a, b)), c))
    assert parse_cql2_text("NOT a = 1 AND b = 1") == And((Not(a), b))
    assert parse_cql2_text("a = 1 and b = 1 and c = 1") == And((a, b, c))
    assert parse_cql2_text("not (a = 1 or b = 1)") == Not(Or((a, b)))


@pytest.mark.parametrize(
    ("text", "geometry"),
    [
        ("S_INTERSECTS(geometry, POINT(104.07 21.255))", shapely.Point(104.07, 21.255)),
        ("s_intersects(geom, BBOX(1, 2, 3, 4))", shapely.box(1, 2, 3, 4)),
        ("S_INTERSECTS(geometry, BBOX(1, 2, 0, 3, 4, 9))", shapely.box(1, 2, 3, 4)),
        (
            "S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))",
            shapely.Polygon([(0, 0), (1, 0), (1, 1)]),
        ),
        (
            "S_INTERSECTS(MULTIPOINT((1 1), (2 2)), geometry)",
            shapely.MultiPoint([(1, 1), (2, 2)]),
        ),
        ("S_INTERSECTS(geometry, LINESTRING(0 0, 1 1))", shapely.LineString([(0, 0), (1, 1)])),
    ],
)
def test_spatial(text, geometry):
    tree = parse_cql2_text(text)
    assert isinstance(tree, SpatialPredicate) and tree.op == "s_intersects"
    assert tree.property.name in ("geometry", "geom")
    assert tree.geometry.geometry.equals(geometry)


def test_spatial_combined_with_attributes():
    tree = parse_cql2_text("S_INTERSECTS(geometry, BBOX(1,2,3,4)) AND status = 'x'")
    assert isinstance(tree, And) and isinstance(tree.items[0], SpatialPredicate)


@pytest.mark.parametrize(
    ("document", "text"),
    [
        ({"op": "=", "args": [{"property": "status"}, "operating"]}, "status = 'operating'"),
        (
            {
                "op": "and",
                "args": [
                    {"op": ">", "args": [{"property": "a"}, 1]},
                    {"op": "<", "args": [{"property": "b"}, 2.5]},
                ],
            },
            "a > 1 AND b < 2.5",
        ),
        (
            {
                "op": "or",
                "args": [
                    {"op": "isNull", "args": [{"property": "a"}]},
                    {"op": "not", "args": [{"op": "=", "args": [{"property": "b"}, True]}]},
                ],
            },
            "a IS NULL OR NOT b = TRUE",
        ),
        (
            {
                "op": "like",
                "args": [
                    {"op": "casei", "args": [{"property": "n"}]},
                    {"op": "casei", "args": ["k%"]},
                ],
            },
            "CASEI(n) LIKE CASEI('k%')",
        ),
        ({"op": "between", "args": [{"property": "a"}, 1, 10]}, "a BETWEEN 1 AND 10"),
        ({"op": "in", "args": [{"property": "s"}, ["x", "y"]]}, "s IN ('x', 'y')"),
        (
            {"op": "=", "args": [{"property": "d"}, {"date": "2025-01-02"}]},
            "d = DATE('2025-01-02')",
        ),
        (
            {"op": "accenti", "args": ["x"]}
            and {"op": "=", "args": [{"op": "accenti", "args": [{"property": "n"}]}, "x"]},
            "ACCENTI(n) = 'x'",
        ),
    ],
)
def test_json_matches_text(document, text):
    assert parse_cql2_json(document) == parse_cql2_text(text)


def test_json_spatial():
    tree = parse_cql2_json(
        {
            "op": "s_intersects",
            "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [104, 21]}],
        }
    )
    assert tree.geometry.geometry.equals(shapely.Point(104, 21))
    tree = parse_cql2_json(
        '{"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [1, 2, 3, 4]}]}'
    )
    assert tree == SpatialPredicate(
        "s_intersects", P("geometry"), GeometryLiteral(tree.geometry.geometry)
    )
    assert tree.geometry.geometry.equals(shapely.box(1, 2, 3, 4))


def test_filter_lang():
    assert parse_filter("a = 1", None) == parse_filter("a = 1", "cql2-text")
    assert parse_filter('{"op": "=", "args": [{"property": "a"}, 1]}', "cql2-json") == parse_filter(
        "a = 1"
    )
    with pytest.raises(CQL2Error, match="cql2-text"):
        parse_filter("a = 1", "sql")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("status = ", "position 9"),
        ("status = 'open", "unterminated"),
        ("(a = 1", "')'"),
        ("a = 1)", "position 5"),
        ("a = 1 b = 2", "position 6"),
        ("a ! 1", "position 2"),
        ("a BETWEEN 1 2", "AND"),
        ("a IN 1, 2", "'('"),
        ("a IS 1", "NULL"),
        ("S_WITHIN(geometry, POINT(1 1))", "unknown function"),
        ("S_INTERSECTS(geometry, POINT(1))", "invalid geometry"),
        ("S_INTERSECTS(geometry, POINT(1 1)", "')'"),
        ("S_INTERSECTS(a, b)", "geometry"),
        ("S_INTERSECTS(geometry, BBOX(1, 2, 3))", "BBOX"),
        ("d = DATE('2025-13-01')", "DATE"),
        ("d = TIMESTAMP('2025-01-01T00:00:00')", "time zone"),
        ("UPPER(a) = 'X'", "unknown function"),
        ("AND = 1", "expected a value"),
    ],
)
def test_errors_say_what_and_where(text, message):
    with pytest.raises(CQL2Error, match=re.escape(message)):
        parse_cql2_text(text)


@pytest.mark.parametrize(
    "document",
    [
        "{",
        "[]",
        {"op": "=", "args": [1]},
        {"op": "nope", "args": []},
        {"op": "in", "args": [{"property": "a"}, []]},
        {"op": "=", "args": [{"x": 1}, 1]},
        {"op": "s_intersects", "args": [{"property": "g"}, {"type": "Point"}]},
    ],
)
def test_json_errors(document):
    with pytest.raises(CQL2Error):
        parse_cql2_json(document)


def test_injection_strings_stay_literals_or_fail():
    tree = parse_cql2_text("name = 'x''; DROP TABLE t; --'")
    assert tree == Comparison("=", P("name"), L("x'; DROP TABLE t; --"))
    for attack in (
        "name = 'x'; DROP TABLE t; --",
        "1=1) OR (1=1",
        "a = 1 -- comment",
        "a = 1 /* x */",
    ):
        with pytest.raises(CQL2Error):
            parse_cql2_text(attack)


def test_garbage_never_raises_anything_but_cql2_error():
    rng = random.Random(7)
    alphabet = list("abc_ 019.,()'\"=<>!-%*;") + [
        "AND ",
        "OR ",
        "NOT ",
        "LIKE ",
        "IN ",
        "POINT(",
        "BBOX(",
        "S_INTERSECTS(",
        "DATE(",
        "CASEI(",
        "IS NULL",
        "BETWEEN ",
    ]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        with contextlib.suppress(CQL2Error):
            parse_cql2_text(text)


# -- limits: each refusal is a CQL2Error naming the limit --------------------------------------

BIG = 2**63  # one more than SQLite's largest integer


def deep_json_not(depth: int) -> dict:
    node: dict = {"op": "=", "args": [{"property": "status"}, "a"]}
    for _ in range(depth):
        node = {"op": "not", "args": [node]}
    return node


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"area_ha > {BIG}", "64-bit"),
        (f"area_ha < -{BIG + 1}", "64-bit"),
        (f"approved_year IN (1, {BIG})", "64-bit"),
        (f"area_ha BETWEEN 1 AND {BIG}", "64-bit"),
        ("area_ha > " + "9" * 5000, f"at most {MAX_NUMBER_LENGTH}"),
        ("area_ha > 0." + "0" * 5000 + "1", f"at most {MAX_NUMBER_LENGTH}"),
        ("area_ha > 1e999", "not finite"),
        ("(" * 300 + "status = 'a'" + ")" * 300, f"deeper than {MAX_DEPTH}"),
        ("NOT " * 150 + "status = 'a'", f"deeper than {MAX_DEPTH}"),
        ("CASEI(" * 50 + "name_en" + ")" * 50 + " = 'a'", f"deeper than {MAX_DEPTH}"),
        ("status = 'a' AND " * 1500 + "TRUE", f"more than {MAX_NODES}"),
        ("status = 'a' OR " * 1500 + "TRUE", f"more than {MAX_NODES}"),
        (f"code IN ({', '.join(['1'] * (MAX_IN_TERMS + 1))})", f"at most {MAX_IN_TERMS}"),
        (
            "S_INTERSECTS(geometry, "
            + "GEOMETRYCOLLECTION(" * 100
            + "POINT(1 1)"
            + ")" * 100
            + ")",
            f"deeper than {MAX_DEPTH}",
        ),
        ("S_INTERSECTS(geometry, POINT(nan 1))", "not finite"),
    ],
)
def test_text_beyond_the_limits_is_refused_saying_the_limit(text, message):
    with pytest.raises(CQL2Error, match=re.escape(message)):
        parse_cql2_text(text)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"op": ">", "args": [{"property": "area_ha"}, BIG]}, "64-bit"),
        ({"op": "in", "args": [{"property": "code"}, [1, -BIG - 1]]}, "64-bit"),
        ({"op": "between", "args": [{"property": "area_ha"}, 1, BIG]}, "64-bit"),
        ({"op": "in", "args": [{"property": "code"}, [1] * (MAX_IN_TERMS + 1)]}, "at most"),
        (deep_json_not(MAX_DEPTH + 5), f"deeper than {MAX_DEPTH}"),
        (json.dumps(deep_json_not(150)), "deeper than"),
        ({"op": "and", "args": [deep_json_not(0)] * 600}, f"more than {MAX_NODES}"),
        (
            '{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[NaN,1,2,3]}]}',
            "NaN",
        ),
        (
            '{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[1e999,1,2,3]}]}',
            "too large",
        ),
        (
            {"op": "s_intersects", "args": [{"property": "g"}, {"bbox": [float("nan"), 1, 2, 3]}]},
            "not finite",
        ),
        ('{"op":"=","args":[{"property":"status"},"\\ud800"]}', "surrogate"),
        ({"op": "=", "args": [{"property": "status"}, "\ud800"]}, "surrogate"),
        ({"op": ">", "args": [{"property": "area_ha"}, float("inf")]}, "not finite"),
    ],
)
def test_json_beyond_the_limits_is_refused_saying_the_limit(document, message):
    with pytest.raises(CQL2Error, match=re.escape(message)):
        parse_cql2_json(document)


def test_filters_at_the_limits_parse():
    largest = 2**63 - 1
    assert parse_cql2_text(f"a = {largest}") == Comparison("=", P("a"), L(largest))
    assert parse_cql2_text(f"a = -{largest + 1}") == Comparison("=", P("a"), L(-largest - 1))
    nested = "(" * (MAX_DEPTH - 1) + "a = 1" + ")" * (MAX_DEPTH - 1)
    assert parse_cql2_text(nested) == Comparison("=", P("a"), L(1))
    assert isinstance(parse_cql2_text("NOT " * (MAX_DEPTH - 1) + "a = 1"), Not)
    with pytest.raises(CQL2Error, match="deeper"):
        parse_cql2_text("NOT " * MAX_DEPTH + "a = 1")
    terms = ", ".join(["1"] * MAX_IN_TERMS)
    assert len(parse_cql2_text(f"a IN ({terms})").items) == MAX_IN_TERMS
    conjunction = parse_cql2_text(" AND ".join(["a = 1"] * ((MAX_NODES - 1) // 3)))
    assert isinstance(conjunction, And)
    assert isinstance(parse_cql2_json(json.dumps(deep_json_not(MAX_DEPTH - 1))), Not)
    with pytest.raises(CQL2Error, match="deeper"):
        parse_cql2_json(deep_json_not(MAX_DEPTH))


def test_a_cql2_text_filter_must_be_text():
    with pytest.raises(CQL2Error, match="text"):
        parse_filter({"op": "=", "args": [1, 1]}, "cql2-text")


@pytest.mark.parametrize(
    "numbers", [[0.0, 0.0, float("nan"), 0.0], [0, 0, float("inf"), 1], [True, 0, 1, 1]]
)
def test_a_json_bbox_of_numbers_that_are_not_finite_is_refused(numbers):
    document = {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": numbers}]}
    with pytest.raises(CQL2Error, match="BBOX"):
        parse_cql2_json(document)
