"""OGC API – Features over the generated grid: documents, items, filters, links and errors."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from geo_service.query import Query

CONF = "http://www.opengis.net/spec/"


def items(client, **params):
    response = client.get("/collections/grid/items", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


def test_landing_is_json_by_default_and_html_on_request(grid_client):
    body = grid_client.get("/").json()
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert grid_client.get(rels["service-desc"]).json()["openapi"].startswith("3.0")
    people = [x["href"] for x in body["links"] if x["rel"] == "related"]
    assert [urlsplit(href).path for href in people] == ["/map", "/dashboard"]
    english = grid_client.get("/", headers={"Accept-Language": "en"}).json()["links"]
    vietnamese = grid_client.get("/", headers={"Accept-Language": "vi"}).json()["links"]
    assert english[0]["title"] == "This document" and vietnamese[0]["title"] == "Tài liệu này"
    html = grid_client.get("/", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html") and "<h1>" in html.text
    assert grid_client.get("/?f=html").headers["content-type"].startswith("text/html")
    assert grid_client.get("/?f=json").headers["content-type"].startswith("application/json")


def link_titles(document) -> list[str]:
    """The titles of every link in a document, nested ones too, in order."""
    if isinstance(document, list):
        return [title for item in document for title in link_titles(item)]
    if not isinstance(document, dict):
        return []
    own = [x["title"] for x in document.get("links", []) if "title" in x]
    return own + [t for k, v in document.items() if k != "links" for t in link_titles(v)]


@pytest.mark.parametrize(
    "path",
    ["/collections", "/collections/grid", "/collections/grid/items?limit=1&offset=1",
     "/collections/grid/items/G-1-1", "/collections/grid/tiles", "/tileMatrixSets"],
)  # fmt: skip
def test_link_titles_are_in_the_language_asked(grid_client, path):
    said = {
        lang: link_titles(grid_client.get(path, headers={"Accept-Language": lang}).json())
        for lang in ("en", "vi", "ja")
    }
    assert said["en"] and len(set(map(len, said.values()))) == 1, said
    assert not any(" / " in title for titles in said.values() for title in titles), said
    assert said["vi"] != said["en"] and said["ja"] != said["en"], said
    if path.endswith("/tiles"):  # the tileset is titled as its collection
        titles = {lang: grid_client.get(path, params={"lang": lang}).json()["tilesets"][0]["title"]
                  for lang in ("en", "vi")}  # fmt: skip
        assert titles == {"en": "Test grid", "vi": "Lưới thử nghiệm"}
    if "items?" in path:
        assert said["en"][::2] == ["This page", "Next page"]
        assert said["vi"][::2] == ["Trang này", "Trang sau"]


@pytest.mark.parametrize("text", ["status ==", "status IN ('a'", "area_ha > ", "'open"])
def test_a_filter_syntax_error_is_said_in_the_language_asked_alone(grid_client, text):
    answer = grid_client.get("/collections/grid/items", params={"filter": text, "lang": "vi"})
    assert answer.status_code == 400
    told = answer.json()["description"]
    assert told.startswith("filter: lỗi cú pháp CQL2 tại vị trí"), told
    assert not any(word in told for word in ("expected", "found", "end of", " / ")), told


@pytest.mark.parametrize(
    ("query", "name"),
    [("limit=abc", "limit"), ("offset=-2", "offset"), ("bbox=1,2,3", "bbox"),
     ("datetime=yesterday", "datetime"), ("sortby=-", "sortby"), ("colour=red", "colour"),
     ("area_ha=big", "area_ha"), ("filter=status ==", "filter"), ("crs=EPSG:3857", "crs"),
     ("sortby=-nope", "sortby"), ("properties=code,nope", "properties")],
)  # fmt: skip
def test_a_refused_items_parameter_is_listed_by_name(grid_client, query, name):
    answer = grid_client.get(f"/collections/grid/items?{query}&lang=en")
    assert answer.status_code == 400, query
    (listed,) = answer.json()["invalid-params"]
    assert listed["name"] == name
    assert answer.json()["description"] == f"{name}: {listed['reason']}"


def test_the_openapi_document_says_bad_input_is_a_400_with_its_problems(grid_client):
    document = grid_client.get("/api").json()
    assert '"422"' not in json.dumps(document) and "HTTPValidationError" not in json.dumps(document)
    error = document["components"]["schemas"]["Exception"]
    items = document["paths"]["/collections/{collection_id}/items"]["get"]["responses"]["400"]
    assert items["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Exception"
    }
    one = document["paths"]["/collections/{collection_id}/items/{feature_id}"]["get"]
    assert one["responses"]["404"]["content"] == items["content"]
    assert grid_client.get("/collections/grid/items/NOPE").status_code == 404
    refused = grid_client.get("/collections/grid/items?limit=abc").json()
    assert set(error["required"]) <= set(refused) <= set(error["properties"])
    (listed,) = refused["invalid-params"]
    assert set(listed) <= set(error["properties"]["invalid-params"]["items"]["properties"])


def test_openapi_30_has_no_31_only_constructs(grid_client):
    text = json.dumps(grid_client.get("/api").json())
    assert '"type": "null"' not in text
    paths = grid_client.get("/api").json()["paths"]
    assert "/collections/{collection_id}/items" in paths


FEATURE_ROUTES = (
    "/collections/{collection_id}/items",
    "/collections/{collection_id}/facets",
    "/collections/{collection_id}/grid",
    "/collections/{collection_id}/tiles/{tile_matrix_set_id}/{z}/{x}/{y}",
)


def test_every_route_reading_features_documents_the_query_parameters(grid_client):
    """Read from the URL by hand (`api/params.py`), they are in the OpenAPI documents all
    the same, integers with their least value, once each, beside the route's own."""
    for document in ("/openapi.json", "/api"):
        paths = grid_client.get(document).json()["paths"]
        for route in FEATURE_ROUTES:
            parameters = {p["name"]: p for p in paths[route]["get"]["parameters"]}
            listed = [p["name"] for p in paths[route]["get"]["parameters"]]
            assert len(listed) == len(set(listed)), (document, route, listed)
            for name in ("bbox", "bbox-crs", "filter", "filter-lang", "sortby", "q", "datetime"):
                assert parameters[name]["schema"] == {"type": "string"}, (route, name)
                assert parameters[name]["in"] == "query" and parameters[name]["description"]
            assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1}
            assert parameters["offset"]["schema"] == {"type": "integer", "minimum": 0}
    facets = grid_client.get("/openapi.json").json()["paths"][FEATURE_ROUTES[1]]["get"]
    assert "fields" in [p["name"] for p in facets["parameters"]]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=abc", "limit=2.5", "offset=-1", "offset=x&limit=5", "limit=5&limit=0"],
)
def test_a_page_size_or_offset_that_is_no_whole_number_in_range_is_a_400(grid_client, query):
    for start in ("/collections/grid/items?", "/collections/grid/facets?fields=status&"):
        answer = grid_client.get(start + query, headers={"Accept-Language": "vi"})
        assert answer.status_code == 400, (start + query, answer.text)
        assert answer.json()["code"] == "InvalidParameterValue"
        assert "không phải số nguyên" in answer.json()["description"]


