"""The PostGIS store's own behaviour: change sets stamped into a layer's table (not copies of it),
their versions, ETags, history and diffs; publishing in one transaction that readers never see
half of; what a damaged catalogue entry or a missing table becomes; warming."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import shapely
import shapely.affinity
from fastapi.testclient import TestClient
from psycopg.pq import Format
from sqlalchemy import event, text

from geo_service.app import create_app
from geo_service.errors import Conflict, InvalidParameter, NotFound, PreconditionFailed
from geo_service.layer_frame import records_to_frame
from geo_service.query import Comparison, Literal, Property, Query, SortKey
from geo_service.store import postgis_tables
from geo_service.store.changes import FeatureChange
from geo_service.store.etags import feature_etag
from geo_service.store.postgis import PostGISStore
from geo_service.store.request_reads import one_request
from geo_service.store.sql_reader import SqlReader

from .conftest import grid_layer

pytestmark = pytest.mark.postgis

WAIT = 60


@pytest.fixture()
def store(tmp_path, backend) -> PostGISStore:
    """The grid published once in a fresh database."""
    found = backend.store(tmp_path)
    meta, records, geometries = grid_layer()
    found.publish(meta, records_to_frame(meta, records, geometries), actor="cli:test")
    yield found
    found.dispose()


EVERY = Query(limit=None)


def ids(store, query: Query = EVERY) -> list[str]:
    return [f.id for f in store.query("grid", query).features]


def table_rows(store: PostGISStore, version: int | None = None) -> int:
    """How many rows the table holding a version of the grid has, every version's together."""
    with store.engine.connect() as connection:
        name = connection.execute(
            text(
                "SELECT g.table_name FROM layer_catalogue c JOIN layer_versions v "
                "ON v.layer_uid = c.uid JOIN layer_generations g ON g.uid = v.generation "
                "WHERE c.id = 'grid' AND c.archived_as IS NULL AND v.version = "
                "coalesce(:v, c.current_version)"
            ),
            {"v": version},
        ).scalar_one()
        return connection.exec_driver_sql(f'SELECT count(*) FROM layer_data."{name}"').scalar()


SQUARE = shapely.to_wkb(shapely.box(104.5, 21.5, 104.51, 21.51))


def test_a_change_set_is_one_new_version_stamped_into_the_same_table(store):
    before = store.feature("grid", "G-3-3")
    etag = store.feature_etag("grid", "G-3-3")
    assert etag == feature_etag(before)
    changes = [
        FeatureChange("create", "NEW-1", {"name_vi": "Khu mới", "status": "planned"}, SQUARE),
        FeatureChange("update", "G-3-3", {"area_ha": 99.5}, if_match=etag),
        FeatureChange(
            "replace",
            "G-4-4",
            {"name_vi": "Thay thế", "status": "operating"},
            shapely.to_wkb(shapely.box(104.04, 21.04, 104.05, 21.05)),
        ),  # fmt: skip
        FeatureChange("delete", "G-0-1"),
    ]
    assert store.apply_changes("grid", changes, base_version=1, actor="token:abc") == 2
    assert store.current_version("grid") == 2
    assert table_rows(store) == 101 + 3  # three new rows; nothing copied
    served = ids(store)
    assert len(served) == 101 and "G-0-1" not in served and served[-1] == "NEW-1"
    assert served.index("G-3-3") == 32  # a changed feature keeps its place
    updated = store.feature("grid", "G-3-3")
    assert updated.properties["area_ha"] == 99.5 and updated.geometry == before.geometry
    assert {k: v for k, v in updated.properties.items() if k != "area_ha"} == {
        k: v for k, v in before.properties.items() if k != "area_ha"
    }
    replaced = store.feature("grid", "G-4-4").properties
    assert replaced["name_vi"] == "Thay thế" and replaced["developer"] is None
    assert store.feature_etag("grid", "G-3-3") != etag
    assert store.query("grid", Query(bbox=(104.5, 21.5, 104.6, 21.6))).number_matched == 1
    area = Comparison("=", Property("area_ha"), Literal(99.5))
    assert ids(store, Query(filter=area)) == ["G-3-3"]
    assert store.extent("grid") == pytest.approx((104.001, 21.001, 104.51, 21.51))
    summaries = store.versions("grid")
    assert [(s.number, s.kind, s.actor, s.features) for s in summaries] == [
        (1, "upload", "cli:test", 101),
        (2, "changes", "token:abc", 101),
    ]
    # the version before is still whole, and serving it again is a rollback
    store.activate("grid", 1)
    assert "G-0-1" in ids(store) and "NEW-1" not in ids(store)
    assert store.feature("grid", "G-3-3") == before
    assert store.query("grid", Query(filter=area)).number_matched == 0


