"""Every error answer, from every router and from FastAPI and Starlette themselves, is JSON
`{"code", "description"}` with the right status; a validation error (422) is a 400."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from geo_service import errors
from geo_service.api.strict_input import StrictRoute
from geo_service.app import create_app
from geo_service.shortlists import TooManyShortlists

from .conftest import error_document, settings_of
from .raster_data import make_world_with_grid
from .staff import staff_token

GEOJSON = b'{"type": "FeatureCollection", "features": []}'


@pytest.fixture(scope="module")
def world(tmp_path_factory, backend):
    """Layers, rasters, an editor and an admin token; tight limits so 413 and 429 are near."""
    data = tmp_path_factory.mktemp("errors")
    files = tmp_path_factory.mktemp("errors-files")
    _, editor_headers = make_world_with_grid(backend, data, files)
    boss = staff_token(data, "admin")
    settings = backend.settings(
        data, max_export=5, shortlist_max_items=2, shortlists_per_client=1, upload_max_bytes=10
    )
    client = TestClient(create_app(settings))
    shortlist = client.post("/shortlists", json={"name": "one", "items": []})
    assert shortlist.status_code == 201
    return client, {"editor": editor_headers, "admin": {"Authorization": f"Bearer {boss}"}}


JSON_BODY = {"Content-Type": "application/json"}
CASES = {
    # 400: our own checks, FastAPI's validation (422) and unreadable bodies
    "bad parameter": ("GET", "/collections/grid/items?limit=0", {}, 400),
    "bad filter": ("GET", "/collections/grid/items?filter=area_ha%20%3E", {}, 400),
    "missing parameter": ("GET", "/collections/grid/facets", {}, 400),
    "not an integer": ("GET", "/collections/grid/grid?bbox=1,1,2,2&rows=many", {}, 400),
    "unknown enum": ("GET", "/collections?lang=fr", {}, 400),
    "malformed JSON body": ("POST", "/shortlists", {"content": b"{", "headers": JSON_BODY}, 400),
    "NaN in a body": (
        "POST", "/analysis/rank",
        {"content": b'{"candidates": {"collection": "grid"}, "criteria": '
                    b'[{"type": "attribute", "field": "area_ha", "weight": NaN, '
                    b'"direction": "higher"}]}', "headers": JSON_BODY},
        400,
    ),
    "body of the wrong shape": ("POST", "/shortlists", {"json": [1, 2]}, 400),
    "body missing members": ("POST", "/analysis/rank", {"json": {}}, 400),
    "wrong content type": (
        "POST", "/shortlists",
        {"content": b'{"name": "x"}', "headers": {"Content-Type": "text/plain"}},
        400,
    ),
    "no content type": ("POST", "/shortlists", {"content": b'{"name": "x"}'}, 400),
    "invalid UTF-8 in the query": ("GET", "/collections?f=%FF", {}, 400),
    # 401 and 403: authentication and roles
    "no token": ("GET", "/admin/audit", {}, 401),
    "unknown token": ("GET", "/admin/audit", {"headers": {"Authorization": "Bearer x"}}, 401),
    "no token for an upload": (
        "POST", "/admin/layers", {"files": {"file": ("x.geojson", GEOJSON)},
                                  "data": {"id": "x"}}, 401,
    ),
    "editor archiving": ("DELETE", "/admin/layers/grid", {"role": "editor"}, 403),
    "editor reading the audit": ("GET", "/admin/audit", {"role": "editor"}, 403),
    # 404: unknown paths and unknown things
    "unknown path": ("GET", "/nothing/here", {}, 404),
    "unknown collection": ("GET", "/collections/nope/items", {}, 404),
    "unknown feature": ("GET", "/collections/grid/items/NOPE", {}, 404),
    "unknown raster": ("GET", "/rasters/nope/legend", {}, 404),
    "unknown map": ("GET", "/map/nope", {}, 404),
    "unknown shortlist": ("GET", "/shortlists/nope", {}, 404),
    "unknown layer's versions": ("GET", "/admin/layers/nope/versions", {"role": "editor"}, 404),
    "unknown static file": ("GET", "/static/map/nope.js", {}, 404),
    # 405: a known path, another method
    "wrong method": ("DELETE", "/collections", {}, 405),
    "wrong method on items": ("PATCH", "/collections/grid/items", {}, 405),  # POST creates
    # 409: creating what exists
    "layer exists": (
        "POST", "/admin/layers",
        {"role": "editor", "files": {"file": ("x.geojson", GEOJSON)},
         "data": {"id": "grid", "data_quality": "indicative"}},
        409,
    ),
    # 413: over a configured limit
    "export over the limit": ("GET", "/collections/grid/items?f=csv", {}, 413),
    "shortlist over the limit": (
        "POST", "/shortlists",
        {"json": {"name": "x", "items": [{"collection": "grid", "id": f"G-0-{n}"}
                                         for n in range(3)]}},
        413,
    ),
    "upload over the limit": (
        "POST", "/admin/layers",
        {"role": "editor", "files": {"file": ("x.geojson", GEOJSON)},
         "data": {"id": "fresh", "data_quality": "indicative"}},
        413,
    ),
    # 429: the shortlist quota of a client
    "too many shortlists": ("POST", "/shortlists", {"json": {"name": "two"}}, 429),
}  # fmt: skip


def assert_error_document(response, status: int) -> dict:
    assert response.status_code == status, response.text
    return error_document(response)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_router_answers_errors_as_json(world, case):
    client, tokens = world
    method, path, options, status = CASES[case]
    options = dict(options)
    headers = dict(options.pop("headers", {}))
    if role := options.pop("role", None):
        headers.update(tokens[role])
    response = client.request(method, path, headers=headers, **options)
    body = assert_error_document(response, status)
    if status == 405:
        assert response.headers["allow"] and response.headers["allow"] in body["description"]


def every_service_error() -> list[type[errors.ServiceError]]:
    found, pending = [], [errors.ServiceError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted({*found, TooManyShortlists}, key=lambda c: c.__name__)


def test_every_error_class_and_starlettes_own_leave_as_json(tmp_path):
    """Each `ServiceError` kind keeps its status and code; an `HTTPException` raised with only a
    status (406, 415, 429, …) gets a code for it and keeps its headers (Retry-After)."""
    app = create_app(settings_of(tmp_path))
    kinds = every_service_error()

    def raise_service_error(index: int):
        raise kinds[index]("it went wrong / có lỗi")

    def raise_http(status: int):
        raise HTTPException(status, headers={"Retry-After": "5"} if status == 429 else None)

    app.router.add_api_route(
        "/raise/service/{index}", raise_service_error, route_class_override=StrictRoute
    )
    app.router.add_api_route("/raise/http/{status}", raise_http, route_class_override=StrictRoute)
    client = TestClient(app, raise_server_exceptions=False)
    for index, kind in enumerate(kinds):
        body = assert_error_document(client.get(f"/raise/service/{index}"), kind.status)
        assert body == {"code": kind.code, "description": "it went wrong / có lỗi"}
    for status, code in ((400, "InvalidParameterValue"), (406, "NotAcceptable"),
                         (409, "Conflict"), (413, "PayloadTooLarge"),
                         (415, "UnsupportedMediaType"), (429, "TooManyRequests")):  # fmt: skip
        response = client.get(f"/raise/http/{status}")
        assert assert_error_document(response, status)["code"] == code
    assert client.get("/raise/http/429").headers["retry-after"] == "5"


def test_every_route_reads_its_input_strictly(world):
    """Every operation of the API has the strict route class: its query string must be UTF-8
    (checked before anything else, a token included), its JSON body strict JSON (read after
    the token, which staff routes check first)."""
    client, tokens = world
    paths = client.app.openapi()["paths"]
    for template, operations in paths.items():
        path = re.sub(r"\{[^}]+\}", "x", template)
        for method in operations:
            response = client.request(method.upper(), f"{path}?q=%FF")
            body = assert_error_document(response, 400)
            assert "UTF-8" in body["description"], (method, template)
            if method in ("post", "patch", "put") and "requestBody" in operations[method]:
                content = operations[method]["requestBody"]["content"]
                if "application/json" in content:
                    headers = JSON_BODY | tokens["admin"]
                    nan = client.request(method.upper(), path, content=b"NaN", headers=headers)
                    assert "NaN" in assert_error_document(nan, 400)["description"], template