def test_a_parameter_given_twice_counts_once_with_its_last_value(grid_client):
    page = items(grid_client, limit=[7, 3], offset=[50, 2])
    assert len(page["features"]) == 3
    assert [f["id"] for f in page["features"]] == [
        f["id"] for f in items(grid_client, limit=3, offset=2)["features"]
    ]


def test_conformance_declares_what_is_implemented(grid_client):
    classes = grid_client.get("/conformance").json()["conformsTo"]
    assert CONF + "ogcapi-features-1/1.0/conf/core" in classes
    assert CONF + "cql2/1.0/conf/cql2-text" in classes
    assert not any("html" in c for c in classes)


def test_collections_and_collection(grid_client):
    collections = grid_client.get("/collections").json()["collections"]
    assert [c["id"] for c in collections] == ["grid"]
    grid = grid_client.get("/collections/grid").json()
    assert grid["title_vi"] == "Lưới thử nghiệm" and grid["title_en"] == "Test grid"
    assert grid["extent"]["spatial"]["bbox"][0][0] == pytest.approx(104.001)
    assert any(link["rel"] == "items" for link in grid["links"])
    status = next(f for f in grid["fields"] if f["name"] == "status")
    assert {"code": "operating", "label_vi": "Đang hoạt động", "label_en": "Operating"} in status[
        "codes"
    ]
    assert (
        grid_client.get("/collections/grid", params={"lang": "en"}).json()["title"] == "Test grid"
    )
    assert (
        grid_client.get("/collections/grid", headers={"Accept-Language": "vi"}).json()["title"]
        == "Lưới thử nghiệm"
    )