def test_paging_sorting_and_offsets_over_an_edited_version(store):
    store.apply_changes("grid", [FeatureChange("delete", "G-0-0")], base_version=1, actor="t")
    store.apply_changes(
        "grid", [FeatureChange("create", "Z-NEW", {"name_vi": "Z"}, SQUARE)], base_version=2,
        actor="t",
    )  # fmt: skip
    everything = ids(store)
    assert len(everything) == 101 and everything[0] == "G-0-1" and everything[-1] == "Z-NEW"
    for offset in (0, 1, 50, 99, 100, 101):
        page = store.query("grid", Query(limit=7, offset=offset))
        assert [f.id for f in page.features] == everything[offset : offset + 7]
        assert page.number_matched == 101
    store.activate("grid", 2)  # an older version, read through its stamps
    assert ids(store)[0] == "G-0-1" and "Z-NEW" not in ids(store)
    assert ids(store, Query(limit=3, offset=98)) == ["G-9-9", "L-SHAPE"]
    by_area = ids(store, Query(sortby=(SortKey("area_ha", True),), limit=2))
    assert by_area == ["G-9-9", "G-9-8"]


def test_refusals_come_before_any_write(store):
    etag = store.feature_etag("grid", "G-1-1")
    refusals = [
        ([FeatureChange("update", "G-1-1", {"area_ha": 1.0}, if_match="stale")], PreconditionFailed),
        ([FeatureChange("create", "G-1-1", {"name_vi": "x"}, SQUARE)], Conflict),
        ([FeatureChange("delete", "NOPE")], NotFound),
        ([FeatureChange("update", "G-1-1", {"nope": 1})], InvalidParameter),
        ([FeatureChange("delete", "G-1-1"), FeatureChange("update", "G-1-1", {})], InvalidParameter),
        ([FeatureChange("update", "G-1-1", {"updated_at": "not a date"})], InvalidParameter),
        ([FeatureChange("update", "G-1-1", {"approved_year": 2**70})], InvalidParameter),
    ]  # fmt: skip
    for changes, error in refusals:
        with pytest.raises(error):
            store.apply_changes("grid", changes, base_version=1, actor="t")
    with pytest.raises(Conflict):  # not the newest version
        store.apply_changes("grid", [FeatureChange("delete", "G-1-1")], base_version=7, actor="t")
    with pytest.raises(NotFound):
        store.apply_changes("nope", [], base_version=1, actor="t")
    assert store.version_numbers("grid") == [1] and table_rows(store) == 101
    good = [FeatureChange("update", "G-1-1", {"area_ha": 1.0}, if_match=etag)]
    assert store.apply_changes("grid", good, base_version=1, actor="t") == 2


def test_a_draft_change_set_is_not_served_until_activated(store):
    store.apply_changes(
        "grid", [FeatureChange("delete", "G-2-2")], base_version=1, draft=True, actor="t"
    )
    assert store.current_version("grid") == 1 and "G-2-2" in ids(store)
    assert store.query("grid", Query(limit=1)).number_matched == 101
    store.activate("grid", 2)
    assert "G-2-2" not in ids(store) and store.query("grid", Query(limit=1)).number_matched == 100


