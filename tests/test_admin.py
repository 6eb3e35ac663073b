"""GIS staff administration: tokens and roles, versions, rollback, archive, audit, locking."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from geo_service.admin_store import AdminStore
from geo_service.app import create_app
from geo_service.layer_frame import records_to_frame

from .conftest import grid_layer, publish, settings_of
from .server import running_server


@pytest.fixture()
def data_dir(tmp_path, backend):
    meta, records, geometries = grid_layer()
    backend.publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    # a second version with only the first ten squares
    backend.publish(tmp_path, meta, records_to_frame(meta, records[:10], geometries[:10]))
    return tmp_path


def cli(*args: str, data_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geo_service.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_token_cli_prints_only_the_token_lists_and_revokes(tmp_path):
    created = cli("token", "create", "--role", "editor", "--label", "Sở KH&ĐT", data_dir=tmp_path)
    assert created.returncode == 0
    (secret,) = created.stdout.split()
    assert secret.startswith("gst_") and len(secret) > 40
    assert secret not in (tmp_path / "admin.sqlite").read_bytes().decode("latin-1")  # stored hashed
    listed = cli("token", "list", data_dir=tmp_path).stdout
    token_id = listed.split()[0]
    assert "editor" in listed and "Sở KH&ĐT" in listed and secret not in listed
    assert cli("token", "revoke", token_id, data_dir=tmp_path).returncode == 0
    assert "revoked" in cli("token", "list", data_dir=tmp_path).stdout
    assert cli("token", "revoke", token_id, data_dir=tmp_path).returncode == 1
    assert cli("token", "create", "--role", "owner", data_dir=tmp_path).returncode != 0


def test_writes_need_a_token_of_the_right_role(data_dir, backend):
    admin = AdminStore(data_dir)
    _, editor = admin.create_token("editor")
    _, boss = admin.create_token("admin")
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
    _, editor = AdminStore(data_dir).create_token("editor")
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
    admin = AdminStore(data_dir)
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

        secret = cli("token", "create", "--role", "editor", data_dir=data_dir).stdout.strip()
        assert {status(secret) for _ in range(12)} == {200}
        token_id = cli("token", "list", data_dir=data_dir).stdout.split()[0]
        assert cli("token", "revoke", token_id, data_dir=data_dir).returncode == 0
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
    _, secret = AdminStore(data_dir).create_token("editor")
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