def test_queryables(grid_client):
    response = grid_client.get("/collections/grid/queryables")
    assert response.headers["content-type"].startswith("application/schema+json")
    props = response.json()["properties"]
    assert props["area_ha"]["type"] == "number" and props["area_ha"]["x-ogc-unit"] == "ha"
    assert "operating" in props["status"]["enum"]
    assert props["geometry"]["format"] == "geometry-polygon"


def test_items_default_page_and_links(grid_client):
    body = items(grid_client, limit=40)
    assert body["numberMatched"] == 101 and body["numberReturned"] == 40
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert "offset=40" in rels["next"] and "prev" not in rels
    second = grid_client.get(rels["next"]).json()
    assert second["numberReturned"] == 40 and "prev" in {link["rel"] for link in second["links"]}
    last = items(grid_client, limit=40, offset=80)
    assert last["numberReturned"] == 21 and "next" not in {link["rel"] for link in last["links"]}
    feature = body["features"][0]
    assert feature["type"] == "Feature" and feature["id"] == "G-0-0"
    assert feature["geometry"]["type"] == "Polygon"


def test_limit_is_clamped_to_the_maximum(grid_client):
    body = items(grid_client, limit=1000)
    assert body["numberReturned"] == 50  # this app's maximum


def test_feature_by_id(grid_client):
    response = grid_client.get("/collections/grid/items/G-2-3")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["id"] == "G-2-3" and body["properties"]["name_vi"] == "Khu Mai Sơn 23"
    assert any(link["rel"] == "collection" for link in body["links"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "operating"}, 33),
        ({"approved_year": "2005"}, 5),
        ({"bbox": "104.005,21.005,104.025,21.015"}, 6),
        ({"bbox": "104.23,21.23,104.235,21.235"}, 0),
        ({"filter": "status = 'operating' AND area_ha > 50"}, 16),
        ({"filter": "status IN ('planned', 'operating')"}, 68),
        ({"filter": "area_ha BETWEEN 10 AND 19"}, 10),
        ({"filter": "developer IS NULL"}, 16),
        ({"filter": "name_vi LIKE 'Khu Mộc Châu%'"}, 20),
        ({"filter": "name_vi LIKE 'khu mộc châu%'"}, 0),
        ({"filter": "CASEI(name_vi) LIKE CASEI('KHU MỘC CHÂU%')"}, 20),
        ({"filter": "ACCENTI(commune_name) = ACCENTI('Xa Da Bac')"}, 20),
        ({"filter": "NOT (status = 'planned') OR code = 'L-SHAPE'"}, 67),
        ({"filter": "S_INTERSECTS(geometry, POINT(104.055 21.065))"}, 1),
        ({"filter": "S_INTERSECTS(geometry, BBOX(104.005, 21.005, 104.025, 21.015))"}, 6),
        (
            {
                "filter": "S_INTERSECTS(geometry, POLYGON((104.21 21.23, 104.215 21.23, 104.215 21.235, 104.21 21.23)))"
            },
            1,
        ),
        ({"filter": "updated_at = DATE('2025-03-01')"}, 9),
        ({"datetime": "2025-03-01"}, 9),
        ({"datetime": "2025-11-01/.."}, 17),
        ({"filter": "status = 'x' OR 1 = 1"}, 101),
        ({"filter": "area_ha > approved_year OR \"code\" = 'G-1-1'"}, 1),
        ({"q": "moc chau"}, 36),
        ({"q": "Quỳnh"}, 36),
        (
            {
                "filter": json.dumps({"op": "=", "args": [{"property": "status"}, "operating"]}),
                "filter-lang": "cql2-json",
            },
            33,
        ),
    ],
)
def test_filters(grid_client, params, expected):
    body = items(grid_client, limit=50, **params)
    assert body["numberMatched"] == expected
    assert body["numberReturned"] == min(expected, 50)


