"""`/health` answers while the process does; `/ready` only while the store and the records
database do (503 with a JSON error otherwise)."""

from __future__ import annotations

import gc
import shutil

from fastapi.testclient import TestClient

from .conftest import error_document
from .data_copies import copy_data_dir
from .pipeline_app import pipeline_client

BOTH_READY = [{"name": "layer store", "ok": True}, {"name": "records database", "ok": True}]


def test_health_and_ready_are_documented(grid_client):
    paths = grid_client.get("/openapi.json").json()["paths"]
    assert "/health" in paths and "/ready" in paths
    assert "503" in paths["/ready"]["get"]["responses"]


def test_ready_on_each_records_backend(pipeline_dir, records_url):
    with pipeline_client(pipeline_dir, records_url) as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "checks": BOTH_READY}
        assert ready.headers["cache-control"] == "no-store"


def test_not_ready_once_the_database_is_unreachable(pipeline_dir, postgres_databases):
    url = postgres_databases.create(postgres_databases.template)
    try:
        with pipeline_client(pipeline_dir, url) as client:
            assert client.get("/ready").status_code == 200
            postgres_databases.drop(url)  # the server ends the service's connections too
            gone = client.get("/ready")
            assert gone.status_code == 503
            body = error_document(gone)
            assert body["code"] == "NotReady" and "records database" in body["description"]
            assert "cơ sở dữ liệu hồ sơ" in body["description"]
            # the layers are in that database too (the PostGIS store)
            assert body["checks"] == [
                {"name": "layer store", "ok": False},
                {"name": "records database", "ok": False},
            ]
            assert "127.0.0.1" not in gone.text  # where the database is stays in the log
            assert client.get("/health").status_code == 200  # alive: no restart asked for
    finally:
        postgres_databases.drop(url)


def test_not_ready_without_the_data_directory(grid_dir, tmp_path):
    data_dir = tmp_path / "data"
    copy_data_dir(grid_dir, data_dir)
    with pipeline_client(data_dir, f"sqlite:///{tmp_path / 'records.sqlite'}") as client:
        assert client.get("/ready").status_code == 200
        shutil.rmtree(data_dir)
        gone = client.get("/ready")
        body = error_document(gone)
        assert gone.status_code == 503 and "layer store" in body["description"]
        assert body["checks"] == [{"name": "layer store", "ok": False}, BOTH_READY[1]]


def test_what_start_up_made_is_kept_out_of_the_collectors_passes(pipeline_dir, records_url):
    """A full pass of the garbage collector over what a worker loads at start-up stalls the
    request that triggers it; the app freezes those objects while it runs."""
    with pipeline_client(pipeline_dir, records_url) as client, TestClient(client.app) as running:
        assert running.get("/health").status_code == 200
        assert gc.get_freeze_count() > 10_000
