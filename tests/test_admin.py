"""GIS staff administration: tokens and roles, versions, rollback, archive, audit, locking.
Tokens and the audit log are tested on both records databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo_service.admin_store import AdminStore
from geo_service.app import create_app
from geo_service.layer_frame import records_to_frame
from geo_service.records import Records, upgrade
from geo_service.records.schema import tokens

from .conftest import grid_layer, publish, settings_of
from .server import running_server
from .staff import admin_store, bearer, cli, staff_token


@pytest.fixture()
def data_dir(tmp_path, backend):
    meta, records, geometries = grid_layer()
    backend.publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    # a second version with only the first ten squares
    backend.publish(tmp_path, meta, records_to_frame(meta, records[:10], geometries[:10]))
    return tmp_path


def test_token_cli_prints_only_the_token_lists_and_revokes(tmp_path, records_url):
    def token(*args: str) -> subprocess.CompletedProcess:
        return cli("token", *args, data_dir=tmp_path, url=records_url)

    created = token("create", "--role", "editor", "--label", "Sở KH&ĐT")
    assert created.returncode == 0
    (secret,) = created.stdout.split()
    assert secret.startswith("gst_") and len(secret) > 40
    records = Records(records_url)
    with records.reading() as session:
        (stored,) = session.execute(sa.select(tokens)).all()
    records.dispose()
    assert secret not in str(tuple(stored))  # stored hashed
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    listed = token("list").stdout
    token_id = listed.split()[0]
    assert "editor" in listed and "Sở KH&ĐT" in listed and secret not in listed
    assert token("revoke", token_id).returncode == 0
    assert "revoked" in token("list").stdout
    assert token("revoke", token_id).returncode == 1
    assert token("create", "--role", "owner").returncode != 0


def test_writes_need_a_token_of_the_right_role(data_dir, backend):
    editor = staff_token(data_dir, "editor")
    boss = staff_token(data_dir, "admin")
    client = TestClient(create_app(backend.settings(data_dir)))
    assert client.get("/admin/layers/grid/versions").status_code == 401
    assert client.get("/admin/layers/grid/versions", headers=bearer("nope")).status_code == 401
    assert (
        client.get("/admin/layers/grid/versions", headers={"Authorization": "Basic x"}).status_code
        == 401
    )
    assert client.get("/admin/layers/grid/versions", headers=bearer(editor)).status_code == 200
    denied = client.delete("/admin/layers/grid", headers=bearer(editor))
    assert denied.status_code == 403 and denied.json()["code"] == "Forbidden"
    assert client.get("/admin/audit", headers=bearer(editor)).status_code == 403
    assert client.get("/admin/audit", headers=bearer(boss)).status_code == 200
    assert client.get("/collections/grid/items").status_code == 200  # reads stay public


def test_versions_and_rollback_restore_the_exact_previous_features(data_dir):
    editor = staff_token(data_dir, "editor")
    client = TestClient(create_app(settings_of(data_dir)))
    listed = client.get("/admin/layers/grid/versions", headers=bearer(editor)).json()["versions"]
    assert [(v["version"], v["current"], v["features"]) for v in listed] == [
        (1, False, 101),
        (2, True, 10),
    ]
    before = client.get("/collections/grid/items", params={"limit": 1000}).json()
    assert before["numberMatched"] == 10
    done = client.post("/admin/layers/grid/rollback", params={"version": 1}, headers=bearer(editor))
    assert done.status_code == 200 and done.json()["current"] == 1
    after = client.get("/collections/grid/items", params={"limit": 1000}).json()
    assert after["numberMatched"] == 101
    assert [f["id"] for f in after["features"]][:10] == [f["id"] for f in before["features"]]
    assert (
        client.post(
            "/admin/layers/grid/rollback", params={"version": 9}, headers=bearer(editor)
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/admin/layers/nope/rollback", params={"version": 1}, headers=bearer(editor)
        ).status_code
        == 404
    )


def test_archive_takes_a_layer_out_and_the_audit_log_says_who(data_dir, backend):
    with admin_store(data_dir) as admin:
        token, secret = admin.create_token("admin", "chief")
    client = TestClient(create_app(backend.settings(data_dir)))
    client.post("/admin/layers/grid/rollback", params={"version": 1}, headers=bearer(secret))
    archived = client.delete("/admin/layers/grid", headers=bearer(secret))
    assert archived.status_code == 200 and archived.json()["archived"].startswith("grid-")
    assert client.get("/collections/grid").status_code == 404
    assert client.delete("/admin/layers/grid", headers=bearer(secret)).status_code == 404
    if not backend.postgis:
        assert (data_dir / ".archive" / archived.json()["archived"]).is_dir()
    entries = client.get("/admin/audit", headers=bearer(secret)).json()["entries"]
    actions = [(e["action"], e["layer"], e["actor"]) for e in entries]
    assert ("layer.archive", "grid", f"token:{token.id}") in actions
    assert ("layer.rollback", "grid", f"token:{token.id}") in actions


def test_concurrent_publishes_are_serialised(data_dir, backend):
    meta, records, geometries = grid_layer()
    frame = records_to_frame(meta, records, geometries)
    with ThreadPoolExecutor(4) as pool:
        numbers = list(pool.map(lambda _: backend.publish(data_dir, meta, frame), range(4)))
    assert sorted(numbers) == [3, 4, 5, 6]
    assert backend.store(data_dir).version_numbers("grid") == [1, 2, 3, 4, 5, 6]


def test_tokens_count_from_the_next_request_in_every_worker(data_dir, backend):
    with running_server(data_dir, workers=2, env=backend.env(data_dir)) as url:

        def status(secret: str) -> int:
            request = urllib.request.Request(
                f"{url}/admin/layers/grid/versions", headers=bearer(secret)
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    json.load(response)
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        records_url = backend.database_url(data_dir)
        created = cli("token", "create", "--role", "editor", data_dir=data_dir, url=records_url)
        secret = created.stdout.strip()
        assert {status(secret) for _ in range(12)} == {200}
        token_id = cli("token", "list", data_dir=data_dir, url=records_url).stdout.split()[0]
        assert cli("token", "revoke", token_id, data_dir=data_dir, url=records_url).returncode == 0
        assert {status(secret) for _ in range(12)} == {401}


@pytest.mark.geopackage
def test_a_failure_in_the_middle_of_publishing_leaves_the_old_version_served(data_dir, monkeypatch):
    from geo_service.store import gpkg_write

    def broken(*args, **kwargs):
        raise OSError("disk full while writing the search table")

    monkeypatch.setattr(gpkg_write, "_write_search_table", broken)
    before = sorted(p.name for p in (data_dir / "grid").iterdir())
    meta, records, geometries = grid_layer()
    with pytest.raises(OSError):
        publish(data_dir, meta, records_to_frame(meta, records, geometries))
    assert sorted(p.name for p in (data_dir / "grid").iterdir()) == before
    client = TestClient(create_app(settings_of(data_dir)))
    assert client.get("/collections/grid/items").json()["numberMatched"] == 10  # still version 2


def test_after_a_rollback_every_worker_serves_the_version(data_dir, backend):
    secret = staff_token(data_dir, "editor")
    with running_server(data_dir, workers=2, env=backend.env(data_dir)) as url:

        def matched() -> int:
            with urllib.request.urlopen(
                f"{url}/collections/grid/items?limit=1", timeout=10
            ) as response:
                return json.load(response)["numberMatched"]

        assert {matched() for _ in range(12)} == {10}
        request = urllib.request.Request(
            f"{url}/admin/layers/grid/rollback?version=1", method="POST", headers=bearer(secret)
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        assert {matched() for _ in range(12)} == {101}


def test_the_audit_log_lists_the_newest_first_for_all_layers_or_one(records_url, monkeypatch):
    records = Records(records_url)
    upgrade(records)
    admin = AdminStore(records)
    moments = iter(["2026-03-01T08:00:00Z", "2026-03-01T09:00:00Z", "2026-03-01T09:00:00Z"])
    monkeypatch.setattr("geo_service.admin_store.utc_now", lambda: next(moments))
    admin.record("token:a1", "layer.publish", "zones", {"version": 2, "note": "Khu Mai Sơn"})
    admin.record("token:b2", "layer.publish", "roads", {"version": 1})
    admin.record("token:a1", "layer.rollback", "zones", {"to": 1})
    try:
        everything = admin.audit()
        assert [(e["at"], e["action"], e["layer"]) for e in everything] == [
            ("2026-03-01T09:00:00Z", "layer.rollback", "zones"),  # the later of one second
            ("2026-03-01T09:00:00Z", "layer.publish", "roads"),
            ("2026-03-01T08:00:00Z", "layer.publish", "zones"),
        ]
        assert everything[2]["details"] == {"version": 2, "note": "Khu Mai Sơn"}
        assert [e["details"] for e in admin.audit("zones")] == [{"to": 1}, everything[2]["details"]]
        assert admin.audit("zones", limit=1)[0]["action"] == "layer.rollback"
        assert admin.audit("nothing") == []
    finally:
        records.dispose()


def test_an_unknown_role_is_refused_by_the_store_and_the_database(records_url):
    records = Records(records_url)
    upgrade(records)
    try:
        with pytest.raises(ValueError, match="role"):
            AdminStore(records).create_token("owner")  # type: ignore[arg-type]
        with pytest.raises(sa.exc.IntegrityError), records.writing() as session:
            session.execute(
                sa.insert(tokens).values(
                    id="x", secret_hash="0" * 64, role="owner", label="", created_at="t"
                )
            )
        assert AdminStore(records).tokens() == []
        AdminStore(records).create_token("reviewer")  # the role the newest migration allows
        assert [t.role for t in AdminStore(records).tokens()] == ["reviewer"]
    finally:
        records.dispose()
