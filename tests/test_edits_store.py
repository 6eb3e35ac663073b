"""Per-feature change sets in the GeoPackage store, through the `Store` protocol: each is one
new version written into the newest file (no copy), with ETags checked, history and diff equal
to a brute-force comparison of whole versions across change sets and uploads, readers never
seeing half a change set, and files written before versioned rows taking their first change."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyogrio
import pytest
import shapely
from pyproj import Geod

from geo_service.catalogue import LayerMeta
from geo_service.errors import Conflict, InvalidParameter, NotFound, PreconditionFailed
from geo_service.layer_frame import records_to_frame
from geo_service.query import Query
from geo_service.store import Store
from geo_service.store.changes import FeatureChange
from geo_service.store.etags import feature_etag
from geo_service.store.gpkg import GeoPackageStore
from geo_service.store.gpkg_edits import write_changes
from geo_service.store.gpkg_write import METADATA_TABLE, _write_search_table
from geo_service.store.sqlite_sql import quote_identifier

from .conftest import grid_layer

GEOD = Geod(ellps="WGS84")


@pytest.fixture()
def store(tmp_path) -> Store:
    meta, records, geometries = grid_layer()
    store = GeoPackageStore(tmp_path)
    store.publish(meta, records_to_frame(meta, records, geometries), actor="token:uploader")
    return store


def everything(store: Store, layer: str = "grid") -> dict[str, tuple[bytes | None, dict]]:
    """The served version's features by id: WKB and properties."""
    return {
        f.id: (f.geometry, f.properties)
        for batch in store.iter_features(layer, Query(limit=None))
        for f in batch
    }


def at_version(store: Store, version: int, layer: str = "grid") -> dict:
    """Every feature of a stored version, read by serving it for a moment."""
    served = store.current_version(layer)
    store.activate(layer, version)
    try:
        return everything(store, layer)
    finally:
        store.activate(layer, served)


def square(x: float, y: float, size: float = 0.004) -> bytes:
    return shapely.to_wkb(shapely.box(x, y, x + size, y + size))


def etag(store: Store, feature_id: str) -> str:
    return store.feature_etag("grid", feature_id)


def test_a_change_set_is_one_new_version_and_earlier_versions_keep_theirs(store, tmp_path):
    before = everything(store)
    changes = [
        FeatureChange("create", "NEW-1", {"name_vi": "Khu mới", "status": "planned"}, square(104.5, 21.5)),
        FeatureChange("replace", "G-0-1", {"name_vi": "Thay thế", "area_ha": 5.0}, square(104.3, 21.3), etag(store, "G-0-1")),
        FeatureChange("update", "G-0-2", {"status": "operating", "developer": None}, None, etag(store, "G-0-2")),
        FeatureChange("delete", "G-0-3", if_match=etag(store, "G-0-3")),
    ]  # fmt: skip
    version = store.apply_changes("grid", changes, base_version=1, actor="token:editor")
    assert version == 2 and store.current_version("grid") == 2
    after = everything(store)
    assert set(after) == set(before) - {"G-0-3"} | {"NEW-1"}
    assert after["NEW-1"][1]["name_vi"] == "Khu mới" and after["NEW-1"][1]["area_ha"] is None
    assert after["G-0-1"][1]["name_vi"] == "Thay thế" and after["G-0-1"][1]["status"] is None
    assert shapely.from_wkb(after["G-0-1"][0]).equals(shapely.from_wkb(square(104.3, 21.3)))
    updated = after["G-0-2"][1]
    assert updated["status"] == "operating" and updated["developer"] is None
    assert updated["name_vi"] == before["G-0-2"][1]["name_vi"]  # untouched fields stay
    assert after["G-0-2"][0] == before["G-0-2"][0]
    page = store.query("grid", Query(limit=10))
    assert page.number_matched == 101 and len(page.features) == 10
    assert store.query("grid", Query(bbox=(104.49, 21.49, 104.51, 21.51))).number_matched == 1
    assert store.query("grid", Query(text="khu moi")).number_matched == 1  # search text too
    west, south, east, north = store.extent("grid")
    assert east >= 104.504 and north >= 21.504
    summaries = store.versions("grid")
    assert [(s.number, s.kind, s.actor, s.features, s.current) for s in summaries] == [
        (1, "upload", "token:uploader", 101, False),
        (2, "changes", "token:editor", 101, True),
    ]
    assert store.layer("grid").version == 2 and store.layer("grid", 1).version == 1
    assert at_version(store, 1) == before  # the first version holds what it held
    store.activate("grid", 1)  # a rollback moves the number; nothing is copied
    assert everything(store) == before
    store.activate("grid", 2)
    # the change was written into the first file, named by a link: no copy of the layer
    assert (tmp_path / "grid" / "v000002.gpkg").is_symlink()
    assert (tmp_path / "grid" / "v000002.gpkg").resolve() == (tmp_path / "grid" / "v000001.gpkg")