def test_history_and_diffs_within_and_across_uploads(store):
    meta, records, geometries = grid_layer()
    store.apply_changes(
        "grid", [FeatureChange("update", "G-5-5", {"status": "operating"})], base_version=1,
        actor="token:one",
    )  # fmt: skip
    moved = shapely.affinity.translate(geometries[55], xoff=0.001)
    store.apply_changes(
        "grid", [FeatureChange("update", "G-5-5", geometry=shapely.to_wkb(moved)),
                 FeatureChange("delete", "G-0-0")], base_version=2, actor="token:two",
    )  # fmt: skip
    records[55]["name_en"] = "Renamed by upload"
    store.publish(meta, records_to_frame(meta, records[1:], geometries[1:]), actor="cli:up")
    store.apply_changes("grid", [FeatureChange("delete", "G-5-5")], base_version=4, actor="t")
    history = store.feature_history("grid", "G-5-5")
    assert [(r.version, r.change, r.fields, r.actor) for r in history] == [
        (1, "created", (), "cli:test"),
        (2, "changed", ("status",), "token:one"),
        (3, "changed", ("geometry",), "token:two"),
        (4, "changed", ("name_en", "status", "geometry"), "cli:up"),
        (5, "deleted", (), "t"),
    ]
    assert all(r.at.endswith("Z") for r in history)
    assert [r.change for r in store.feature_history("grid", "G-0-0")] == ["created", "deleted"]
    with pytest.raises(NotFound):
        store.feature_history("grid", "NOPE")

    within = {d.feature_id: d for d in store.diff("grid", 1, 3)}
    assert set(within) == {"G-5-5", "G-0-0"}
    assert within["G-0-0"].change == "removed"
    assert within["G-5-5"].fields == {"status": (STATUS_55, "operating")}
    assert within["G-5-5"].geometry_moved_m == pytest.approx(103.9, abs=0.5)  # 0.001° at 21.05°
    assert {d.feature_id for d in store.diff("grid", 3, 1)} == {"G-5-5", "G-0-0"}
    assert list(store.diff("grid", 2, 2)) == []
    across = {d.feature_id: d for d in store.diff("grid", 2, 4)}
    assert set(across) == {"G-5-5", "G-0-0"}
    assert across["G-5-5"].fields == {
        "name_en": ("Zone 55", "Renamed by upload"),
        "status": ("operating", STATUS_55),
    }
    assert across["G-5-5"].geometry_moved_m is None  # the upload put it back
    assert [(d.feature_id, d.change) for d in store.diff("grid", 4, 5)] == [("G-5-5", "removed")]
    with pytest.raises(NotFound):
        list(store.diff("grid", 1, 9))


STATUS_55 = "calling_investment"  # the grid's status of square (5, 5): STATUSES[10 % 3]


def test_readers_see_the_version_before_until_a_publish_commits(store, monkeypatch):
    meta, records, geometries = grid_layer()
    loaded, release = threading.Event(), threading.Event()
    original = postgis_tables.create_indexes

    def held(*args, **kwargs):
        loaded.set()
        assert release.wait(WAIT)
        return original(*args, **kwargs)

    monkeypatch.setattr("geo_service.store.postgis.create_indexes", held)
    with ThreadPoolExecutor(1) as pool:
        publishing = pool.submit(
            store.publish, meta, records_to_frame(meta, records[:5], geometries[:5])
        )
        assert loaded.wait(WAIT)  # its rows are in, not yet committed
        assert store.query("grid", Query(limit=1)).number_matched == 101
        assert store.current_version("grid") == 1 and store.layers()[0].version == 1
        release.set()
        assert publishing.result(WAIT) == 2
    assert store.query("grid", Query(limit=1)).number_matched == 5


def test_a_failed_publish_leaves_nothing_behind(store, monkeypatch):
    meta, records, geometries = grid_layer()

    def broken(*args, **kwargs):
        raise OSError("the disk filled while indexing")

    monkeypatch.setattr("geo_service.store.postgis.create_indexes", broken)
    with pytest.raises(OSError):
        store.publish(meta, records_to_frame(meta, records, geometries))
    assert store.version_numbers("grid") == [1]
    with store.engine.connect() as connection:
        tables = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'layer_data'"
        ).scalar()
    assert tables == 1


