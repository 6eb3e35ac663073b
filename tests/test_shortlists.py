"""Shortlists: create, read, change with the edit key, limits, persistence and exports; each
test on both records databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time
import urllib.error
import urllib.request
import zipfile

import openpyxl
import pyogrio
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo_service import clock
from geo_service.app import create_app
from geo_service.errors import NotFound, TooLarge
from geo_service.records import Records, database_url, upgrade
from geo_service.records.schema import shortlist_items, shortlists
from geo_service.shortlists import ItemRef, ShortlistStore, TooManyShortlists

from .command_line import geo_service
from .conftest import env_of, settings_of
from .server import running_server

ITEMS = [
    {"collection": "industrial_zones", "id": "SL-KCN-MAISON-1"},
    {"collection": "industrial_zones", "id": "SL-KCN-MAISON-2"},
    {"collection": "tourism_areas", "id": "SL-DL-MOCCHAU"},
    {"collection": "industrial_zones", "id": "GONE-SINCE"},
]


@pytest.fixture()
def data_dir(sample_dir, tmp_path, backend):
    return backend.copy(sample_dir, tmp_path / "data")


def app_client(data_dir, **settings) -> TestClient:
    return TestClient(create_app(settings_of(data_dir, **settings)))


@pytest.fixture()
def store(records_url):
    """The shortlists of the test's records database, at most two per client."""
    records = Records(records_url)
    upgrade(records)
    yield ShortlistStore(records, max_items=10, max_per_client=2)
    records.dispose()


def records_of(data_dir) -> str:
    """The URL of the records database an app on `data_dir` uses."""
    return database_url(settings_of(data_dir).database_url, data_dir)


def stored_rows(records_url) -> tuple[int, int]:
    """(shortlists, items) in the records database."""
    records = Records(records_url)
    with records.reading() as session:
        counts = tuple(
            session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in (shortlists, shortlist_items)
        )
    records.dispose()
    return counts