def test_refused_change_sets_store_nothing(store):
    stale = etag(store, "G-1-1")
    store.apply_changes(
        "grid", [FeatureChange("update", "G-1-1", {"developer": "New"}, if_match=stale)],
        base_version=1, actor="token:a",
    )  # fmt: skip
    before, numbers = everything(store), store.version_numbers("grid")
    refusals = [
        (PreconditionFailed, [FeatureChange("update", "G-1-1", {"status": "planned"}, if_match=stale)], 2),
        (NotFound, [FeatureChange("delete", "NOPE", if_match="x")], 2),
        (Conflict, [FeatureChange("create", "G-0-0", {"name_vi": "x"}, square(104.0, 21.0))], 2),
        (InvalidParameter, [FeatureChange("delete", "G-0-0"), FeatureChange("delete", "G-0-0")], 2),
        (InvalidParameter, [FeatureChange("create", "X-1", {"no_such_field": 1}, square(104.0, 21.0))], 2),
        (Conflict, [FeatureChange("delete", "G-0-0")], 1),  # over a version no longer the newest
        # a good change followed by a bad one: all or nothing
        (PreconditionFailed, [FeatureChange("delete", "G-0-0"), FeatureChange("delete", "G-0-1", if_match="old")], 2),
    ]  # fmt: skip
    for error, changes, base in refusals:
        with pytest.raises(error):
            store.apply_changes("grid", changes, base_version=base, actor="token:a")
        assert store.version_numbers("grid") == numbers and everything(store) == before
    with pytest.raises(NotFound):
        store.apply_changes("nothing", [], base_version=1, actor="token:a")


def test_drafts_wait_to_be_published_and_block_changes_over_them(store):
    before = everything(store)
    draft = store.apply_changes(
        "grid", [FeatureChange("delete", "G-5-5")], base_version=1, draft=True, actor="token:a"
    )
    assert draft == 2 and store.current_version("grid") == 1 and everything(store) == before
    with pytest.raises(Conflict):  # publishing over a draft would serve it unseen
        store.apply_changes("grid", [FeatureChange("delete", "G-5-6")], base_version=2, actor="t")
    # a draft may go on top of a draft; publishing the newest serves both
    store.apply_changes(
        "grid", [FeatureChange("delete", "G-5-6")], base_version=2, draft=True, actor="token:b"
    )
    assert everything(store) == before
    store.activate("grid", 3)
    assert set(everything(store)) == set(before) - {"G-5-5", "G-5-6"}


def test_an_unnamed_change_set_left_by_a_crash_is_discarded(store, tmp_path):
    path = tmp_path / "grid" / "v000001.gpkg"
    write_changes(path, 1, 2, [FeatureChange("delete", "G-0-0")], "token:crashed")
    assert store.version_numbers("grid") == [1] and "G-0-0" in everything(store)
    version = store.apply_changes(
        "grid", [FeatureChange("delete", "G-0-1")], base_version=1, actor="token:a"
    )
    assert version == 2
    served = everything(store)
    assert "G-0-0" in served and "G-0-1" not in served
    assert store.versions("grid")[-1].actor == "token:a"