def test_a_broken_entry_is_skipped_and_a_missing_table_is_503(tmp_path, backend):
    meta, records, geometries = grid_layer()
    frame = records_to_frame(meta, records, geometries)
    store = backend.store(tmp_path)
    for layer_id in ("healthy", "garbled", "tableless"):
        store.publish(meta.model_copy(update={"id": layer_id}), frame)
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            'UPDATE layer_versions SET metadata = \'{"id": "garbled", "version": Infinity}\' '
            "WHERE layer_uid = (SELECT uid FROM layer_catalogue WHERE id = 'garbled')"
        )
        name = connection.exec_driver_sql(
            "SELECT table_name FROM layer_generations g JOIN layer_catalogue c "
            "ON c.uid = g.layer_uid WHERE c.id = 'tableless'"
        ).scalar_one()
        connection.exec_driver_sql(f'DROP TABLE layer_data."{name}"')
    client = TestClient(create_app(backend.settings(tmp_path)))
    listed = client.get("/collections").json()
    assert [c["id"] for c in listed["collections"]] == ["healthy"]
    assert [s["id"] for s in listed["skipped"]] == ["garbled", "tableless"]
    for layer_id in ("garbled", "tableless"):
        answer = client.get(f"/collections/{layer_id}/items")
        assert answer.status_code == 503 and answer.json()["code"] == "LayerUnavailable"
    assert client.get("/collections/healthy/items").status_code == 200
    assert [v.problem is not None for v in store.versions("garbled")] == [True]
    store.archive("garbled")
    store.archive("tableless")
    assert [m.id for m in store.layers()] == ["healthy"] and store.layers().skipped == []
    store.dispose()


def test_warming_reads_the_centres_of_large_layers_only(store):
    large, small = PostGISStore(str(store.engine.url.render_as_string(False))), store
    large.WARM_CENTRES_FROM, small.WARM_CENTRES_FROM = 100, 101  # the layer has 101 features
    large.warm()
    small.warm()
    assert len(large._version("grid").centres.x) == 101
    assert small._version("grid").centres is None
    large.dispose()


def test_version_numbers_are_never_reused_after_an_archive(store):
    meta, records, geometries = grid_layer()
    store.apply_changes("grid", [FeatureChange("delete", "G-1-1")], base_version=1, actor="t")
    store.archive("grid")
    assert store.publish(meta, records_to_frame(meta, records, geometries), new=True) == 3
    assert (
        store.versions("grid")[0].number == 3
        and store.feature_history("grid", "G-1-1")[0].version == 3
    )


def test_connections_the_server_dropped_cost_no_request(store):
    assert len(ids(store)) == 101
    with store.engine.connect() as connection:  # as a restart or an administrator would
        connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert len(ids(store)) == 101 and store.feature("grid", "G-1-1").id == "G-1-1"


def test_a_page_or_a_tile_asks_the_catalogue_once(store, tmp_path, backend):
    """Over HTTP, whatever a route asks of the store: one read of the catalogue a request, and
    a page of items counted in its own statement."""
    statements: list[str] = []
    client = TestClient(create_app(backend.settings(tmp_path)))
    reads = client.app.state.store.default
    engines = (reads.read_engine, reads.lookup_engine)

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        for path in (
            "/collections/grid/items?limit=5&bbox=104,21,105,22",
            "/collections/grid/items/G-1-1",
            "/collections/grid/tiles/WebMercatorQuad/12/3231/1802",
        ):
            client.get(path)  # the first read of a version in a process reads its metadata
            statements.clear()
            assert client.get(path).status_code in (200, 204), path
            catalogue = [s for s in statements if "layer_catalogue" in s]
            assert len(catalogue) == 1, (path, statements)
            assert len(statements) <= 2, (path, statements)  # a page is counted beside it
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)


def test_lookups_by_a_unique_key_are_read_by_statements_kept_planned(store):
    """A feature by its id, and a layer's served version (read once a request), are read by
    statements PostgreSQL prepared once and keeps a plan of: planning them anew, on a table of
    many indexes, cost more than reading the row. Pages, whose best plan depends on their
    values, are planned for each."""
    box = (104.0, 21.0, 104.1, 21.1)
    for n in range(12):
        with one_request():
            assert store.feature("grid", f"G-{n % 10}-{n % 7}").id == f"G-{n % 10}-{n % 7}"
        with one_request():
            assert len(store.query("grid", Query(bbox=box, limit=3)).features) == 3
    kept = "SELECT statement FROM pg_prepared_statements WHERE generic_plans > 0"
    with store.lookup_engine.connect() as connection:
        lookups = connection.exec_driver_sql(kept).scalars().all()
    with store.read_engine.connect() as connection:
        pages = connection.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
    feature = [s for s in lookups if "LATERAL" in s]  # the feature beside the served version
    served = [s for s in lookups if "layer_catalogue" in s and "LATERAL" not in s]
    assert (len(feature), len(served), pages) == (1, 1, 0), lookups


