"""A data directory as earlier releases left it: GIS staff's tokens and the audit log in
`admin.sqlite`, shortlists in `shortlists.sqlite`, written with those releases' own schema and
statements (WAL, `CREATE TABLE IF NOT EXISTS`, hashes of the secrets, JSON text)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple

ADMIN_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, hash TEXT UNIQUE NOT NULL, "
    "role TEXT NOT NULL, label TEXT NOT NULL, created TEXT NOT NULL, revoked TEXT)",
    "CREATE TABLE IF NOT EXISTS audit (at TEXT NOT NULL, actor TEXT NOT NULL, "
    "action TEXT NOT NULL, layer TEXT, details TEXT NOT NULL)",
)
SHORTLISTS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS shortlists (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, "
    "name TEXT NOT NULL, note TEXT NOT NULL, items TEXT NOT NULL, client TEXT NOT NULL, "
    "created TEXT NOT NULL, updated TEXT NOT NULL, used TEXT)"
)
SHORTLISTS_SCHEMA_BEFORE_EXPIRY = (
    "CREATE TABLE IF NOT EXISTS shortlists (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, "
    "name TEXT NOT NULL, note TEXT NOT NULL, items TEXT NOT NULL, client TEXT NOT NULL, "
    "created TEXT NOT NULL, updated TEXT NOT NULL)"
)
"""The releases before shortlists expired had no `used` column."""

AUDIT = [
    ("2026-01-05T02:00:00Z", "cli:0a1b2c3d", "token.create", None, {"role": "editor", "label": "Sở KH&ĐT"}),
    ("2026-01-06T03:00:00Z", "token:0a1b2c3d", "layer.publish", "industrial_zones", {"version": 1, "features": 12}),
    ("2026-01-06T03:00:00Z", "token:0a1b2c3d", "layer.rollback", "industrial_zones", {"version": 1}),
    ("2026-01-07T04:00:00Z", "token:9f8e7d6c", "layer.archive", "roads", {}),
]  # fmt: skip
"""Oldest first, as written; two in one second."""


class OldList(NamedTuple):
    id: str
    key: str
    name: str
    items: list[dict[str, str]]
    client: str
    updated: str
    used: str | None


class OldInstallation(NamedTuple):
    data_dir: Path
    editor: str
    """The secret of a live editor's token (id 0a1b2c3d)."""
    admin: str
    """The secret of a live admin's token (id 9f8e7d6c)."""
    revoked: str
    """The secret of a revoked token (id 5e5e5e5e)."""
    lists: list[OldList]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    return db


def write_admin_file(data_dir: Path) -> tuple[str, str, str]:
    """Three tokens (editor, admin, revoked) and the audit entries: their secrets."""
    secrets = ("gst_old-editor-secret", "gst_old-admin-secret", "gst_old-revoked-secret")
    with closing(_connect(data_dir / "admin.sqlite")) as db:
        for statement in ADMIN_SCHEMA:
            db.execute(statement)
        for token_id, secret, role, label, created in (
            ("0a1b2c3d", secrets[0], "editor", "Sở KH&ĐT", "2026-01-05T02:00:00Z"),
            ("9f8e7d6c", secrets[1], "admin", "chief", "2026-01-05T02:01:00Z"),
            ("5e5e5e5e", secrets[2], "editor", "left", "2026-01-05T02:02:00Z"),
        ):
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)",
                (token_id, _hash(secret), role, label, created),
            )
        db.execute(
            "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
            ("2026-02-01T00:00:00Z", "5e5e5e5e"),
        )
        for at, actor, action, layer, details in AUDIT:
            db.execute(
                "INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                (at, actor, action, layer, json.dumps(details, ensure_ascii=False)),
            )
    return secrets


def write_shortlists_file(data_dir: Path, lists: list[OldList], with_last_use: bool = True) -> None:
    with closing(_connect(data_dir / "shortlists.sqlite")) as db:
        db.execute(SHORTLISTS_SCHEMA if with_last_use else SHORTLISTS_SCHEMA_BEFORE_EXPIRY)
        for old in lists:
            row: tuple[Any, ...] = (
                old.id, _hash(old.key), old.name, "Họp với nhà đầu tư",
                json.dumps(old.items, ensure_ascii=False), old.client,
                "2026-01-02T00:00:00Z", old.updated,
            )  # fmt: skip
            if with_last_use:
                db.execute(
                    "INSERT INTO shortlists VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (*row, old.used)
                )
            else:
                db.execute("INSERT INTO shortlists VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)


def old_lists(recent: str, long_ago: str) -> list[OldList]:
    """A list used `recent`ly, and one last used `long_ago` (changed even earlier)."""
    return [
        OldList(
            "Kx9_recent-list-id-0001", "old-edit-key-recent", "Đất công nghiệp Mai Sơn",
            [{"collection": "grid", "id": "G-1-2"}, {"collection": "grid", "id": "G-0-0"},
             {"collection": "roads", "id": "GONE"}],
            "203.0.113.7", "2026-01-03T00:00:00Z", recent,
        ),
        OldList(
            "Kx9_forgotten-list-0002", "old-edit-key-forgotten", "Cũ", [],
            "203.0.113.7", long_ago, long_ago,
        ),
    ]  # fmt: skip


def old_installation(data_dir: Path, recent: str, long_ago: str) -> OldInstallation:
    """Both files of an earlier release in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    editor, admin, revoked = write_admin_file(data_dir)
    lists = old_lists(recent, long_ago)
    write_shortlists_file(data_dir, lists)
    return OldInstallation(data_dir, editor, admin, revoked, lists)