def test_uploads_and_change_sets_interleave_and_archive_keeps_them(store, tmp_path):
    meta, records, geometries = grid_layer()
    store.apply_changes("grid", [FeatureChange("delete", "G-0-0")], base_version=1, actor="a")
    upload = store.publish(meta, records_to_frame(meta, records[:20], geometries[:20]), actor="b")
    assert upload == 3 and not (tmp_path / "grid" / "v000003.gpkg").is_symlink()
    store.apply_changes("grid", [FeatureChange("delete", "G-0-1")], base_version=3, actor="c")
    assert (tmp_path / "grid" / "v000004.gpkg").resolve().name == "v000003.gpkg"
    assert len(everything(store)) == 19
    assert [s.kind for s in store.versions("grid")] == ["upload", "changes", "upload", "changes"]
    store.activate("grid", 2)
    assert len(everything(store)) == 100
    store.activate("grid", 4)
    store.archive("grid")
    assert store.version_numbers("grid") == []
    again = store.publish(meta, records_to_frame(meta, records, geometries), new=True)
    assert again == 5  # numbers are never reused, change sets' included


# -- history and diff against brute force --------------------------------------------------------
def random_properties(rng: random.Random, code: str) -> dict:
    return {
        "code": code,
        "name_vi": f"Khu {rng.choice(['Mộc Châu', 'Mai Sơn', 'Vân Hồ'])} {rng.randrange(1000)}",
        "status": rng.choice(["planned", "calling_investment", "operating", None]),
        "area_ha": round(rng.uniform(1, 500), 2),
        "developer": rng.choice(["A", "B", None]),
        "approved_year": rng.choice([None, *range(2000, 2026)]),
    }


def translated(wkb: bytes, rng: random.Random) -> bytes:
    dx, dy = rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01)
    return shapely.to_wkb(shapely.affinity.translate(shapely.from_wkb(wkb), dx, dy))


def random_edits(rng: random.Random, current: dict, counter: list[int]) -> list[FeatureChange]:
    """A few creates, replaces, updates and deletes of distinct features. Geometries only ever
    move by translation, and a deleted id is never created again, so a feature's geometry in any
    two versions is one translated from the other."""
    ids = sorted(current)
    chosen = rng.sample(ids, min(len(ids), rng.randint(1, 6)))
    changes = []
    for feature_id in chosen:
        geometry, properties = current[feature_id]
        tag = feature_etag_of(feature_id, geometry, properties)
        op = rng.choice(["replace", "update", "update", "delete"])
        if op == "delete":
            changes.append(FeatureChange("delete", feature_id, if_match=tag))
        elif op == "replace":
            changes.append(
                FeatureChange(
                    "replace",
                    feature_id,
                    random_properties(rng, feature_id),
                    translated(geometry, rng),
                    tag,
                )
            )
        else:
            patch = {
                "status": rng.choice(["planned", "operating"]),
                "area_ha": round(rng.uniform(1, 9), 1),
            }
            moved = translated(geometry, rng) if rng.random() < 0.5 else None
            changes.append(
                FeatureChange(
                    "update", feature_id, rng.choice([patch, {"developer": "Z"}]), moved, tag
                )
            )
    for _ in range(rng.randint(0, 2)):
        counter[0] += 1
        code = f"N-{counter[0]}"
        x, y = rng.uniform(104.0, 104.3), rng.uniform(21.0, 21.3)
        changes.append(FeatureChange("create", code, random_properties(rng, code), square(x, y)))
    return changes  # fmt: skip


def feature_etag_of(feature_id: str, geometry: bytes, properties: dict) -> str:
    from geo_service.store.base import Feature

    return feature_etag(Feature(feature_id, geometry, properties))