def test_requests_reads_come_back_in_binary(store, tmp_path, backend):
    """A tile's bytes (and every other value a request reads) in PostgreSQL's binary format,
    not as hex text twice their size; the answers are the same as ever (the rest of the suite)."""
    formats: list[Format] = []
    client = TestClient(create_app(backend.settings(tmp_path)))
    engine = client.app.state.store.default.read_engine

    def seen(conn, cursor, *args) -> None:
        formats.extend(cursor.pgresult.fformat(i) for i in range(cursor.pgresult.nfields))

    event.listen(engine, "after_cursor_execute", seen)
    try:
        tile = client.get("/collections/grid/tiles/WebMercatorQuad/8/201/112")
        page = client.get("/collections/grid/items?limit=5&bbox=104,21,105,22")
    finally:
        event.remove(engine, "after_cursor_execute", seen)
    assert tile.status_code == 200 and tile.content[:1] == b"\x1a"  # an MVT layer, as bytes
    assert page.status_code == 200 and len(page.json()["features"]) == 5
    assert formats and set(formats) == {Format.BINARY}


def test_a_page_counted_beside_it_matches_exactly(store):
    box = (104.0, 21.0, 104.035, 21.035)
    every = len(ids(store, Query(bbox=box, limit=None)))
    assert every == 16  # the squares the box reaches
    for offset, limit, returned in ((0, 5, 5), (10, 5, 5), (15, 5, 1), (40, 5, 0)):
        page = store.query("grid", Query(bbox=box, limit=limit, offset=offset))
        assert (len(page.features), page.number_matched) == (returned, every), offset
    status = Comparison("=", Property("status"), Literal("operating"))
    first = store.query("grid", Query(filter=status, limit=3))
    assert first.number_matched == len(ids(store, Query(filter=status, limit=None))) > 3


def test_pages_of_one_shape_share_one_statement(store, monkeypatch):
    """A page's statement is built once for queries differing only by box, limit or offset,
    and each answers with its own values."""
    built: list[tuple] = []
    build = SqlReader.page_statement

    def counted_build(self, layer, query, beside):
        built.append((query.offset > 0, beside))
        return build(self, layer, query, beside)

    monkeypatch.setattr(SqlReader, "page_statement", counted_build)
    for box in ((104.0, 21.0, 104.035, 21.035), (104.02, 21.01, 104.06, 21.05)):
        every = [f.id for part in store.iter_features("grid", Query(bbox=box)) for f in part]
        assert len(every) > 8
        for offset, limit in ((0, 5), (5, 3), (0, 50), (2, 4)):
            page = store.query("grid", Query(bbox=box, limit=limit, offset=offset))
            assert [f.id for f in page.features] == every[offset : offset + limit], box
            assert page.number_matched == len(every)
    assert len(built) == len(set(built)) < 8  # one statement a shape


def test_a_box_of_no_width_finds_the_lines_through_it(store):
    """PostGIS takes a box of no width as an envelope no line meets: such a box is sent as
    the line it is, and finds the roads it crosses as a thin box does."""
    meta, records, _ = grid_layer()
    roads = [
        shapely.LineString([(104.0, 21.0 + k * 0.01), (104.1, 21.005 + k * 0.01)]) for k in range(5)
    ]
    layer = meta.model_copy(update={"id": "roads", "geometry_type": "line"})
    store.publish(layer, records_to_frame(layer, records[:5], roads), actor="cli:test")
    line, thin = (104.05, 21.0, 104.05, 21.1), (104.05, 21.0, 104.05000001, 21.1)
    crossed = [f.id for f in store.query("roads", Query(bbox=line, limit=None)).features]
    assert len(crossed) == 5
    assert crossed == [f.id for f in store.query("roads", Query(bbox=thin, limit=None)).features]


def test_dates_are_read_as_iso_text(store):
    """Dates come back as the GeoPackage store gives them (PostgreSQL writes them)."""
    first = store.query("grid", Query(limit=13)).features
    assert [f.properties["updated_at"] for f in first[:2]] == ["2025-01-01", "2025-02-01"]
    assert first[12].properties["updated_at"] == "2025-01-01"
    assert store.feature("grid", "G-0-1").properties["updated_at"] == "2025-02-01"