def create(client, items=ITEMS, name="Mai Sơn và Mộc Châu"):
    response = client.post(
        "/shortlists", json={"name": name, "note": "Họp với nhà đầu tư", "items": items}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_create_read_and_missing_items(data_dir):
    client = app_client(data_dir)
    created = create(client)
    assert (
        len(created["id"]) >= 20
        and len(created["edit_key"]) >= 30
        and created["id"] != created["edit_key"]
    )
    body = client.get(f"/shortlists/{created['id']}").json()
    assert "edit_key" not in body and body["name"] == "Mai Sơn và Mộc Châu"
    found = {i["id"]: i for i in body["items"]}
    assert found["SL-KCN-MAISON-1"]["found"] and found["SL-KCN-MAISON-1"]["name_vi"].startswith(
        "Khu công nghiệp Mai Sơn"
    )
    assert found["SL-KCN-MAISON-1"]["href"].endswith(
        "/collections/industrial_zones/items/SL-KCN-MAISON-1"
    )
    assert found["GONE-SINCE"]["found"] is False and found["GONE-SINCE"]["reason"]
    assert client.get("/shortlists/not-a-list").status_code == 404


def test_changes_need_the_edit_key(data_dir):
    client = app_client(data_dir)
    created = create(client)
    url = f"/shortlists/{created['id']}"
    change = {
        "name": "Chỉ Mai Sơn",
        "remove": [ITEMS[2]],
        "add": [{"collection": "energy_sites", "id": "SL-NL-GIO-MAISON"}],
    }
    assert client.patch(url, json=change).status_code == 401
    wrong = client.patch(url, json=change, headers={"X-Shortlist-Key": "guess"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "Forbidden"
    assert client.get(url).json()["name"] == "Mai Sơn và Mộc Châu"  # unchanged
    done = client.patch(url, json=change, headers={"X-Shortlist-Key": created["edit_key"]})
    assert done.status_code == 200
    ids = [i["id"] for i in client.get(url).json()["items"]]
    assert ids == ["SL-KCN-MAISON-1", "SL-KCN-MAISON-2", "GONE-SINCE", "SL-NL-GIO-MAISON"]
    assert client.get(url).json()["name"] == "Chỉ Mai Sơn"


def test_bad_bodies_are_400(data_dir):
    client = app_client(data_dir)
    assert client.post("/shortlists", json={"items": []}).status_code == 400
    assert (
        client.post(
            "/shortlists", json={"name": "x", "items": [{"collection": "../etc", "id": "x"}]}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/shortlists", content=b"not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": "\\ud800"}', "surrogate"),
        (b'{"name": "x", "note": "\\udfff tail"}', "surrogate"),
        (b'{"name": NaN}', "NaN"),
        (b'{"name": "x", "items": [], "extra": 1e999}', "too large"),
        (b'{"name": "x", "items": ' + b"[" * 100 + b"]" * 100 + b"}", "nesting"),
        (b'{"name": "x", "note": 1' + b"0" * 50 + b"}", "integer"),
    ],
)
def test_bodies_that_are_not_strict_json_are_400_and_store_nothing(data_dir, body, message):
    client = app_client(data_dir)
    response = client.post(
        "/shortlists", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["description"]
    created = create(client)
    change = client.patch(
        f"/shortlists/{created['id']}",
        content=body,
        headers={"content-type": "application/json", "X-Shortlist-Key": created["edit_key"]},
    )
    assert change.status_code == 400 and message in change.json()["description"]
    assert client.get(f"/shortlists/{created['id']}").json()["name"] == created["name"]


def test_limits(data_dir):
    client = app_client(data_dir, shortlist_max_items=3, shortlists_per_client=2)
    too_many = client.post("/shortlists", json={"name": "x", "items": ITEMS})
    assert too_many.status_code == 413 and "3" in too_many.json()["description"]
    first = create(client, ITEMS[:3])
    create(client, ITEMS[:1])
    third = client.post("/shortlists", json={"name": "x", "items": []})
    assert third.status_code == 429
    grow = client.patch(
        f"/shortlists/{first['id']}",
        json={"add": [ITEMS[3]]},
        headers={"X-Shortlist-Key": first["edit_key"]},
    )
    assert grow.status_code == 413
    assert len(client.get(f"/shortlists/{first['id']}").json()["items"]) == 3


def test_shortlists_survive_a_restart(data_dir):
    created = create(app_client(data_dir))
    again = app_client(data_dir)
    assert again.get(f"/shortlists/{created['id']}").json()["name"] == "Mai Sơn và Mộc Châu"
    changed = again.patch(
        f"/shortlists/{created['id']}",
        json={"note": "sau khởi động lại"},
        headers={"X-Shortlist-Key": created["edit_key"]},
    )
    assert changed.status_code == 200


def test_xlsx_export_has_a_summary_then_a_sheet_per_layer(data_dir, tmp_path):
    client = app_client(data_dir)
    created = create(client)
    response = client.get(
        f"/shortlists/{created['id']}/export",
        params={"f": "xlsx", "lang": "en", "crs": "EPSG:9206"},
    )
    assert response.status_code == 200
    path = tmp_path / "s.xlsx"
    path.write_bytes(response.content)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["shortlist", "industrial_zones", "tourism_areas"]
    summary = list(book["shortlist"].iter_rows(values_only=True))
    assert ("Shortlist", "Mai Sơn và Mộc Châu") in summary
    assert any(r[1] == "2 (1 missing)" for r in summary)
    zones = book["industrial_zones"]
    rows = list(zones.iter_rows(values_only=True))
    assert (
        rows[0][:2] == ("Code", "Name (Vietnamese)")
        and "Area (ha)" in rows[0]
        and rows[0][-1] == "WKT (EPSG:9206)"
    )
    assert {r[0] for r in rows[1:]} == {"SL-KCN-MAISON-1", "SL-KCN-MAISON-2"}
    assert zones.freeze_panes == "A2" and zones.auto_filter.ref


def test_gpkg_export_has_a_table_per_layer(data_dir, tmp_path):
    client = app_client(data_dir)
    created = create(client)
    path = tmp_path / "s.gpkg"
    path.write_bytes(
        client.get(f"/shortlists/{created['id']}/export", params={"f": "gpkg"}).content
    )
    assert [name for name, _ in pyogrio.list_layers(path)] == ["industrial_zones", "tourism_areas"]
    assert list(pyogrio.read_dataframe(path, layer="tourism_areas")["code"]) == ["SL-DL-MOCCHAU"]


@pytest.mark.parametrize("f", ["csv", "shp", "fgb", "kml", "geojson"])
def test_single_layer_formats_come_as_a_zip_of_layers(data_dir, f):
    client = app_client(data_dir)
    created = create(client)
    response = client.get(f"/shortlists/{created['id']}/export", params={"f": f})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    extension = {"shp": "zip"}.get(f, f)
    assert sorted(names) == [f"industrial_zones.{extension}", f"tourism_areas.{extension}"]


def test_export_errors(data_dir):
    client = app_client(data_dir)
    created = create(client)
    assert client.get("/shortlists/nope/export", params={"f": "csv"}).status_code == 404
    assert (
        client.get(f"/shortlists/{created['id']}/export", params={"f": "docx"}).status_code == 400
    )
    assert (
        client.get(
            f"/shortlists/{created['id']}/export", params={"f": "kml", "crs": "EPSG:9206"}
        ).status_code
        == 400
    )


def test_cli_exports_a_shortlist(data_dir, tmp_path):
    created = create(app_client(data_dir))
    out = tmp_path / "list.gpkg"
    environment = env_of(data_dir)
    done = geo_service(
        "export", "--data-dir", data_dir, "--shortlist", created["id"], "--format", "gpkg",
        "--crs", "EPSG:9206", "-o", out, env=environment,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [name for name, _ in pyogrio.list_layers(out)] == ["industrial_zones", "tourism_areas"]
    missing = geo_service(
        "export", "--data-dir", data_dir, "--shortlist", "nope", "--format", "csv",
        "-o", tmp_path / "x.zip", env=environment,
    )  # fmt: skip
    assert missing.returncode == 2 and "nope" in missing.stderr


# -- who a client is, expiry and deletion ------------------------------------------------------
def quota_client(data_dir, peer: str, **settings) -> TestClient:
    return TestClient(
        create_app(settings_of(data_dir, shortlists_per_client=1, **settings)),
        client=(peer, 40000),
    )


def create_from(client: TestClient, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/shortlists", json={"name": "x"}, headers=headers).status_code


def test_forwarded_for_is_believed_only_from_trusted_proxies(data_dir):
    direct = quota_client(data_dir, "203.0.113.7")  # no proxy trusted (the default)
    assert create_from(direct, "198.51.100.1") == 201
    assert create_from(direct, "198.51.100.2") == 429  # the same peer, whatever it claims
    proxied = quota_client(data_dir, "10.1.2.3", trusted_proxies=["10.0.0.0/8"])
    assert create_from(proxied, "198.51.100.1") == 201
    assert create_from(proxied, "198.51.100.2") == 201  # two clients behind the proxy
    assert create_from(proxied, "198.51.100.1") == 429
    assert create_from(proxied, "192.0.2.4, 10.9.9.9") == 201  # the right-most untrusted hop
    assert create_from(proxied, "192.0.2.4") == 429
    stranger = quota_client(data_dir, "203.0.113.9", trusted_proxies=["10.0.0.0/8"])
    assert create_from(stranger, "198.51.100.3") == 201
    assert create_from(stranger, "198.51.100.4") == 429
    with pytest.raises(ValueError, match="not an IP address"):
        settings_of(data_dir, trusted_proxies=["proxy.example"])


@pytest.mark.parametrize(("trusted", "second"), [(None, 429), ('["127.0.0.1"]', 201)])
def test_geo_service_serve_believes_forwarded_for_only_when_told(
    data_dir, monkeypatch, trusted, second
):
    monkeypatch.setenv("GEO_SERVICE_SHORTLISTS_PER_CLIENT", "1")
    if trusted:
        monkeypatch.setenv("GEO_SERVICE_TRUSTED_PROXIES", trusted)
    with running_server(data_dir) as url:
        statuses = []
        for address in ("198.51.100.1", "198.51.100.2"):
            request = urllib.request.Request(
                f"{url}/shortlists", json.dumps({"name": "x"}).encode(),
                {"Content-Type": "application/json", "X-Forwarded-For": address},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
    assert statuses == [201, second]


def test_a_shortlist_expires_when_unused_and_reading_counts_as_use(data_dir, monkeypatch):
    client = app_client(data_dir, shortlist_expiry_days=30, shortlists_per_client=1)
    created = create(client)
    url = f"/shortlists/{created['id']}"
    start = clock.now()

    def days_later(days: float) -> None:
        monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(days=days))

    days_later(20)
    assert client.get(url).status_code == 200  # read: used again
    days_later(45)
    assert client.get(f"{url}/export", params={"f": "csv"}).status_code == 200  # 25 days on
    days_later(76)  # 31 days after the last use
    gone = client.get(url)
    assert gone.status_code == 404 and "30 days" in gone.json()["description"]
    assert client.get(url).status_code == 404
    key = {"X-Shortlist-Key": created["edit_key"]}
    assert client.patch(url, json={"name": "y"}, headers=key).status_code == 404
    assert stored_rows(records_of(data_dir)) == (0, 0)  # purged, items and all
    # an expired list no longer counts against its client's quota
    create(client)
    days_later(200)
    create(client)


def test_the_owner_deletes_a_shortlist_with_its_edit_key(data_dir):
    client = app_client(data_dir)
    created = create(client)
    url = f"/shortlists/{created['id']}"
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers={"X-Shortlist-Key": "guess"}).status_code == 403
    assert client.get(url).status_code == 200
    done = client.delete(url, headers={"X-Shortlist-Key": created["edit_key"]})
    assert done.status_code == 204 and done.content == b""
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/export", params={"f": "xlsx"}).status_code == 404
    again = client.delete(url, headers={"X-Shortlist-Key": created["edit_key"]})
    assert again.status_code == 404 and again.json()["code"] == "NotFound"
    assert stored_rows(records_of(data_dir)) == (0, 0)


def test_shortlist_ids_never_look_like_a_command_line_option(monkeypatch):
    from geo_service import shortlists

    drawn = iter(["-starts-with-a-dash", "Plain_id"])
    monkeypatch.setattr(shortlists.secrets, "token_urlsafe", lambda n: next(drawn))
    assert shortlists.new_id() == "Plain_id"


def test_two_creates_at_the_same_time_cannot_pass_the_quota(store, records_url):
    """Six creates by one client at once, with a pause after each counts the client's lists (so
    that, unserialised, every count would come before any insert): two pass, four get 429."""

    def pause_after_counting(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT COUNT") and "shortlists" in statement:
            time.sleep(0.2)

    sa.event.listen(store.records.engine, "after_cursor_execute", pause_after_counting)
    start = threading.Barrier(6)
    outcomes = []

    def create_one() -> None:
        start.wait()
        try:
            store.create("x", "", [], "198.51.100.7")
            outcomes.append("created")
        except TooManyShortlists:
            outcomes.append("refused")

    threads = [threading.Thread(target=create_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] * 2 + ["refused"] * 4
    assert stored_rows(records_url) == (2, 0)
    store.create("x", "", [], "198.51.100.8")  # another client has its own quota


def test_items_keep_their_order_once_each_and_their_limit(store):
    refs = [ItemRef("zones", f"Z-{n}") for n in (3, 1, 2)]
    shortlist, key = store.create("Khu Mai Sơn", "", [*refs, refs[0]], "client")
    assert store.get(shortlist.id).items == refs
    changed = store.update(
        shortlist.id, key, add=[ItemRef("roads", "R-1"), refs[1]], remove=[refs[0]]
    )
    assert changed.items == [refs[1], refs[2], ItemRef("roads", "R-1")]
    assert store.get(shortlist.id).items == changed.items
    too_many = [ItemRef("zones", f"Z-{n}") for n in range(10, 20)]
    with pytest.raises(TooLarge, match="at most 10 items"):
        store.update(shortlist.id, key, add=too_many)
    assert store.get(shortlist.id).items == changed.items  # nothing of the refused change stored


@pytest.mark.parametrize("shortlist_id", ["x\x00y", "a" * 65, "../x", "a b", "lá"])
def test_an_id_of_another_shape_than_a_shortlists_is_none_before_the_database(store, shortlist_id):
    with pytest.raises(NotFound, match="no shortlist"):
        store.get(shortlist_id)
    with pytest.raises(NotFound):
        store.update(shortlist_id, "key", name="x")
    with pytest.raises(NotFound):
        store.delete(shortlist_id, "key")
