"""Upgrading an installation of an earlier release, on SQLite and PostgreSQL: the tokens, audit
log and shortlists it kept in `admin.sqlite` and `shortlists.sqlite` are copied into the records
database once, and the files renamed, never deleted."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from contextlib import closing

import pytest
import sqlalchemy as sa

from geo_service import clock
from geo_service.admin_store import AdminStore
from geo_service.app import create_app
from geo_service.errors import Forbidden, NotFound
from geo_service.records import Records, upgrade
from geo_service.records.legacy import LegacyFileError
from geo_service.records.schema import audit_entries, shortlist_items, shortlists, tokens
from geo_service.settings import Settings
from geo_service.shortlists import ItemRef, ShortlistStore, TooManyShortlists

from .conftest import upgrade_in_workers
from .legacy_files import AUDIT, old_installation, old_lists, write_shortlists_file
from .pipeline_app import pipeline_client, pipeline_data_dir
from .staff import bearer, cli


def days_ago(days: int) -> str:
    return clock.utc_stamp(clock.now() - dt.timedelta(days=days))


@pytest.fixture()
def old(tmp_path):
    """The files of an earlier release: one list used a week ago, one 400 days ago."""
    return old_installation(tmp_path / "data", days_ago(7), days_ago(400))


@pytest.fixture()
def records(records_url):
    records = Records(records_url)
    yield records
    records.dispose()


def counts(records: Records) -> dict[str, int]:
    with records.reading() as session:
        return {
            table.name: session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in (tokens, audit_entries, shortlists, shortlist_items)
        }


def old_rows(path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT count(*) FROM tokens").fetchone()[0]


def test_an_upgrade_copies_the_old_files_once_and_keeps_them(old, records, records_url):
    upgraded = cli("db", "upgrade", data_dir=old.data_dir, url=records_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "admin.sqlite: 3 tokens, 4 audit_entries; renamed to admin.sqlite.migrated" in (
        upgraded.stderr
    )
    assert "shortlists.sqlite: 2 shortlists, 3 shortlist_items" in upgraded.stderr
    folder = old.data_dir
    assert not (folder / "admin.sqlite").exists() and not (folder / "shortlists.sqlite").exists()
    assert old_rows(folder / "admin.sqlite.migrated") == 3  # renamed, never emptied
    assert (folder / "shortlists.sqlite.migrated").is_file()

    admin = AdminStore(records)
    editor = admin.authenticate(old.editor)
    assert editor is not None and (editor.id, editor.role, editor.label) == (
        "0a1b2c3d",
        "editor",
        "Sở KH&ĐT",
    )
    assert admin.authenticate(old.admin).role == "admin"
    assert admin.authenticate(old.revoked) is None
    assert [(t.id, t.revoked) for t in admin.tokens()] == [
        ("0a1b2c3d", None),
        ("9f8e7d6c", None),
        ("5e5e5e5e", "2026-02-01T00:00:00Z"),
    ]
    history = [(e["at"], e["actor"], e["action"], e["layer"], e["details"]) for e in admin.audit()]
    assert history == [AUDIT[3], AUDIT[2], AUDIT[1], AUDIT[0]]  # newest first, same order
    assert [e["action"] for e in admin.audit("industrial_zones")] == [
        "layer.rollback",
        "layer.publish",
    ]

    lists = ShortlistStore(records, max_items=10, max_per_client=2, expiry_days=365)
    recent, forgotten = old.lists
    shortlist = lists.get(recent.id)
    assert shortlist.name == recent.name and shortlist.updated == recent.updated
    assert shortlist.items == [ItemRef(i["collection"], i["id"]) for i in recent.items]
    with pytest.raises(Forbidden):
        lists.update(recent.id, "guess", name="x")
    assert (
        lists.update(recent.id, recent.key, remove=[shortlist.items[0]]).items
        == (shortlist.items[1:])
    )
    with pytest.raises(NotFound, match="365 days"):  # its last use came along, and it expired
        lists.get(forgotten.id)
    lists.create("new", "", [], recent.client)  # the old lists count against the client's quota
    with pytest.raises(TooManyShortlists):
        lists.create("one too many", "", [], recent.client)

    # the next upgrade finds nothing to copy
    before = counts(records)
    upgrade(records, folder)
    assert counts(records) == before


def test_a_file_copied_but_not_renamed_is_only_renamed_next_time(old, records):
    upgrade(records, old.data_dir)
    copied = counts(records)
    folder = old.data_dir
    # as if the process had stopped between committing the rows and renaming the file
    shutil.copy(folder / "admin.sqlite.migrated", folder / "admin.sqlite")
    shutil.copy(folder / "shortlists.sqlite.migrated", folder / "shortlists.sqlite")
    upgrade(records, folder)
    assert counts(records) == copied  # no audit entry twice
    assert not (folder / "admin.sqlite").exists()
    assert old_rows(folder / "admin.sqlite.migrated") == old_rows(
        folder / "admin.sqlite.migrated.2"
    )


def test_workers_starting_together_copy_the_files_once(old, records_url, records):
    upgrade_in_workers(records_url, old.data_dir)
    assert counts(records) == {
        "tokens": 3,
        "audit_entries": 4,
        "shortlists": 2,
        "shortlist_items": 3,
    }
    assert sorted(p.name for p in old.data_dir.iterdir() if "sqlite" in p.name) == [
        "admin.sqlite.migrated",
        "shortlists.sqlite.migrated",
    ]


def test_lists_from_before_expiry_count_their_last_change_as_their_last_use(tmp_path, records):
    lists = old_lists(recent="", long_ago="")
    write_shortlists_file(
        tmp_path,
        [lists[0]._replace(updated=days_ago(3)), lists[1]._replace(updated=days_ago(40))],
        with_last_use=False,
    )
    upgrade(records, tmp_path)
    store = ShortlistStore(records, max_items=10, max_per_client=10, expiry_days=30)
    assert store.get(lists[0].id).name == lists[0].name
    with pytest.raises(NotFound, match="30 days"):
        store.get(lists[1].id)


def test_the_service_takes_the_old_files_in_when_it_starts(old, records_url):
    pipeline_data_dir(old.data_dir)  # the grid; pipeline_client puts it in PostGIS too
    with pipeline_client(old.data_dir, records_url) as client:
        audit = client.get("/admin/audit", headers=bearer(old.admin))
        assert audit.status_code == 200
        assert [e["action"] for e in audit.json()["entries"]][-1] == "token.create"
        assert client.get("/admin/audit", headers=bearer(old.revoked)).status_code == 401
        recent = old.lists[0]
        listed = client.get(f"/shortlists/{recent.id}").json()
        assert [(i["id"], i["found"]) for i in listed["items"]] == [
            ("G-1-2", True),
            ("G-0-0", True),
            ("GONE", False),
        ]
        renamed = client.patch(
            f"/shortlists/{recent.id}",
            json={"name": "Mới"},
            headers={"X-Shortlist-Key": recent.key},
        )
        assert renamed.status_code == 200 and renamed.json()["name"] == "Mới"


def test_an_unreadable_old_file_stops_the_upgrade_and_is_left_alone(tmp_path, records_url, records):
    (tmp_path / "admin.sqlite").write_bytes(b"this is not an SQLite database, but it is ours")
    upgraded = cli("db", "upgrade", data_dir=tmp_path, url=records_url)
    assert upgraded.returncode == 2
    assert "admin.sqlite" in upgraded.stderr and "Traceback" not in upgraded.stderr
    assert (tmp_path / "admin.sqlite").read_bytes().startswith(b"this is not")
    with pytest.raises(LegacyFileError):
        create_app(Settings(data_dir=tmp_path, database_url=records_url))
    assert counts(records)["tokens"] == 0
