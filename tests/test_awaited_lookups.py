"""A feature by its id from the PostGIS store, in a running service (its lifespan open), is read
on the event loop without a thread (`store/awaited.py`): the same answer as the thread's, the
served version followed from one request to the next, every failure the same error."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.layer_frame import records_to_frame
from geo_service.store import awaited
from geo_service.store.awaited import CONNECTIONS, AwaitedLookups, libpq_url
from geo_service.store.postgis import PostGISStore

from .conftest import grid_layer

pytestmark = pytest.mark.postgis


@pytest.fixture()
def data(tmp_path, backend):
    meta, records, geometries = grid_layer()
    backend.publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    return tmp_path


class Reads:
    """Counts the feature reads each way: awaited, and in a thread (`PostGISStore.feature`).
    The store is not warmed at start-up, so a layer's first read is a request's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(PostGISStore, "warm", lambda store: None)
        self.awaited = self.threaded = 0
        first, feature = AwaitedLookups.first, PostGISStore.feature

        async def counted_first(lookups, *args):
            self.awaited += 1
            return await first(lookups, *args)

        def counted_feature(store, *args, **kwargs):
            self.threaded += 1
            return feature(store, *args, **kwargs)

        monkeypatch.setattr(AwaitedLookups, "first", counted_first)
        monkeypatch.setattr(PostGISStore, "feature", counted_feature)

    def since(self, before: tuple[int, int]) -> tuple[int, int]:
        return self.awaited - before[0], self.threaded - before[1]

    @property
    def now(self) -> tuple[int, int]:
        return self.awaited, self.threaded


def test_a_feature_is_awaited_once_its_layer_was_served_and_answers_as_in_a_thread(
    data, backend, monkeypatch
):
    reads = Reads(monkeypatch)
    path = "/collections/grid/items/G-3-4"
    in_thread = TestClient(create_app(backend.settings(data))).get(path)  # no lifespan: a thread
    assert in_thread.status_code == 200 and reads.since((0, 0)) == (0, 1)
    with TestClient(create_app(backend.settings(data))) as client:
        first = client.get(path)  # the first read of the layer in a process: its metadata too
        assert reads.since((0, 1)) == (0, 1)
        before = reads.now
        for _ in range(3):
            answer = client.get(path)
            assert answer.status_code == 200
            assert answer.content == first.content == in_thread.content
            assert answer.headers["etag"] == first.headers["etag"] == in_thread.headers["etag"]
        assert reads.since(before) == (3, 0)
        page = client.get("/collections/grid/items?limit=101").json()
        listed = next(f for f in page["features"] if f["id"] == "G-3-4")
        assert {k: listed[k] for k in ("geometry", "properties")} == {
            k: first.json()[k] for k in ("geometry", "properties")
        }
        etag = first.headers["etag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
        assert reads.since(before) == (4, 0)
    assert client.app.state.store.default.awaited.available is False  # closed with the lifespan


def test_what_another_process_publishes_is_awaited_from_the_next_request(
    data, backend, monkeypatch
):
    reads = Reads(monkeypatch)
    meta, records, geometries = grid_layer()
    other = backend.store(data)
    path = "/collections/grid/items/G-9-9"
    with TestClient(create_app(backend.settings(data))) as client:
        assert client.get(path).status_code == 200
        other.publish(meta, records_to_frame(meta, records[:10], geometries[:10]))
        before = reads.now
        gone = client.get(path)  # the version moved on: read from the new one, in a thread
        assert gone.status_code == 404 and gone.json()["code"] == "NotFound"
        assert reads.since(before) == (1, 1)
        assert client.get("/collections/grid/items/G-0-9").status_code == 200
        assert reads.since(before) == (2, 1)  # the new version is the one kept now
        other.activate("grid", 1)
        assert client.get(path).status_code == 200
        other.archive("grid")
        archived = client.get(path)
        assert archived.status_code == 404 and "grid" in archived.json()["description"]
    other.dispose()


def test_a_bad_id_dropped_connections_and_a_missing_table_answer_as_in_a_thread(
    data, backend, monkeypatch
):
    reads = Reads(monkeypatch)
    with TestClient(create_app(backend.settings(data))) as client:
        store = client.app.state.store.default
        assert client.get("/collections/grid/items/G-0-0").status_code == 200
        before = reads.now
        refused = client.get("/collections/grid/items/G%000")  # text PostgreSQL cannot hold
        assert refused.status_code == 400 and refused.json()["code"] == "InvalidParameterValue"
        missing = client.get("/collections/grid/items/nowhere")
        assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
        assert reads.since(before) == (1, 0)
        with store.engine.connect() as connection:  # as a restart or an administrator would
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert client.get("/collections/grid/items/G-1-1").status_code == 200
        assert reads.since(before) == (2, 0)
        with store.engine.begin() as connection:
            table = connection.exec_driver_sql(
                "SELECT table_name FROM layer_generations g JOIN layer_catalogue c "
                "ON c.uid = g.layer_uid WHERE c.id = 'grid'"
            ).scalar_one()
            connection.exec_driver_sql(f'DROP TABLE layer_data."{table}"')
        for _ in range(2):  # awaited, then (the version forgotten) as a first read
            gone = client.get("/collections/grid/items/G-1-1")
            assert gone.status_code == 503 and gone.json()["code"] == "LayerUnavailable"
        assert reads.since(before) == (3, 1)


def test_a_database_that_does_not_answer_is_a_503_and_the_next_request_reads_in_a_thread(
    data, backend, monkeypatch
):
    monkeypatch.setattr(awaited, "CONNECT_TIMEOUT_S", 1)
    reads = Reads(monkeypatch)
    app = create_app(backend.settings(data))
    nowhere = "postgresql+psycopg://nobody@127.0.0.1:9/nothing"  # the discard port: refused
    store = app.state.store.default
    store.awaited = AwaitedLookups(nowhere, store.awaited.setup)
    with TestClient(app) as client:
        assert client.get("/collections/grid/items/G-2-2").status_code == 200
        silent = client.get("/collections/grid/items/G-2-2")
        assert silent.status_code == 503 and silent.json()["code"] == "LayerUnavailable"
        assert "try again" in silent.json()["description"]
        assert client.get("/collections/grid/items/G-2-2").status_code == 200
        assert reads.since((0, 0)) == (1, 2)


def test_lookups_replace_every_connection_the_server_dropped(data, backend):
    """The server ending its connections (a restart) costs no lookup, however many the pool
    held; each connection was set up once."""
    url = backend.database_url(data)

    async def lookups_across_a_restart() -> tuple:
        lookups = AwaitedLookups(url, "SET max_parallel_workers_per_gather = 0")
        async with lookups.opened():
            side_by_side = [
                lookups.first("SELECT pg_backend_pid() FROM pg_sleep(0.2)", {})
                for _ in range(CONNECTIONS)
            ]
            held = {pid for (pid,) in await asyncio.gather(*side_by_side)}
            with psycopg.connect(libpq_url(url), autocommit=True) as connection:
                connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            setting = await lookups.first("SHOW max_parallel_workers_per_gather", {})
            return len(held), setting

    # a loop of its own, in a thread: a browser test's driver may hold this thread's loop
    with ThreadPoolExecutor(1) as thread:
        answer = thread.submit(asyncio.run, lookups_across_a_restart()).result()
    assert answer == (CONNECTIONS, ("0",))