def random_upload(rng: random.Random, meta: LayerMeta, current: dict, counter: list[int]):
    """The served features with some translated, some changed, some left out, some new."""
    records, geometries = [], []
    for _, (geometry, properties) in sorted(current.items()):
        roll = rng.random()
        if roll < 0.1:
            continue
        record = dict(properties)
        if roll < 0.25:
            geometry = translated(geometry, rng)
        elif roll < 0.4:
            record["name_vi"] = f"Đổi tên {rng.randrange(1000)}"
        records.append(record)
        geometries.append(shapely.from_wkb(geometry))
    for _ in range(3):
        counter[0] += 1
        code = f"U-{counter[0]}"
        records.append(random_properties(rng, code))
        geometries.append(shapely.box(104.1, 21.1, 104.102, 21.102))
    return records_to_frame(meta, records, geometries)


def brute_force_diff(before: dict, after: dict) -> dict:
    found = {}
    for code in after.keys() - before.keys():
        found[code] = ("added", {}, False)
    for code in before.keys() - after.keys():
        found[code] = ("removed", {}, False)
    for code in before.keys() & after.keys():
        (old_geometry, old), (new_geometry, new) = before[code], after[code]
        fields = {
            n: (old.get(n), new.get(n)) for n in old.keys() | new.keys() if old.get(n) != new.get(n)
        }
        moved = not shapely.from_wkb(old_geometry).equals_exact(shapely.from_wkb(new_geometry), 0)
        if fields or moved:
            found[code] = ("changed", fields, moved)
    return found  # fmt: skip


def translation_metres(before: bytes, after: bytes) -> float:
    """How far a translated geometry moved, on the ellipsoid (geodesic between centroids)."""
    a, b = shapely.from_wkb(before).centroid, shapely.from_wkb(after).centroid
    return GEOD.inv(a.x, a.y, b.x, b.y)[2]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_history_and_diff_equal_a_brute_force_comparison_of_whole_versions(tmp_path, seed, backend):
    rng = random.Random(seed)
    meta, records, geometries = grid_layer()
    store = backend.store(backend.claim(tmp_path))
    counter = [0]
    store.publish(meta, records_to_frame(meta, records[:40], geometries[:40]), actor="token:u0")
    versions = {1: everything(store)}
    for step in range(14):
        current = versions[max(versions)]
        newest = max(versions)
        if rng.random() < 0.25:
            number = store.publish(
                meta, random_upload(rng, meta, current, counter), actor=f"token:u{step}"
            )
        else:
            draft = rng.random() < 0.3
            number = store.apply_changes(
                "grid",
                random_edits(rng, current, counter),
                base_version=newest,
                draft=draft,
                actor=f"token:e{step}",
            )
            if draft:
                store.activate("grid", number)
        versions[number] = everything(store)
    numbers = sorted(versions)
    assert store.version_numbers("grid") == numbers
    for number in numbers:  # what each version holds, read by serving it, is what was written
        assert at_version(store, number) == versions[number]
    pairs = [(a, b) for a in numbers for b in numbers if a != b]
    for before, after in rng.sample(pairs, 25) + [(numbers[0], numbers[-1])]:
        expected = brute_force_diff(versions[before], versions[after])
        listed = [d.feature_id for d in store.diff("grid", before, after)]
        assert listed == sorted(listed), (before, after)  # in id order, on either store
        found = {d.feature_id: d for d in store.diff("grid", before, after)}
        assert set(found) == set(expected), (before, after)
        for code, (change, fields, moved) in expected.items():
            diff = found[code]
            assert diff.change == change, (before, after, code)
            assert diff.fields == fields, (before, after, code)
            assert (diff.geometry_moved_m is not None) == moved, (before, after, code)
            if moved:
                metres = translation_metres(versions[before][code][0], versions[after][code][0])
                assert diff.geometry_moved_m == pytest.approx(metres, rel=2e-3)
    summaries = {s.number: s for s in store.versions("grid")}
    every_id = set().union(*versions.values())
    for code in rng.sample(sorted(every_id), 12):
        expected, previous = [], None
        for number in numbers:
            state = versions[number].get(code)
            if previous is None and state is not None:
                expected.append((number, "created"))
            elif previous is not None and state is None:
                expected.append((number, "deleted"))
            elif (
                previous is not None
                and state is not None
                and (
                    previous[1] != state[1]
                    or not shapely.from_wkb(previous[0]).equals_exact(shapely.from_wkb(state[0]), 0)
                )
            ):
                expected.append((number, "changed"))
            previous = state
        history = store.feature_history("grid", code)
        assert [(r.version, r.change) for r in history] == expected, code
        for revision in history:
            assert revision.actor == summaries[revision.version].actor
            assert revision.at == summaries[revision.version].written
            if revision.change != "changed":
                assert revision.fields == ()
            if revision.change == "changed":
                before = versions[numbers[numbers.index(revision.version) - 1]][code]
                after = versions[revision.version][code]
                changed = {
                    n
                    for n in before[1].keys() | after[1].keys()
                    if before[1].get(n) != after[1].get(n)
                }
                moved = not shapely.from_wkb(before[0]).equals_exact(shapely.from_wkb(after[0]), 0)
                assert set(revision.fields) == changed | ({"geometry"} if moved else set())  # fmt: skip
    with pytest.raises(NotFound):
        store.feature_history("grid", "NEVER")
    with pytest.raises(NotFound):
        list(store.diff("grid", 1, 99))


