"""Several API processes, one PostgreSQL database: two `geo-service serve` processes on different
ports, each with a data directory of its own as on two machines, share GIS staff's tokens, the
audit log and shortlists through the database, each seeing a change on its next request."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from .pipeline_app import project_body, with_grid
from .server import running_server
from .staff import bearer, cli


def call(
    url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            content = response.read()
            return response.status, json.loads(content) if content else None
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_two_processes_share_tokens_the_audit_log_and_shortlists(tmp_path, postgres_databases):
    url = postgres_databases.create(postgres_databases.template)
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]
    for folder in machines:
        folder.mkdir()
    with_grid(machines[0], url)  # the layers are in the database too (PostGIS): published once
    office = tmp_path / "office"  # where GIS staff run the command line: no layers, no files
    database = {"GEO_SERVICE_DATABASE_URL": url}
    try:
        with (
            running_server(machines[0], env=database) as first,
            running_server(machines[1], env=database) as second,
        ):
            both = (first, second)
            created = cli("token", "create", "--role", "admin", data_dir=office, url=url)
            admin = bearer(created.stdout.strip())
            versions = "/admin/layers/grid/versions"
            assert [call(f"{base}{versions}", headers=admin)[0] for base in both] == [200, 200]

            # an audited change through one process is in the other's audit log
            status, _ = call(f"{first}/projects", "POST", project_body(), admin)
            assert status == 201
            status, audit = call(f"{second}/admin/audit", headers=admin)
            assert status == 200 and audit["entries"][0]["action"] == "project.create"

            # a shortlist made through one is read, changed and deleted through either
            items = [{"collection": "grid", "id": "G-1-2"}, {"collection": "grid", "id": "G-2-3"}]
            status, made = call(f"{first}/shortlists", "POST", {"name": "Mai Sơn", "items": items})
            assert status == 201
            path, key = f"/shortlists/{made['id']}", {"X-Shortlist-Key": made["edit_key"]}
            status, read = call(f"{second}{path}")
            assert status == 200 and read["name"] == "Mai Sơn"
            assert [(i["id"], i["found"]) for i in read["items"]] == [
                ("G-1-2", True),
                ("G-2-3", True),
            ]
            status, _ = call(f"{second}{path}", "PATCH", {"remove": [items[0]]}, key)
            assert status == 200
            assert [i["id"] for i in call(f"{first}{path}")[1]["items"]] == ["G-2-3"]
            assert call(f"{first}{path}", "DELETE", headers=key)[0] == 204
            assert call(f"{second}{path}")[0] == 404

            # a token revoked from the command line is refused by both on their next request
            token_id = cli("token", "list", data_dir=office, url=url).stdout.split()[0]
            assert cli("token", "revoke", token_id, data_dir=office, url=url).returncode == 0
            assert [call(f"{base}{versions}", headers=admin)[0] for base in both] == [401, 401]
        assert not any(p.name.startswith("records.sqlite") for m in machines for p in m.iterdir())
    finally:
        postgres_databases.drop(url)
