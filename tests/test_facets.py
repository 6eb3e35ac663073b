"""Facet counts over a filtered collection, computed in SQL, honouring the items parameters."""

from __future__ import annotations


def facets(client, **params):
    response = client.get("/collections/grid/facets", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def counts(body, field):
    return {v["value"]: v["count"] for v in body["facets"][field]["values"]}


def test_value_counts_with_labels(grid_client):
    body = facets(grid_client, fields="status", lang="en")
    assert body["numberMatched"] == 101
    assert counts(body, "status") == {"planned": 35, "calling_investment": 33, "operating": 33}
    first = body["facets"]["status"]["values"][0]
    assert first == {
        "value": "planned",
        "count": 35,
        "label_vi": "Quy hoạch",
        "label_en": "Planned",
    }
    assert body["facets"]["status"]["label"] == "Status"


def test_counts_follow_the_other_filters(grid_client):
    body = facets(grid_client, fields="status,area_ha", filter="area_ha > 50")
    assert body["numberMatched"] == 49
    assert sum(counts(body, "status").values()) == 49
    assert counts(body, "status")["planned"] == 17
    assert body["facets"]["area_ha"] == {
        "type": "number",
        "label": "Diện tích",
        "unit": "ha",
        "minimum": 51.0,
        "maximum": 99.0,
        "count": 49,
    }
    boxed = facets(grid_client, fields="status", bbox="104.005,21.005,104.025,21.015")
    assert sum(counts(boxed, "status").values()) == boxed["numberMatched"] == 6
    text = facets(grid_client, fields="commune_name", q="moc chau", status="operating")
    assert sum(counts(text, "commune_name").values()) == text["numberMatched"]


def test_facet_errors(grid_client):
    assert grid_client.get("/collections/grid/facets").status_code == 400
    unknown = grid_client.get("/collections/grid/facets", params={"fields": "status,nope"})
    assert unknown.status_code == 400
    assert [p["name"] for p in unknown.json()["invalid-params"]] == ["fields"]
    empty = grid_client.get("/collections/grid/facets", params={"fields": " , "})
    assert empty.status_code == 400 and empty.json()["invalid-params"][0]["name"] == "fields"
    assert (
        grid_client.get("/collections/nope/facets", params={"fields": "status"}).status_code == 404
    )
    assert (
        grid_client.get(
            "/collections/grid/facets", params={"fields": "status", "filter": "status ="}
        ).status_code
        == 400
    )
