"""Property-based: no input to a public read endpoint, to the ranking, or to the CQL2 parsers
ends in a 5xx, or in an error that is not JSON `{"code", "description"}`.

Generated values: CQL2 text and JSON from the grammar and beyond it (random nesting, numbers of
any size and thousands of digits, NaN and Infinity), and Unicode of every category with lone
surrogates (percent-encoded as the invalid UTF-8 `%ED%A0%80`) and NUL, at every query
parameter, path parameter and ranking member.

The suite runs a fixed, repeatable budget per property; a longer hunt is
`GEO_SERVICE_FUZZ_EXAMPLES=20000 bash scripts/test.sh tests/test_fuzz.py
--hypothesis-show-statistics` (random, a different hunt each run).
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from geo_service.cql2 import CQL2Error, parse_cql2_json, parse_cql2_text
from geo_service.errors import ServiceError
from geo_service.exports.formats import FORMATS
from geo_service.query import Query
from geo_service.store import Store

from .conftest import error_document
from .raster_data import make_world_with_grid

LONG_HUNT = int(os.environ.get("GEO_SERVICE_FUZZ_EXAMPLES", "0"))
MAX_URL = 65_000
"""Longer URLs are refused by the HTTP client itself (and by servers in front of us)."""


def budget(examples: int) -> settings:
    """`examples` in the suite: the same ones every run, as many as keep the suite's time in
    bounds on two slow cores; a longer, random hunt by hand with GEO_SERVICE_FUZZ_EXAMPLES."""
    return settings(
        max_examples=LONG_HUNT or examples,
        derandomize=not LONG_HUNT,
        deadline=None,
        database=None,  # nothing written into the worktree
        print_blob=True,  # a failure of a random hunt can be replayed
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# -- values ------------------------------------------------------------------------------------

CHARACTERS = st.one_of(
    st.characters(),  # every category but surrogates …
    st.characters(categories=["Cs"]),  # … and lone surrogates
    st.sampled_from(list("\x00'\"%_\\(),. -+*/=<>&#?;\n")),
)
TEXT = st.text(CHARACTERS, max_size=40)
NUMBER_TEXT = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**62, max_value=2**300).map(str),
    st.integers(min_value=-(2**300), max_value=-(2**62)).map(str),
    st.floats().map(repr),
    st.text("0123456789", min_size=20, max_size=3000),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "0x10", "١٢"]),
)
PROPERTIES = st.sampled_from(
    ["status", "area_ha", "approved_year", "code", "name_vi", "name_en", "updated_at",
     "developer", "geometry", "nope", "fid", "rowid"]
)  # fmt: skip


def cql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


CQL_SCALAR = st.one_of(
    NUMBER_TEXT,
    TEXT.map(cql_string),
    PROPERTIES,
    PROPERTIES.map(lambda p: f'"{p}"'),
    PROPERTIES.map(lambda p: f"CASEI({p})"),
    TEXT.map(lambda t: f"ACCENTI({cql_string(t)})"),
    st.sampled_from(["TRUE", "FALSE", "NULL", "DATE('2025-01-01')", "DATE('x')"]),
    TEXT.map(lambda t: f"TIMESTAMP({cql_string(t)})"),
)
WKT = st.one_of(
    st.lists(NUMBER_TEXT, min_size=0, max_size=6).map(lambda n: f"BBOX({', '.join(n)})"),
    st.tuples(NUMBER_TEXT, NUMBER_TEXT).map(lambda p: f"POINT({p[0]} {p[1]})"),
    st.integers(0, 60).map(lambda n: "GEOMETRYCOLLECTION(" * n + "POINT(1 1)" + ")" * n),
    st.sampled_from(["POINT(nan nan)", "POINT(inf 1)", "POLYGON((0 0, 1 0, 0 0))", "POINT()"]),
)
CQL_PREDICATE = st.one_of(
    st.tuples(CQL_SCALAR, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), CQL_SCALAR).map(
        " ".join
    ),
    st.tuples(CQL_SCALAR, CQL_SCALAR).map(lambda t: f"{t[0]} LIKE {t[1]}"),
    st.tuples(CQL_SCALAR, CQL_SCALAR, CQL_SCALAR).map(
        lambda t: f"{t[0]} NOT BETWEEN {t[1]} AND {t[2]}"
    ),
    st.tuples(CQL_SCALAR, st.lists(CQL_SCALAR, max_size=8)).map(
        lambda t: f"{t[0]} IN ({', '.join(t[1])})"
    ),
    st.tuples(PROPERTIES, st.integers(0, 1200)).map(
        lambda t: f"{t[0]} IN ({', '.join(['1'] * t[1])})"
    ),
    PROPERTIES.map(lambda p: f"{p} IS NOT NULL"),
    WKT.map(lambda w: f"S_INTERSECTS(geometry, {w})"),
    st.sampled_from(["TRUE", "FALSE"]),
)
CQL_TEXT = st.one_of(
    st.recursive(
        CQL_PREDICATE,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" AND ", " OR "]), inner).map("".join),
            inner.map(lambda e: f"NOT {e}"),
            inner.map(lambda e: f"({e})"),
        ),
        max_leaves=25,
    ),
    st.tuples(st.sampled_from(["(", "NOT ", "NOT (", "CASEI("]), st.integers(0, 400)).map(
        lambda t: t[0] * t[1] + "status = 'a'" + ")" * (t[1] * t[0].count("("))
    ),
    st.integers(0, 2000).map(lambda n: "status = 'a' AND " * n + "TRUE"),
    st.lists(
        st.one_of(CHARACTERS, st.sampled_from(["AND ", "OR ", "NOT ", "(", ")", "1", "'a'"])),
        max_size=60,
    ).map("".join),
)

JSON_PRIMITIVE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN and ±Infinity too: sent as JSON's non-standard tokens
    TEXT,
)
JSON_SCALAR = st.one_of(
    JSON_PRIMITIVE,
    PROPERTIES.map(lambda p: {"property": p}),
    TEXT.map(lambda t: {"date": t}),
    PROPERTIES.map(lambda p: {"op": "casei", "args": [{"property": p}]}),
)
JSON_GEOMETRY = st.one_of(
    st.lists(st.floats(), min_size=3, max_size=7).map(lambda b: {"bbox": b}),
    st.lists(st.floats(), min_size=0, max_size=3).map(
        lambda c: {"type": "Point", "coordinates": c}
    ),
    st.dictionaries(st.sampled_from(["type", "coordinates", "geometries"]), JSON_PRIMITIVE),
)
JSON_PREDICATE = st.recursive(
    st.one_of(
        st.tuples(st.sampled_from(["=", "<>", "<", ">=", "like"]), JSON_SCALAR, JSON_SCALAR).map(
            lambda t: {"op": t[0], "args": [t[1], t[2]]}
        ),
        st.tuples(JSON_SCALAR, st.lists(JSON_SCALAR, max_size=6)).map(
            lambda t: {"op": "in", "args": [t[0], t[1]]}
        ),
        st.lists(JSON_SCALAR, max_size=4).map(lambda a: {"op": "between", "args": a}),
        JSON_GEOMETRY.map(lambda g: {"op": "s_intersects", "args": [{"property": "geometry"}, g]}),
        JSON_PRIMITIVE,
    ),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["and", "or", "AND", "nope"]), st.lists(inner, max_size=4)).map(
            lambda t: {"op": t[0], "args": t[1]}
        ),
        inner.map(lambda e: {"op": "not", "args": [e]}),
        st.dictionaries(TEXT, inner, max_size=3),
        st.lists(inner, max_size=3),
    ),
    max_leaves=20,
)


def deep_not(depth: int) -> dict:
    node: dict = {"op": "=", "args": [{"property": "status"}, "a"]}
    for _ in range(depth):
        node = {"op": "not", "args": [node]}
    return node


CQL_JSON = st.one_of(
    JSON_PREDICATE.map(lambda d: json.dumps(d, allow_nan=True)),
    st.integers(0, 200).map(lambda n: json.dumps(deep_not(n))),
    st.lists(st.one_of(CHARACTERS, st.sampled_from(['{"op":', "[", "]", "}", "NaN", "1e999"]))).map(
        "".join
    ),
)
FILTER_PARAMS = st.one_of(
    CQL_TEXT.map(lambda f: {"filter": f}),
    CQL_JSON.map(lambda f: {"filter": f, "filter-lang": "cql2-json"}),
)

CRS = st.one_of(
    st.sampled_from(["EPSG:9206", "EPSG:4326", "IAU_2015:30100", "+proj=longlat +a=1",
                     "EPSG:5773", "EPSG:4978", "+proj=ortho +lat_0=-90", "CRS84", "EPSG:0",
                     "http://www.opengis.net/def/crs/EPSG/0/3405"]),
    TEXT,
)  # fmt: skip
FORMAT = st.one_of(st.sampled_from([*FORMATS, "json", "html", "pdf"]), TEXT)
VALUE = st.one_of(TEXT, NUMBER_TEXT, CQL_TEXT, CRS, st.sampled_from(["", "..", "vi", "en"]))
FEATURE_PARAM_NAMES = [
    "bbox", "bbox-crs", "crs", "limit", "offset", "filter", "filter-lang", "filter-crs",
    "sortby", "properties", "q", "datetime", "f", "lang",
]  # fmt: skip
FEATURE_PARAMS = st.one_of(
    st.dictionaries(
        st.one_of(st.sampled_from(FEATURE_PARAM_NAMES), PROPERTIES, TEXT), VALUE, max_size=5
    ),
    FILTER_PARAMS,
    st.fixed_dictionaries(
        {},
        optional={
            "bbox": st.lists(NUMBER_TEXT, max_size=6).map(",".join),
            "sortby": st.lists(
                st.one_of(PROPERTIES, PROPERTIES.map("-".__add__)), max_size=3000
            ).map(",".join),
            "properties": st.lists(PROPERTIES, max_size=3000).map(",".join),
            "q": st.lists(TEXT, max_size=3000).map(" ".join),
            "offset": NUMBER_TEXT,
            "limit": NUMBER_TEXT,
            "approved_year": NUMBER_TEXT,
            "area_ha": NUMBER_TEXT,
            "updated_at": TEXT,
            "datetime": TEXT,
            "f": FORMAT,
            "crs": CRS,
        },
    ),
)


def url(path: str, params: dict[str, str]) -> str:
    """The URL as a client would send it; lone surrogates percent-encoded as their UTF-8-like
    bytes (`%ED%A0%80`), which is not UTF-8."""

    def encode(text: str) -> str:
        return quote(text, safe="", errors="surrogatepass")

    query = "&".join(f"{encode(k)}={encode(v)}" for k, v in params.items())
    whole = path + ("?" + query if query else "")
    assume(len(whole) <= MAX_URL)
    return whole


def segment(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")


def assert_answered(response) -> None:
    """No 5xx; an error is JSON with a code and a description."""
    assert response.status_code < 500, (response.request.url, response.text[:500])
    if response.status_code >= 400:
        error_document(response)


# -- the service -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory, backend):
    """The grid, sites and gates layers, the `values` and `dem` rasters, one shortlist."""
    data = tmp_path_factory.mktemp("fuzz")
    client, _ = make_world_with_grid(backend, data, tmp_path_factory.mktemp("fuzz-files"))
    created = client.post(
        "/shortlists",
        json={"name": "fuzz", "items": [{"collection": "grid", "id": "G-1-1"},
                                        {"collection": "sites", "id": "EDGE"}]},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    return client, created.json()["id"], backend.store(data)


COLLECTIONS = st.one_of(st.sampled_from(["grid", "sites", "gates", "nope"]), TEXT)
FEATURES = st.one_of(st.sampled_from(["G-1-1", "L-SHAPE", "EDGE", "POINT", "NOPE"]), TEXT)
RASTERS = st.one_of(st.sampled_from(["values", "dem", "dem:slope", "nope"]), TEXT)


@budget(800)
@given(collection=COLLECTIONS, params=FEATURE_PARAMS)
def test_items_and_exports(world, collection, params):
    client, _, _ = world
    assert_answered(client.get(url(f"/collections/{segment(collection)}/items", params)))


def read_requests(shortlist: str):
    """(path, parameter names) of every other public read endpoint, with generated path parts."""
    number = st.one_of(st.integers(-5, 30).map(str), NUMBER_TEXT, TEXT)
    item = st.tuples(COLLECTIONS, FEATURES).map(
        lambda t: f"/collections/{segment(t[0])}/items/{segment(t[1])}"
    )
    return st.one_of(
        st.tuples(item, st.just(["f", "lang"])),
        st.tuples(item.map(lambda p: p + "/nearby"), st.just(["layers", "k"])),
        st.tuples(item.map(lambda p: p + "/stats"), st.just(["rasters"])),
        st.tuples(
            COLLECTIONS.map(lambda c: f"/collections/{segment(c)}/facets"),
            st.just(["fields", *FEATURE_PARAM_NAMES]),
        ),
        st.tuples(
            COLLECTIONS.map(lambda c: f"/collections/{segment(c)}/grid"),
            st.just(["columns", "rows", *FEATURE_PARAM_NAMES]),
        ),
        st.tuples(
            st.tuples(COLLECTIONS, st.sampled_from(["", "/queryables"])).map(
                lambda t: f"/collections/{segment(t[0])}{t[1]}"
            ),
            st.just(["f", "lang"]),
        ),
        st.tuples(
            st.sampled_from(["/collections", "/", "/conformance", "/maps", "/rasters"]),
            st.just(["f", "lang"]),
        ),  # fmt: skip
        st.tuples(
            st.tuples(RASTERS, st.sampled_from(["", "/legend"])).map(
                lambda t: f"/rasters/{segment(t[0])}{t[1]}"
            ),
            st.just(["v"]),
        ),
        st.tuples(
            st.tuples(RASTERS, number, number, number).map(
                lambda t: (
                    f"/rasters/{segment(t[0])}/tiles/{segment(t[1])}/{segment(t[2])}/"
                    f"{segment(t[3])}.png"
                )
            ),
            st.just(["v"]),
        ),
        st.tuples(
            st.tuples(st.one_of(st.just(shortlist), TEXT), st.sampled_from(["", "/export"])).map(
                lambda t: f"/shortlists/{segment(t[0])}{t[1]}"
            ),
            st.just(["f", "crs", "lang"]),
        ),
        st.tuples(
            st.one_of(
                st.just("/map"),
                st.sampled_from(["investor", "nope"]).map("/map/".__add__),
                TEXT.map(lambda m: "/map/" + segment(m)),
            ),
            st.just(["lang"]),
        ),  # fmt: skip
    )


@budget(700)
@given(data=st.data())
def test_every_other_read_endpoint(world, data):
    client, shortlist, _ = world
    path, names = data.draw(read_requests(shortlist))
    values = {
        "f": FORMAT, "crs": CRS, "layers": st.one_of(COLLECTIONS, TEXT), "rasters": RASTERS,
        "fields": st.lists(PROPERTIES, max_size=5).map(",".join), "columns": NUMBER_TEXT,
        "rows": NUMBER_TEXT, "k": NUMBER_TEXT,
    }  # fmt: skip
    params = data.draw(
        st.dictionaries(
            st.one_of(st.sampled_from(names), PROPERTIES, TEXT),
            st.one_of(VALUE, *(values[n] for n in names if n in values)),
            max_size=4,
        )
    )
    assert_answered(client.get(url(path, params)))


JSON_NUMBER = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats().map(lambda f: json.dumps(f, allow_nan=True)),
    st.sampled_from(["1e999", "-1e999", "1e308", "0", "-0.0", "1" * 40]),
)


def json_member(name: str, value: str) -> str:
    return json.dumps(name) + ": " + value


@budget(250)
@given(
    collection=COLLECTIONS,
    candidate_filter=st.one_of(st.none(), CQL_TEXT.map(json.dumps), JSON_PREDICATE.map(json.dumps)),
    criteria=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    '"type": "attribute", "field": "area_ha"',
                    '"type": "raster", "raster": "values"',
                    '"type": "distance", "layer": "gates"',
                    '"type": "attribute", "field": "name_vi"',
                ]
            ),
            JSON_NUMBER,
            st.one_of(st.none(), JSON_NUMBER),
            st.one_of(st.none(), JSON_NUMBER),
        ),
        min_size=0,
        max_size=3,
    ),  # fmt: skip
    limit=st.one_of(st.none(), JSON_NUMBER),
    raw=st.one_of(st.none(), TEXT, st.integers(0, 300).map(lambda n: "[" * n + "]" * n)),
)
def test_ranking_bodies(world, collection, candidate_filter, criteria, limit, raw):
    """Bodies written by hand, so that they can hold NaN, Infinity and huge integers."""
    client, _, _ = world
    if raw is not None:
        body = raw
    else:
        candidates = [json_member("collection", json.dumps(collection))]
        if candidate_filter is not None:
            candidates.append(json_member("filter", candidate_filter))
        if limit is not None:
            candidates.append(json_member("limit", limit))
        rows = []
        for kind, weight, low, high in criteria:
            members = [kind, json_member("weight", weight), '"direction": "higher"']
            members += [json_member(k, v) for k, v in (("min", low), ("max", high)) if v]
            rows.append("{" + ", ".join(members) + "}")
        body = (
            '{"candidates": {' + ", ".join(candidates) + '}, "criteria": [' + ", ".join(rows) + "]}"
        )
    response = client.post(
        "/analysis/rank",
        content=body.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": "application/json"},
    )
    assert_answered(response)


# -- the parsers, and the SQL they compile to ---------------------------------------------------


def parsed_runs_or_is_refused(store: Store, parse, source) -> None:
    """The parser refuses the filter (CQL2Error), or the store runs it or refuses it as a
    client error."""
    try:
        expr = parse(source)
    except CQL2Error:
        return
    try:
        store.query("grid", Query(filter=expr, limit=1))
    except ServiceError as exc:
        assert exc.status < 500, exc.description


@budget(800)
@given(text=CQL_TEXT)
def test_cql2_text_parser(world, text):
    parsed_runs_or_is_refused(world[2], parse_cql2_text, text)


@budget(800)
@given(document=st.one_of(CQL_JSON, JSON_PREDICATE))
def test_cql2_json_parser(world, document):
    parsed_runs_or_is_refused(world[2], parse_cql2_json, document)