def test_sortby_and_properties(grid_client):
    body = items(grid_client, sortby="-area_ha", properties="name_en,area_ha", limit=2)
    assert [f["id"] for f in body["features"]] == ["G-9-9", "G-9-8"]
    assert set(body["features"][0]["properties"]) == {"name_en", "area_ha"}


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "10,10,5,20"},
        {"bbox": "0,-100,1,1"},
        {"bbox-crs": "EPSG:3857", "bbox": "1,1,2,2"},
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"offset": "-5"},
        {"sortby": "nope"},
        {"properties": "nope"},
        {"f": "xml"},
        {"filter": "status = "},
        {"filter": "nope = 1"},
        {"filter": "area_ha > 'big'"},
        {"filter": "S_INTERSECTS(status, POINT(1 1))"},
        {"filter": "x", "filter-lang": "sql"},
        {"unknown_param": "1"},
        {"approved_year": "recent"},
        {"datetime": "yesterday"},
    ],
)
def test_bad_input_is_a_400_with_code_and_description(grid_client, params):
    response = grid_client.get("/collections/grid/items", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and body["description"]


def test_unknown_collection_and_feature_are_404(grid_client):
    for path in (
        "/collections/nope",
        "/collections/nope/items",
        "/collections/grid/items/NOPE",
        "/nothing",
    ):
        response = grid_client.get(path)
        assert response.status_code == 404, path
        assert set(response.json()) == {"code", "description"}


@pytest.mark.parametrize(
    "attack",
    [
        "status = 'x'; DROP TABLE grid; --",
        "status = 'x'' OR ''1''=''1'",
        "\"status\" = 'x') OR (1=1",
        "name_vi LIKE '%' UNION SELECT sql FROM sqlite_master --",
        'code = "fid"',
    ],
)
def test_filter_injection_never_reaches_sql(grid_client, grid_store, attack):
    before = grid_store.query("grid", Query(limit=None)).features
    response = grid_client.get("/collections/grid/items", params={"filter": attack})
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["numberMatched"] == 0
    assert [meta.id for meta in grid_store.layers()] == ["grid"]
    assert grid_store.query("grid", Query(limit=None)).features == before
    assert items(grid_client, limit=1)["numberMatched"] == 101


BIG = str(2**63)  # one more than SQLite's largest integer
NOT_DEEP = '{"op":"=","args":[{"property":"status"},"a"]}'
for _ in range(150):
    NOT_DEEP = '{"op":"not","args":[' + NOT_DEEP + "]}"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filter": f"area_ha > {BIG}"}, "64-bit"),
        ({"filter": f"approved_year IN (1, {BIG})"}, "64-bit"),
        ({"filter": f"area_ha BETWEEN -{BIG}1 AND 1"}, "64-bit"),
        (
            {
                "filter": f'{{"op":">","args":[{{"property":"area_ha"}},{BIG}]}}',
                "filter-lang": "cql2-json",
            },
            "64-bit",
        ),  # fmt: skip
        ({"approved_year": BIG}, "approved_year"),
        ({"area_ha": "1e999"}, "area_ha"),
        ({"offset": BIG}, "offset"),
        ({"limit": BIG}, "limit"),
        ({"offset": "9" * 5000}, "offset"),
        ({"filter": "area_ha > " + "9" * 5000}, "at most 40"),
        ({"filter": "(" * 300 + "status = 'a'" + ")" * 300}, "deeper than 20"),
        ({"filter": "NOT " * 150 + "status = 'a'"}, "deeper than 20"),
        ({"filter": NOT_DEEP, "filter-lang": "cql2-json"}, "deeper than"),
        ({"filter": "status = 'a' AND " * 1500 + "TRUE"}, "more than 1000"),
        ({"q": " ".join(f"w{n}" for n in range(3000))}, "at most 500"),
        ({"q": " ".join("w" * 21)}, "21 words; at most 20"),
        ({"sortby": ",".join(["area_ha"] * 3000)}, "at most 10"),
        ({"properties": ",".join(["area_ha"] * 3000)}, "at most 500"),
        (
            {
                "filter": '{"op":"s_intersects","args":[{"property":"geometry"},'
                '{"bbox":[NaN,21,105,22]}]}',
                "filter-lang": "cql2-json",
            },
            "NaN",
        ),  # fmt: skip
        (
            {
                "filter": '{"op":"=","args":[{"property":"status"},"\\ud800"]}',
                "filter-lang": "cql2-json",
            },
            "surrogate",
        ),  # fmt: skip
        ({"f": "csv", "crs": "IAU_2015:30100"}, "cannot be transformed"),
        ({"f": "gpkg", "crs": "+proj=longlat +a=1"}, "cannot be transformed"),
        ({"f": "csv", "crs": "EPSG:5773"}, "cannot be transformed"),  # a vertical CRS
        ({"f": "shp", "crs": "+proj=ortho +lat_0=-90"}, "outside what this CRS can show"),
    ],
)
def test_inputs_that_once_were_500s_are_400s_saying_why(grid_client, params, message):
    response = grid_client.get("/collections/grid/items", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "InvalidParameterValue"
    assert message in body["description"]


@pytest.mark.parametrize(
    "url",
    [
        "/collections/grid/items?q=%ED%A0%80",
        "/collections/grid/items?status=a%ED%A0%80",
        "/collections/grid/items?filter=status%3D%27%ED%A0%80%27",
        "/collections/grid/facets?fields=status&q=%FF",
        "/collections/grid%ED%A0%80/items",
        "/map/investor%ED%A0%80",
    ],
)
def test_invalid_utf8_in_a_path_or_query_string_is_a_400(grid_client, url):
    response = grid_client.get(url)
    assert response.status_code == 400, response.text
    assert "UTF-8" in response.json()["description"]


def test_the_largest_accepted_values_still_answer(grid_client):
    largest = str(2**63 - 1)
    assert items(grid_client, filter=f"approved_year < {largest}")["numberMatched"] == 100
    assert items(grid_client, approved_year=largest)["numberMatched"] == 0
    assert items(grid_client, offset=largest)["features"] == []
    assert items(grid_client, limit=largest)["numberReturned"] == 50  # clamped to the maximum
    assert items(grid_client, filter="status = 'x' OR " * 300 + "TRUE")["numberMatched"] == 101


def test_large_answers_are_compressed_for_clients_that_ask(grid_client):
    """A page of more than 4 kB is gzip-compressed for a client that accepts it (browsers, QGIS),
    decompressing to the same document; a client that does not ask gets it as it is."""
    url = "/collections/grid/items?limit=200"
    plain = grid_client.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert len(plain.content) > 4096
    asked = grid_client.get(url, headers={"Accept-Encoding": "gzip"})
    assert (
        asked.headers["content-encoding"] == "gzip" and "Accept-Encoding" in asked.headers["vary"]
    )
    # the same features once decompressed (the client does it), in far fewer bytes on the wire
    assert json.loads(asked.content)["features"] == json.loads(plain.content)["features"]
    assert int(asked.headers["content-length"]) < len(plain.content) / 3
    small = grid_client.get("/conformance", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