# -- readers during change sets -------------------------------------------------------------------
def test_readers_during_change_sets_never_see_half_of_one(store):
    """Each change set moves area from one feature to another and replaces one feature by a new
    one: the count and the total area are the same in every version, so a reader that saw half
    a change set would see another count or total."""
    served = everything(store)
    total = round(sum(p["area_ha"] or 0 for _, p in served.values()), 6)
    count = len(served)
    stop = threading.Event()
    seen = {"reads": 0, "versions": set()}

    def read() -> None:
        while not stop.is_set():
            page = store.query("grid", Query(limit=500))
            area = round(sum(f.properties["area_ha"] or 0 for f in page.features), 6)
            assert (len(page.features), page.number_matched) == (count, count)
            assert area == pytest.approx(total, abs=1e-3)
            assert store.facets("grid", Query(), ("area_ha",))["area_ha"].count <= count
            seen["reads"] += 1
            seen["versions"].add(store.layer("grid").version)

    rng = random.Random(5)
    with ThreadPoolExecutor(3) as readers:
        running = [readers.submit(read) for _ in range(3)]
        for step in range(25):
            current = everything(store)
            giver, taker, gone = rng.sample(sorted(current), 3)
            amount = 1.5
            new = f"R-{step}"
            gone_area = current[gone][1]["area_ha"]
            changes = [
                FeatureChange("update", giver, {"area_ha": round((current[giver][1]["area_ha"] or 0) - amount, 6)}),
                FeatureChange("update", taker, {"area_ha": round((current[taker][1]["area_ha"] or 0) + amount, 6)}),
                FeatureChange("delete", gone),
                FeatureChange("create", new, {"name_vi": new, "area_ha": gone_area}, current[gone][0]),
            ]  # fmt: skip
            store.apply_changes(
                "grid", changes, base_version=store.current_version("grid"), actor="token:w"
            )
        stop.set()
        for future in running:
            future.result(timeout=60)
    assert seen["reads"] > 0 and len(seen["versions"]) > 1


def test_two_change_sets_over_one_version_one_wins(store):
    """Two writers read version 1 and send a change set over it at once: one is version 2, the
    other is refused (its base is no longer the newest) and stores nothing."""
    barrier = threading.Barrier(2)

    def write(feature_id: str) -> int | Exception:
        barrier.wait()
        try:
            return store.apply_changes(
                "grid", [FeatureChange("delete", feature_id)], base_version=1, actor=feature_id
            )
        except Conflict as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(write, ["G-1-1", "G-2-2"]))
    assert sorted(isinstance(r, Conflict) for r in results) == [False, True]
    assert store.version_numbers("grid") == [1, 2]
    assert len(everything(store)) == 100


