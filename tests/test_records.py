"""The records database on SQLite and PostgreSQL: migrations from empty, under concurrency, the
schema they build, the append-only dossier events, and the `geo-service db` commands."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from geo_service.records import Records, current_revision, head_revision, upgrade
from geo_service.records.migrate import ours
from geo_service.records.schema import metadata

from .command_line import geo_service
from .conftest import upgrade_in_workers


def test_migrations_upgrade_an_empty_database_to_the_schema(empty_database_url: str):
    records = Records(empty_database_url)
    try:
        assert current_revision(records) is None
        assert upgrade(records) == (None, head_revision())
        assert upgrade(records) == (head_revision(), head_revision())  # nothing left to do
        with records.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_name": ours})
            differences = compare_metadata(context, metadata)
            tables = set(sa.inspect(connection).get_table_names())
        assert differences == []
        assert {"projects", "dossier_events", "project_progress", "enquiries"} <= tables
    finally:
        records.dispose()


def test_workers_starting_together_migrate_once(empty_database_url: str):
    results = upgrade_in_workers(empty_database_url)
    assert all(after == head_revision() for _, after in results)
    assert sum(before is None for before, _ in results) == 1  # one migrated, the others waited


def test_a_connection_waits_while_a_new_sqlite_file_is_written(tmp_path):
    """Each new connection puts the file in WAL mode. While another connection writes to a file
    still in its first mode (as when workers open a new file together and one switches it),
    SQLite refuses the switch at once, without its busy handler: the connection waits and
    tries again rather than fail."""
    path = tmp_path / "new.sqlite"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    threading.Timer(0.3, writer.execute, ["COMMIT"]).start()
    records = Records(f"sqlite:///{path}")
    try:
        with records.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        records.dispose()
        writer.close()


def test_dossier_events_are_append_only(records_url: str):
    records = Records(records_url)
    upgrade(records)
    try:
        with records.writing() as session:
            session.execute(
                sa.text(
                    "INSERT INTO projects (id, name_vi, name_en, summary_vi, summary_en, source, "
                    "data_quality, search_text, created_at, updated_at, version) VALUES "
                    "('SL-DA-1', 'a', '', '', '', 's', 'indicative', 'a', 't', 't', 1)"
                )
            )
            session.execute(
                sa.text(
                    "INSERT INTO dossier_events (project_id, seq, kind, note, public, actor, "
                    "recorded_at) VALUES ('SL-DA-1', 1, 'note', 'n', true, 'a', 't')"
                )
            )
        for statement in ("UPDATE dossier_events SET note = 'x'", "DELETE FROM dossier_events"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"), records.writing() as s:
                s.execute(sa.text(statement))
        with records.reading() as session:
            assert session.scalar(sa.text("SELECT note FROM dossier_events")) == "n"
    finally:
        records.dispose()


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    records = Records(f"sqlite:///{tmp_path / 'r.sqlite'}")
    upgrade(records)
    with records.reading() as session:
        assert session.scalar(sa.text("PRAGMA journal_mode")) == "wal"
        assert session.scalar(sa.text("PRAGMA foreign_keys")) == 1
    with pytest.raises(sa.exc.IntegrityError), records.writing() as session:
        session.execute(
            sa.text(
                "INSERT INTO project_progress (project_id, stage, steps_completed, steps_total, "
                "events) VALUES ('SL-DA-NONE', 'unknown', 0, 0, 0)"
            )
        )
    records.dispose()


def test_the_test_cluster_offers_postgis(postgres_databases):
    """Later work (the PostGIS store) needs the extension in the same throwaway cluster."""
    url = postgres_databases.create()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE EXTENSION postgis")
            version = connection.exec_driver_sql("SELECT postgis_version()").scalar()
        assert version.split()[0].startswith("3")
    finally:
        engine.dispose()
        postgres_databases.drop(url)


def test_db_commands(empty_database_url: str, tmp_path):
    environment = {"GEO_SERVICE_DATABASE_URL": empty_database_url}
    args = ["--data-dir", str(tmp_path)]
    behind = geo_service("db", "current", *args, env=environment)
    assert behind.returncode == 1
    assert "empty" in behind.stdout
    upgraded = geo_service("db", "upgrade", *args, env=environment)
    assert upgraded.returncode == 0, upgraded.stderr
    assert head_revision() in upgraded.stdout
    current = geo_service("db", "current", *args, env=environment)
    assert current.returncode == 0
    assert "up to date" in current.stdout
