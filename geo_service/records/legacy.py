"""GIS staff's tokens, the audit log and planners' shortlists as earlier releases kept them: in
SQLite files of the data directory (`admin.sqlite`, `shortlists.sqlite`). An upgrade copies their
rows into the records database once, then renames each file (`admin.sqlite.migrated`), never
deleting it: tokens keep working, the audit history is kept, shortlists keep their ids and keys.

A file's rows are copied in one transaction that also records a hash of them (`imported_files`):
if renaming the file then fails, the next upgrade finds those rows already copied and only
renames it. A token or shortlist whose id the database already holds is left as it is there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, create_engine, insert, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..clock import utc_now
from ..i18n import _l
from .database import Records
from .schema import audit_entries, imported_files, shortlist_items, shortlists, tokens

MIGRATED = ".migrated"
Rows = dict[Table, list[dict[str, Any]]]


class LegacyFileError(RuntimeError):
    """A file of an earlier release that cannot be read: it is left where it is."""


def _admin_rows(db: Connection, tables: dict[str, set[str]]) -> Rows:
    rows: Rows = {tokens: [], audit_entries: []}
    if "tokens" in tables:
        for row in db.execute(
            text("SELECT id, hash, role, label, created, revoked FROM tokens ORDER BY rowid")
        ):
            rows[tokens].append(
                {
                    "id": row.id,
                    "secret_hash": row.hash,
                    "role": row.role,
                    "label": row.label,
                    "created_at": row.created,
                    "revoked_at": row.revoked,
                }
            )
    if "audit" in tables:
        for row in db.execute(
            text("SELECT at, actor, action, layer, details FROM audit ORDER BY rowid")
        ):
            entry = dict(row._mapping)
            rows[audit_entries].append({**entry, "details": json.loads(entry["details"])})
    return rows


def _shortlist_rows(db: Connection, tables: dict[str, set[str]]) -> Rows:
    rows: Rows = {shortlists: [], shortlist_items: []}
    if "shortlists" not in tables:
        return rows
    # lists stored before they expired have no last use: it is their last change
    used = "coalesce(used, updated)" if "used" in tables["shortlists"] else "updated"
    for row in db.execute(
        text(
            "SELECT id, key_hash, name, note, items, client, created, updated, "
            f"{used} AS used FROM shortlists ORDER BY rowid"
        )
    ):
        rows[shortlists].append(
            {
                "id": row.id,
                "key_hash": row.key_hash,
                "name": row.name,
                "note": row.note,
                "client": row.client,
                "created_at": row.created,
                "updated_at": row.updated,
                "used_at": row.used,
            }
        )
        items = dict.fromkeys((i["collection"], i["id"]) for i in json.loads(row.items))
        rows[shortlist_items].extend(
            {"shortlist_id": row.id, "collection": c, "feature_id": f, "position": n}
            for n, (c, f) in enumerate(items)
        )
    return rows


FILES: dict[str, Callable[[Connection, dict[str, set[str]]], Rows]] = {
    "admin.sqlite": _admin_rows,
    "shortlists.sqlite": _shortlist_rows,
}
"""Each file of an earlier release, and how its rows become rows of the records database."""
SKIPPED_IF_HELD = {
    tokens: (tokens, "id"),
    shortlists: (shortlists, "id"),
    shortlist_items: (shortlists, "shortlist_id"),
}
"""Rows of these tables are not copied when their column names a token or shortlist the database
already holds (a shortlist's items go with it)."""


def pending(data_dir: Path) -> list[Path]:
    """The files of an earlier release in the data directory, not copied yet."""
    return [Path(data_dir) / name for name in FILES if (Path(data_dir) / name).is_file()]


def import_legacy_files(records: Records, data_dir: Path) -> list[str]:
    """Copy each file's rows in (once) and rename the file; says what was done, file by file."""
    done = []
    for path in pending(data_dir):
        copied = _copy_once(records, path, _read(path, FILES[path.name]))
        done.append(f"{path}: {copied}; renamed to {_rename(path).name}")
    return done


def _read(path: Path, reader: Callable[[Connection, dict[str, set[str]]], Rows]) -> Rows:
    engine = create_engine(URL.create("sqlite", database=str(path)))
    try:
        with engine.connect() as db:
            inspector = inspect(db)
            tables = {
                name: {c["name"] for c in inspector.get_columns(name)}
                for name in inspector.get_table_names()
            }
            return reader(db, tables)
    except (DBAPIError, ValueError, KeyError, TypeError) as exc:
        raise LegacyFileError(
            _l(
                "{path} (kept from an earlier release) cannot be read, so its rows cannot be copied into the records database: {exc}. Repair or move the file, then upgrade again",
                path=path,
                exc=exc,
            )
        ) from exc
    finally:
        engine.dispose()  # the last connection folds the file's write-ahead log into it


def _copy_once(records: Records, path: Path, rows: Rows) -> str:
    """Copy the rows in, unless these very rows were copied before: says which."""
    fingerprint = hashlib.sha256(
        json.dumps({t.name: r for t, r in rows.items()}, sort_keys=True).encode()
    ).hexdigest()
    with records.writing() as session:
        seen = select(imported_files.c.name).where(imported_files.c.fingerprint == fingerprint)
        if session.scalar(seen) is not None:
            return "already copied"
        counts = _copy(session, rows)
        session.execute(
            insert(imported_files).values(
                fingerprint=fingerprint, name=str(path), imported_at=utc_now()
            )
        )
    return ", ".join(f"{n} {table.name}" for table, n in counts.items())


def _copy(session: Session, rows: Rows) -> dict[Table, int]:
    """Insert the rows, but those of tokens and shortlists already held: how many, per table."""
    parents = {parent for parent, _ in SKIPPED_IF_HELD.values() if parent in rows}
    held = {parent: _held(session, parent, [r["id"] for r in rows[parent]]) for parent in parents}
    counts = {}
    for table, table_rows in rows.items():
        if table in SKIPPED_IF_HELD:
            parent, column = SKIPPED_IF_HELD[table]
            table_rows = [row for row in table_rows if row[column] not in held[parent]]
        if table_rows:
            session.execute(insert(table), table_rows)
        counts[table] = len(table_rows)
    return counts


def _held(session: Session, table: Table, ids: list[str]) -> set[str]:
    """Which of these ids `table` holds."""
    return {
        held
        for start in range(0, len(ids), 500)
        for held in session.scalars(
            select(table.c.id).where(table.c.id.in_(ids[start : start + 500]))
        )
    }


def _rename(path: Path) -> Path:
    """Rename the file (and any write-ahead log beside it) to a name not taken yet."""
    target = path.with_name(path.name + MIGRATED)
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}{MIGRATED}.{number}")
    path.rename(target)
    for companion in ("-wal", "-shm"):
        beside = path.with_name(path.name + companion)
        if beside.exists():
            beside.rename(target.with_name(target.name + companion))
    return target