# -- files written before versioned rows ------------------------------------------------------------
def write_legacy_file(path: Path, meta: LayerMeta, frame) -> None:
    """A version file as releases before versioned rows wrote it: a unique index on the feature
    id, no version columns or records, rollback journal."""
    pyogrio.write_dataframe(frame, path, layer=meta.id, driver="GPKG", spatial_index=True)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(f"CREATE TABLE {METADATA_TABLE} (id TEXT PRIMARY KEY, metadata TEXT NOT NULL)")
        db.execute(f"INSERT INTO {METADATA_TABLE} VALUES (?, ?)", (meta.id, meta.model_dump_json()))
        table = quote_identifier(meta.id)
        db.execute(f"CREATE UNIQUE INDEX {quote_identifier(meta.id + '_code')} ON {table} (code)")
        _write_search_table(db, meta, frame)


def test_a_file_written_before_versioned_rows_takes_its_first_change_set(tmp_path):
    meta, records, geometries = grid_layer()
    folder = tmp_path / "grid"
    folder.mkdir()
    write_legacy_file(folder / "v000001.gpkg", meta, records_to_frame(meta, records, geometries))
    (folder / "current.gpkg").symlink_to("v000001.gpkg")
    store = GeoPackageStore(tmp_path)
    before = everything(store)
    assert len(before) == 101 and store.versions("grid")[0].kind == "upload"
    version = store.apply_changes(
        "grid",
        [FeatureChange("update", "G-0-0", {"status": "operating"}, if_match=etag(store, "G-0-0"))],
        base_version=1,
        actor="token:a",
    )
    assert version == 2 and everything(store)["G-0-0"][1]["status"] == "operating"
    assert at_version(store, 1) == before
    assert [(d.feature_id, d.change) for d in store.diff("grid", 1, 2)] == [("G-0-0", "changed")]
    with contextlib.closing(sqlite3.connect(folder / "v000001.gpkg")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_feature_etags_follow_the_content(store):
    first = etag(store, "G-2-2")
    assert first == etag(store, "G-2-2") and first != etag(store, "G-2-3")
    properties = everything(store)["G-2-2"][1]
    store.apply_changes(
        "grid", [FeatureChange("update", "G-2-2", {"developer": "Other"}, if_match=first)],
        base_version=1, actor="a",
    )  # fmt: skip
    changed = etag(store, "G-2-2")
    assert changed != first
    store.apply_changes(
        "grid", [FeatureChange("update", "G-2-2", {"developer": properties["developer"]}, if_match=changed)],
        base_version=2, actor="a",
    )  # fmt: skip
    assert etag(store, "G-2-2") == first  # the same content, the same tag


def test_the_grid_of_an_edited_version_follows_from_the_one_before(store, tmp_path):
    """The unfiltered grid's centres of the version served are carried over to the next one a
    change set makes (less its closed rows, with its new ones): the same cells as a store that
    reads them afresh."""
    bbox, size = (103.9, 20.9, 104.6, 21.6), (7, 7)

    def cells(of: Store) -> list:
        return sorted(
            (c.bbox, c.count, round(c.x, 9), round(c.y, 9))
            for c in of.grid("grid", Query(), bbox, *size)
        )

    first = cells(store)
    changes = [
        FeatureChange("delete", "G-0-0"),
        FeatureChange("update", "G-9-9", {}, square(104.55, 21.55)),
        FeatureChange("create", "NEW-G", {"name_vi": "Mới"}, square(104.31, 21.31)),
    ]
    for version in (2, 3):
        store.apply_changes("grid", changes if version == 2 else [FeatureChange("delete", "G-5-5")],
                            base_version=version - 1, actor="a")  # fmt: skip
        derived = cells(store)
        assert derived == cells(GeoPackageStore(tmp_path)) != first
    assert sum(c[1] for c in derived) == 100  # 101 − G-0-0 + NEW-G − G-5-5
    store.activate("grid", 1)
    assert cells(store) == first
